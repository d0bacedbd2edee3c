"""What a histogram figure shows, computed without drawing: curves, CDFs, densities, transfer curve.

:func:`histogram_panel_data` runs on any thread (the napari widget computes in a
worker); ``_plot`` draws what it returns on the GUI thread or into a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._engine.backend import is_cupy_array, is_lazy_array, to_backend
from .._engine.validate import as_image
from .._equalization.equalize import histogram
from .density import Density, density_from_histogram
from .stats import HistogramStats, stats_from_counts

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
    #: per transfer curve, its lowest and highest outputs per input bin (None: a predicted curve)
    transfer_band: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)
    #: the input values a contrast stretch mapped to the output's ends, drawn on the before-histogram
    limits: tuple[float, float] | None = None
    #: a standardisation's landmarks: the image's own and the standard scale's, drawn on the transfer curve
    landmarks: tuple[np.ndarray, np.ndarray] | None = None


def _curves(image, label, color, nbins, bw_method) -> Curves:
    """One histogram pass; the CDF, the density and the numbers come from its counts."""
    # where the image lives: a plot never depends on NAPARI_HISTEQ_BACKEND or moves data to a GPU
    counts, edges = histogram(image, nbins=nbins, backend="cupy" if is_cupy_array(image) else "numpy")
    counts, edges = to_backend(np, counts), to_backend(np, edges)
    stats = stats_from_counts(counts, edges, is_float=image.dtype.kind == "f")
    per_level = image.dtype.kind in "ui" and edges[-1] - edges[0] == len(counts)
    positions = edges[:-1] if per_level else edges[:-1] / 2 + edges[1:] / 2  # where the pixels sit (no overflow)
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
    """The transfer curve read off the data: the mean, lowest and highest output of each input bin.

    Block by block, so the extra memory is O(bins) plus one block's
    temporaries, whatever the image's size.
    """
    nbins = len(edges) - 1
    per_level = before.dtype.kind in "ui" and edges[-1] - edges[0] == nbins  # one bin per level: value - first
    counts = np.zeros(nbins, np.int64)
    sums = np.zeros(nbins, np.float64)
    lowest = np.full(nbins, np.inf)
    highest = np.full(nbins, -np.inf)
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
        np.minimum.at(lowest, index, a)
        np.maximum.at(highest, index, a)
    occupied = counts > 0
    return edges[:-1][occupied], sums[occupied] / counts[occupied], (lowest[occupied], highest[occupied])


def histogram_panel_data(before, after=None, *, rgb=False, nbins=None, title="", bw_method="scott",
                         reference=None, limits=None, landmarks=None) -> PanelData:
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
    limits : (float, float), optional
        The input values a contrast stretch mapped to the ends of its output
        (:func:`napari_histeq.stretch_limits`): drawn on the before-histogram.
    landmarks : (array, array), optional
        A standardisation's landmarks, the image's own and where the standard
        scale puts them (:meth:`napari_histeq.Standardization.landmarks_of`):
        drawn as points on the transfer curve.

    Returns
    -------
    data : PanelData
    """
    data = PanelData(before=[], title=title, limits=None if limits is None else tuple(float(v) for v in limits),
                     landmarks=None if landmarks is None else tuple(np.asarray(v, np.float64) for v in landmarks))
    after_channels = _channels(after, rgb) if after is not None else None
    for c, (channel, name, color) in enumerate(_channels(before, rgb)):
        suffix = f" ({name})" if name else ""
        curves = _curves(channel, f"before{suffix}", color or "#8c8c8c", nbins, bw_method)
        data.before.append(curves)
        after_channel = None if after_channels is None else after_channels[c][0]
        if after_channel is not None:
            data.after.append(_curves(after_channel, f"after{suffix}", color or "#f0a030", nbins, bw_method))
        if after_channel is not None and after_channel.shape == channel.shape and not is_lazy_array(channel):
            x, y, band = _mean_output_per_input_bin(channel, after_channel, curves.edges)
            data.transfer.append((x, y, color or "#f0a030"))
            data.transfer_band.append(band)
            data.transfer_label = "transfer curve"
        else:  # the standard transform, from the counts already made: no new pass
            low, high = _dtype_range(channel.dtype)
            data.transfer.append((curves.edges[:-1], low + curves.cdf * (high - low), color or "#f0a030"))
            data.transfer_band.append(None)
            data.transfer_label = "what standard equalisation would do"  # no result yet: predicted
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
