"""Numbers that describe a histogram: how spread, how uniform."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._engine.backend import is_lazy_array, to_backend
from .._engine.validate import as_image
from .._engine.wrapped import unwrap
from .._equalization.equalize import histogram
from .density import power_of_two_scale


@dataclass(frozen=True)
class HistogramStats:
    """Summary of an image's histogram (see :func:`histogram_stats`)."""

    entropy_bits: float
    occupied_levels: int
    occupied_fraction: float
    mean: float
    std: float
    ks_uniform: float
    pixels: int

    def as_dict(self) -> dict:
        return asdict(self)


def histogram_stats(image, *, nbins=None, mask=None, backend="auto") -> HistogramStats:
    """Entropy, occupied levels, mean, spread and distance to uniform of an image.

    Parameters
    ----------
    image : array
        Integer or float image (NumPy or CuPy).
    nbins, mask, backend
        As for :func:`histogram`.

    Returns
    -------
    stats : HistogramStats
        ``entropy_bits``: Shannon entropy of the histogram in bits (at most
        ``log2(occupied_levels)``); ``occupied_levels`` and
        ``occupied_fraction``: bins holding at least one pixel, as a count
        and as a fraction of all bins; ``mean`` and ``std`` of the counted
        pixel values (bin values for binned data); ``ks_uniform``: the
        Kolmogorov-Smirnov distance between the histogram's cumulative
        distribution and the uniform one over the whole bin range (the
        dtype's range for 8- and 16-bit images), 0 for perfectly flat.

    Notes
    -----
    Equalisation maps whole levels to whole levels: it can move levels
    apart but never split one, so ``occupied_levels`` never grows and the
    result is not perfectly uniform (``ks_uniform`` > 0).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import histogram_stats
    >>> stats = histogram_stats(np.array([0, 0, 255, 255], dtype=np.uint8))
    >>> stats.entropy_bits, stats.occupied_levels
    (1.0, 2)
    """
    image, mask, _ = unwrap(image, mask)  # a masked array: its valid pixels are the region of interest
    if not is_lazy_array(image):  # dask and zarr stay lazy: histogram() reduces them chunk by chunk
        image = as_image(image)
    counts, edges = histogram(image, nbins=nbins, mask=mask, backend=backend)
    return stats_from_counts(counts, edges, is_float=image.dtype.kind == "f")


def stats_from_counts(counts, edges, is_float: bool) -> HistogramStats:
    """:class:`HistogramStats` of a histogram already counted (see :func:`histogram_stats`)."""
    counts = to_backend(np, counts).astype(np.float64)
    edges = to_backend(np, edges)
    total = counts.sum()
    probability = counts / total
    occupied = probability > 0
    entropy = float(-(probability[occupied] * np.log2(probability[occupied])).sum()) + 0.0
    # Floats near the ends of float64 overflow in sums and squares: they are scaled by a power of
    # two first, which is exact, and the moments scaled back.
    scale = power_of_two_scale(edges)
    edges = edges / scale
    values = edges[:-1] / 2 + edges[1:] / 2 if is_float else edges[:-1]
    mean = float((probability * values).sum())
    std = float(np.sqrt(max((probability * (values - mean) ** 2).sum(), 0.0)))
    mean, std = mean * scale, std * scale
    empirical = np.cumsum(probability)
    if edges[-1] == edges[0]:  # a constant float image: all the mass at one value, as far from uniform as can be
        uniform = np.zeros_like(empirical)
    else:
        uniform = (edges[1:] - edges[0]) / (edges[-1] - edges[0])
    return HistogramStats(
        entropy_bits=entropy,
        occupied_levels=int(occupied.sum()),
        occupied_fraction=float(occupied.mean()),
        mean=mean,
        std=std,
        ks_uniform=float(np.max(np.abs(empirical - uniform))),
        pixels=int(total),
    )
