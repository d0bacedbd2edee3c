"""Histogram, CDF and transfer-curve figures (matplotlib, no Qt).

Computing the curves (:func:`histogram_panel_data`, any thread) is kept
apart from drawing them (:func:`draw_histogram_panel`, the GUI thread), so
the napari widget computes in a worker and draws on the GUI thread, and
:func:`plot_histograms` does both for scripts. matplotlib is imported only
when something is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._api import histogram
from ._backend import is_cupy_array, is_lazy_array, to_backend
from ._density import Density, density_from_histogram
from ._stats import HistogramStats, stats_from_counts
from ._validate import as_image

#: Histograms with more bins are summed into this many for drawing.
MAX_DRAWN_BINS = 512
CHANNEL_COLORS = ("#e8483f", "#4cb050", "#3f8ee8")
REFERENCE_COLOR = "#6fb3e8"


@dataclass
class Curves:
    """What is drawn for one image (or one colour channel)."""

    label: str
    color: str
    edges: np.ndarray
    counts: np.ndarray
    cdf: np.ndarray
    stats: HistogramStats
    density: Density | None = None


@dataclass
class PanelData:
    """Everything the panel draws: before, after (optional) and the transfer curve."""

    before: list[Curves]
    after: list[Curves] = field(default_factory=list)
    transfer: list[tuple[np.ndarray, np.ndarray, str]] = field(default_factory=list)
    transfer_label: str = ""
    title: str = ""
    reference: list[Curves] = field(default_factory=list)  # what the image was matched to, if anything


def _curves(image, label, color, nbins, bw_method) -> Curves:
    """One histogram pass; the CDF, the density and the numbers come from its counts."""
    # where the image lives: a plot never depends on NAPARI_HISTEQ_BACKEND or moves data to a GPU
    counts, edges = histogram(image, nbins=nbins, backend="cupy" if is_cupy_array(image) else "numpy")
    counts, edges = to_backend(np, counts), to_backend(np, edges)
    stats = stats_from_counts(counts, edges, is_float=image.dtype.kind == "f")
    per_level = image.dtype.kind in "ui" and edges[-1] - edges[0] == len(counts)
    positions = edges[:-1] if per_level else (edges[:-1] + edges[1:]) / 2  # where the pixels sit
    density = density_from_histogram(counts, positions, bw_method=bw_method)
    return Curves(label, color, edges, counts, np.cumsum(counts) / counts.sum(), stats, density)


def _channels(image, rgb):
    image = image if is_lazy_array(image) else as_image(image)
    if rgb:
        return [(image[..., c], name, CHANNEL_COLORS[c]) for c, name in enumerate(("red", "green", "blue"))]
    return [(image, None, None)]


#: Pixels per block when the transfer curve is read off the data (bounds its temporaries to ~32 MiB).
CURVE_BLOCK_PIXELS = 1 << 20


def _flat(array):
    """The pixels in C order, sliceable into blocks without copying the whole array (an RGB channel)."""
    if is_cupy_array(array) or array.flags.c_contiguous:
        return array.reshape(-1)
    return array.flat


def _mean_output_per_input_bin(before, after, edges):
    """The transfer curve read off the data: the mean output of each input bin.

    Block by block, so the extra memory is O(bins) plus one block's
    temporaries, whatever the image's size.
    """
    nbins = len(edges) - 1
    per_level = before.dtype.kind in "ui" and edges[-1] - edges[0] == nbins  # one bin per level: value - first
    counts = np.zeros(nbins, np.int64)
    sums = np.zeros(nbins, np.float64)
    flat_before, flat_after = _flat(before), _flat(after)
    for start in range(0, before.size, CURVE_BLOCK_PIXELS):
        b = np.asarray(to_backend(np, flat_before[start : start + CURVE_BLOCK_PIXELS]))
        a = np.asarray(to_backend(np, flat_after[start : start + CURVE_BLOCK_PIXELS]), dtype=np.float64)
        if per_level:
            index = b.astype(np.int64) - int(edges[0])
        else:
            index = np.clip(np.searchsorted(edges, b, side="right") - 1, 0, nbins - 1)
        finite = np.isfinite(a)
        if b.dtype.kind == "f":
            finite &= np.isfinite(b)
        if not finite.all():
            index, a = index[finite], a[finite]
        counts += np.bincount(index, minlength=nbins)
        sums += np.bincount(index, weights=a, minlength=nbins)
    occupied = counts > 0
    return edges[:-1][occupied], sums[occupied] / counts[occupied]


def histogram_panel_data(before, after=None, *, rgb=False, nbins=None, title="", bw_method="scott",
                         reference=None) -> PanelData:
    """Compute the curves of the histogram panel (no drawing; any thread).

    Parameters
    ----------
    before : array
        The source image (or the displayed plane of it); dask and zarr
        arrays are reduced chunk by chunk.
    after : array, optional
        Its equalised counterpart, same shape. Without it the transfer
        curve shows what the standard equalisation would do.
    rgb : bool
        The last axis holds colour channels: one curve per channel.
    nbins : int, optional
        Bins for float images, as in :func:`histogram`.
    title : str
        Shown above the plots.
    bw_method : {"scott", "silverman"} or float
        The density curves' bandwidth rule (see :func:`plot_histograms`).
    reference : array, optional
        The image ``before`` was matched to (:func:`match_histograms`): its
        histogram and CDF are drawn too, which ``after`` should follow.

    Returns
    -------
    data : PanelData
    """
    data = PanelData(before=[], title=title)
    after_channels = _channels(after, rgb) if after is not None else None
    for c, (channel, name, color) in enumerate(_channels(before, rgb)):
        suffix = f" ({name})" if name else ""
        curves = _curves(channel, f"before{suffix}", color or "#8c8c8c", nbins, bw_method)
        data.before.append(curves)
        after_channel = None if after_channels is None else after_channels[c][0]
        if after_channel is not None:
            data.after.append(_curves(after_channel, f"after{suffix}", color or "#f0a030", nbins, bw_method))
        if after_channel is not None and after_channel.shape == channel.shape and not is_lazy_array(channel):
            x, y = _mean_output_per_input_bin(channel, after_channel, curves.edges)
            data.transfer.append((x, y, color or "#f0a030"))
            data.transfer_label = "input level -> output level (from the data)"
        else:  # the standard transform, from the counts already made: no new pass
            low, high = _dtype_range(channel.dtype)
            data.transfer.append((curves.edges[:-1], low + curves.cdf * (high - low), color or "#f0a030"))
            data.transfer_label = "what standard equalisation would do"
    if reference is not None:
        for channel, name, _ in _channels(reference, rgb):
            label = f"reference ({name})" if name else "reference"
            data.reference.append(_curves(channel, label, REFERENCE_COLOR, nbins, bw_method))
    return data


def _dtype_range(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 0.0, 1.0
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


def _drawn_bins(edges, counts):
    """Sum neighbouring bins so that at most MAX_DRAWN_BINS are drawn."""
    factor = -(-len(counts) // MAX_DRAWN_BINS)
    if factor == 1:
        return edges, counts
    padded = np.pad(counts, (0, (-len(counts)) % factor))
    merged = padded.reshape(-1, factor).sum(axis=1)
    merged_edges = np.append(edges[:-1:factor], edges[-1])
    return merged_edges[: len(merged) + 1], merged


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
                         background="white", vertical=False):
    """Draw ``data`` into ``figure`` (cleared first): histograms (with their density curves), CDFs,
    transfer curve.

    ``vertical`` stacks the three plots (for a narrow dock) instead of a row.
    """
    figure.clear()
    figure.set_facecolor(background)
    axes = figure.subplots(3, 1) if vertical else figure.subplots(1, 3)
    hist_ax, cdf_ax, transfer_ax = axes
    for curves in data.before + data.after:
        edges, counts = _drawn_bins(curves.edges, curves.counts)
        is_before = any(curves is c for c in data.before)
        hist_ax.stairs(counts, edges, color=curves.color, alpha=0.5 if is_before else 0.9, fill=is_before,
                       label=curves.label)
        cdf_ax.plot(curves.edges[1:], curves.cdf, "-" if is_before else "--", color=curves.color,
                    label=curves.label)
        if density and curves.density is not None:  # in pixels per drawn bin, to lie over the bars
            scale = curves.counts.sum() * (edges[1] - edges[0])
            hist_ax.plot(curves.density.positions, curves.density.values * scale, "-" if is_before else "--",
                         color=curves.color, linewidth=1.2, label=f"{curves.label}: density")
    for curves in data.reference:  # the distribution the result was matched to: outlines only
        edges, counts = _drawn_bins(curves.edges, curves.counts)
        hist_ax.stairs(counts, edges, color=curves.color, linestyle=":", label=curves.label)
        cdf_ax.plot(curves.edges[1:], curves.cdf, ":", color=curves.color, linewidth=1.5, label=curves.label)
    reference = (data.after or data.before)[0]
    edges, counts = _drawn_bins(reference.edges, reference.counts)
    hist_ax.axhline(counts.sum() / len(counts), color=foreground, linestyle=":", linewidth=1, label="uniform")
    low, high = reference.edges[0], reference.edges[-1]
    for curves in data.before[:1]:
        low, high = min(low, curves.edges[0]), max(high, curves.edges[-1])
    cdf_ax.plot([low, high], [0, 1], ":", color=foreground, linewidth=1, label="uniform")
    for x, y, color in data.transfer:
        transfer_ax.plot(x, y, color=color)
    if log:
        hist_ax.set_yscale("log")
    hist_ax.set_title("histogram" + (" (log)" if log else ""), fontsize="small")
    cdf_ax.set_title("cumulative distribution", fontsize="small")
    transfer_ax.set_title("transfer curve", fontsize="small")
    transfer_ax.set_xlabel(data.transfer_label, fontsize="x-small")
    hist_ax.legend(fontsize="x-small", frameon=False, labelcolor=foreground)
    for ax in axes:
        ax.set_facecolor(background)
        ax.tick_params(colors=foreground, labelsize="x-small")
        ax.title.set_color(foreground)
        ax.xaxis.label.set_color(foreground)
        for spine in ax.spines.values():
            spine.set_color(foreground)
    if data.title:
        figure.suptitle(data.title, color=foreground, fontsize="small")
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    return axes


def plot_histograms(before, after=None, path=None, *, rgb=False, log=False, nbins=None, title="", density=True,
                    bw_method="scott", reference=None):
    """Histograms with density curves, cumulative distributions and transfer curve, before and after.

    The headless version of the napari Histogram widget: what the user's
    document plots, with the ideal uniform distribution for reference and
    the numbers (:func:`histogram_stats`) printed beneath.

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
        the user's document does (seaborn's ``distplot``). It is computed
        from the histogram (O(bins), never O(pixels)) and for 8/16-bit
        images equals ``scipy.stats.gaussian_kde`` of the pixels.
    bw_method : {"scott", "silverman"} or float
        The bandwidth rule, as scipy and seaborn name it: the pixels'
        standard deviation times ``n ** (-1/5)`` (Scott), ``(3n/4) ** (-1/5)``
        (Silverman), or times the number given.
    reference : array, optional
        The image ``before`` was matched to: its histogram and CDF are drawn
        dotted, for ``after`` to follow.

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
                                reference=reference)
    return figure_from_panel(data, path, log=log, density=density)


def figure_from_panel(data: PanelData, path=None, *, log=False, density=True):
    """The :func:`plot_histograms` figure for curves already computed (saved to ``path`` if given)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.6))
    draw_histogram_panel(figure, data, log=log, density=density)
    figure.text(0.01, 0.01, stats_text(data), fontsize="x-small", family="monospace", va="bottom")
    figure.subplots_adjust(bottom=0.2 + 0.035 * len(data.before + data.after))
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
