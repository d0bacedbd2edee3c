"""Histogram, CDF and transfer-curve figures (matplotlib, no Qt).

Computing the curves (:func:`histogram_panel_data`, any thread) is kept
apart from drawing them (:func:`draw_histogram_panel`, the GUI thread), so
the napari widget computes in a worker and draws on the GUI thread, and
:func:`plot_histograms` does both for scripts. matplotlib is imported only
when something is drawn.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .panel import PanelData, histogram_panel_data
from .spans import axis_span, drawable, drawn_bins, occupied, separate_spans

__all__ = ["draw_histogram_panel", "figure_from_panel", "histogram_panel_data", "plot_histograms", "stats_text"]

def stats_text(data: PanelData) -> str:
    """The numbers beside the plot, one line per curve."""
    lines = []
    for curves in data.before + data.after + data.reference:
        s = curves.stats
        lines.append(
            f"{curves.label}: entropy {s.entropy_bits:.2f} bits, {s.occupied_levels} levels "
            f"({100 * s.occupied_fraction:.1f}%), mean {s.mean:.4g}, std {s.std:.4g}, "
            f"KS to uniform {s.ks_uniform:.3f}"
        )
    return "\n".join(lines)


def draw_histogram_panel(figure, data: PanelData, *, log=False, density=True, foreground="black",
                         background="white", vertical=False, span="data", compact=False):
    """Draw ``data`` into ``figure`` (cleared first): histograms (with their density curves), CDFs,
    transfer curve.

    ``vertical`` stacks the three plots (for a narrow dock) instead of a row.
    ``span``: ``"data"`` fits the x-axes to the occupied values (with a
    little margin), ``"dtype"`` shows the whole range of the bins.
    ``compact``: for a short canvas, no figure title (it costs constrained
    layout about 40 pixels of height), no axis labels the titles already
    give, tighter padding and a smaller legend.
    """
    figure.clear()
    figure.set_facecolor(background)
    data, unit_note = drawable(data)
    axes = figure.subplots(3, 1) if vertical else figure.subplots(1, 3)
    hist_ax, cdf_ax, transfer_ax = axes
    x_span = axis_span(data, span)
    inputs = axis_span(replace(data, after=[], reference=[]), span)  # the before curves' own span
    separate = separate_spans(data, span, inputs)
    after_hist_ax, after_cdf_ax = hist_ax, cdf_ax
    if separate is not None:  # after (and the reference it follows) on a top axis of its own
        after_hist_ax, after_cdf_ax = hist_ax.twiny(), cdf_ax.twiny()
    for curves in data.before + data.after:
        is_before = any(curves is c for c in data.before)
        h_ax, c_ax = (hist_ax, cdf_ax) if is_before else (after_hist_ax, after_cdf_ax)
        curve_span = x_span if separate is None else separate[0 if is_before else 1]
        edges, counts = drawn_bins(curves.edges, curves.counts, curve_span)
        h_ax.stairs(counts, edges, color=curves.color, alpha=0.5 if is_before else 0.9, fill=is_before,
                    label=curves.label)
        c_ax.plot(curves.edges[1:], curves.cdf, "-" if is_before else "--", color=curves.color,
                  label=curves.label)
        if density and curves.density is not None:  # in pixels per drawn bin, to lie over the bars
            scale = curves.counts.sum() * (edges[1] - edges[0])
            h_ax.plot(curves.density.positions, curves.density.values * scale, "-" if is_before else "--",
                      color=curves.color, linewidth=1.2, label=f"{curves.label}: density")
    for curves in data.reference:  # the distribution the result was matched to: outlines only
        edges, counts = drawn_bins(curves.edges, curves.counts, x_span if separate is None else separate[1])
        after_hist_ax.stairs(counts, edges, color=curves.color, linestyle=":", label=curves.label)
        after_cdf_ax.plot(curves.edges[1:], curves.cdf, ":", color=curves.color, linewidth=1.5,
                          label=curves.label)
    reference = (data.after or data.before)[0]
    edges, counts = drawn_bins(reference.edges, reference.counts, x_span if separate is None else separate[1])
    after_hist_ax.axhline(counts.sum() / len(counts), color=foreground, linestyle=":", linewidth=1,
                          label="uniform")
    low, high = occupied([reference]) or (reference.edges[0], reference.edges[-1])
    if span == "dtype":
        low, high = reference.edges[0], reference.edges[-1]
    after_cdf_ax.plot([low, high], [0, 1], ":", color=foreground, linewidth=1, label="uniform")
    _draw_transfer(transfer_ax, data)
    if data.landmarks is not None:  # a standardisation's: where the image's own landmarks went
        transfer_ax.plot(*data.landmarks, "o", markersize=3, color=foreground, label="landmarks")
    if data.limits is not None:  # on the before axes: they are values of the input
        for ax in (hist_ax, cdf_ax):
            for x in data.limits:
                ax.axvline(x, color=foreground, linestyle="--", linewidth=1,
                           label="limits" if ax is hist_ax and x == data.limits[0] else None)
    if separate is not None:
        for ax, top in ((hist_ax, after_hist_ax), (cdf_ax, after_cdf_ax)):
            ax.set_xlim(*separate[0])
            top.set_xlim(*separate[1])
            # ticks and labels inside the plot: the top axis costs the layout no height in a short dock
            top.tick_params(axis="x", colors=reference.color, labelsize="xx-small", direction="in", pad=-9)
            top.spines["top"].set_color(reference.color)
            top.set_facecolor("none")
        after_cdf_ax.set_ylim(cdf_ax.get_ylim())
    elif x_span is not None and x_span[1] > x_span[0]:
        hist_ax.set_xlim(*x_span)
        cdf_ax.set_xlim(*x_span)
    if inputs is not None and inputs[1] > inputs[0]:
        transfer_ax.set_xlim(*inputs)
    if log:
        hist_ax.set_yscale("log")
    hist_ax.set_title("histogram" + (" (log)" if log else ""), fontsize="small")
    cdf_ax.set_title("cumulative distribution", fontsize="small")
    # short titles and labels: in a narrow dock a label wider than its plot is cut off
    predicted = data.transfer_label != "transfer curve"
    transfer_ax.set_title("predicted (standard)" if predicted else "transfer curve", fontsize="small")
    if not compact or unit_note:  # in a short dock the title says what the axes are
        transfer_ax.set_xlabel("input" + unit_note, fontsize="x-small")
        transfer_ax.set_ylabel("output", fontsize="x-small")
    if unit_note:
        for ax in (hist_ax, cdf_ax):
            ax.set_xlabel(unit_note.strip(), fontsize="x-small")
    handles = [h for ax in {hist_ax, after_hist_ax} for h in ax.get_legend_handles_labels()[0]]
    hist_ax.legend(handles=handles, fontsize="xx-small" if compact else "x-small", frameon=False,
                   labelcolor=foreground)
    for ax in axes:
        ax.set_facecolor(background)
        ax.tick_params(colors=foreground, labelsize="x-small")
        ax.title.set_color(foreground)
        ax.xaxis.label.set_color(foreground)
        ax.yaxis.label.set_color(foreground)
        for spine in ax.spines.values():
            spine.set_color(foreground)
    if data.title and not compact:
        figure.suptitle(data.title, color=foreground, fontsize="small")
    engine = figure.get_layout_engine()
    if engine is None:
        figure.tight_layout()
    elif compact and hasattr(engine, "set"):  # constrained layout: its default padding is a tenth of a short canvas
        engine.set(h_pad=1 / 72, w_pad=2 / 72, hspace=0.0, wspace=0.02)
    return axes


def _draw_transfer(ax, data: PanelData):
    """The transfer curve; where one input value was mapped to several outputs (each frame of a
    bleach-corrected series its own table), the band from the lowest to the highest output too.
    """
    for (x, y, color), band in zip(data.transfer, data.transfer_band or [None] * len(data.transfer)):
        if band is not None:
            low, high = band
            spread = np.nanmax(high - low) if len(high) else 0.0
            if spread > 1e-3 * max(float(np.nanmax(np.abs(y))) if len(y) else 0.0, 1.0):
                ax.fill_between(x, low, high, color=color, alpha=0.25, linewidth=0, label="lowest..highest")
        ax.plot(x, y, color=color)


def plot_histograms(before, after=None, path=None, *, rgb=False, log=False, nbins=None, title="", density=True,
                    bw_method="scott", reference=None, span="data", limits=None, landmarks=None):
    """Histograms with density curves, cumulative distributions and transfer curve, before and after.

    The headless version of the napari Histogram widget: the histograms and
    their densities, the cumulative distributions with the ideal uniform one
    for reference, the transfer curve, and the numbers
    (:func:`histogram_stats`) printed beneath.

    Parameters
    ----------
    before : array
        The source image.
    after : array, optional
        The equalised image (same shape). Without it the transfer curve
        shows what the standard equalisation would do.
    path : str or Path, optional
        Save the figure there (PNG, PDF, SVG, ... by extension).
    rgb : bool
        The last axis holds colour channels.
    log : bool
        Log-scale counts.
    nbins : int, optional
        Bins for float images.
    title : str
    density : bool
        Draw each histogram's Gaussian kernel density estimate over it, as
        seaborn's ``distplot`` does. It is computed
        from the histogram (O(bins), never O(pixels)) and for 8/16-bit
        images equals ``scipy.stats.gaussian_kde`` of the pixels.
    bw_method : {"scott", "silverman"} or float
        The bandwidth rule, as scipy and seaborn name it: the pixels'
        standard deviation times ``n ** (-1/5)`` (Scott), ``(3n/4) ** (-1/5)``
        (Silverman), or times the number given.
    reference : array, optional
        The image ``before`` was matched to: its histogram and CDF are drawn
        dotted, for ``after`` to follow.
    span : {"data", "dtype"}
        The x-axes: the values the images occupy, with a little margin (a
        12-bit camera image in a 16-bit container fills the plot), or the
        whole range of the dtype (of the bins, for floats).
    limits : (float, float), optional
        The limits of a contrast stretch (:func:`napari_histeq.stretch_limits`):
        dashed lines on the before-histogram and its CDF.
    landmarks : (array, array), optional
        A standardisation's landmarks, the image's own and the standard
        scale's (:meth:`napari_histeq.Standardization.landmarks_of`): points
        on the transfer curve.

    Returns
    -------
    figure : matplotlib.figure.Figure

    Examples
    --------
    >>> from napari_histeq import dark_xray, equalize, plot_histograms
    >>> image = dark_xray()
    >>> figure = plot_histograms(image, equalize(image))
    >>> len(figure.axes)
    3
    """
    data = histogram_panel_data(before, after, rgb=rgb, nbins=nbins, title=title, bw_method=bw_method,
                                reference=reference, limits=limits, landmarks=landmarks)
    return figure_from_panel(data, path, log=log, density=density, span=span)


def figure_from_panel(data: PanelData, path=None, *, log=False, density=True, span="data"):
    """The :func:`plot_histograms` figure for curves already computed (saved to ``path`` if given)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.6))
    draw_histogram_panel(figure, data, log=log, density=density, span=span)
    figure.text(0.01, 0.01, stats_text(data), fontsize="x-small", family="monospace", va="bottom")
    figure.subplots_adjust(bottom=0.2 + 0.035 * len(data.before + data.after))
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
