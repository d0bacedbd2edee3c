"""Fits beyond one image: pooled over many images."""

from __future__ import annotations

import numpy as np

from .._engine.backend import to_backend
from .._engine.binning import binning_for
from .._engine.lazy import counted_range, lazy_counts, lazy_mask
from .._engine.pipeline import check_something_counted, counts_with_binning, fit_from_counts
from .._engine.pipeline import counted_range as in_memory_range
from .._engine.request import request_for
from .equalize import Equalization, Histogram
from .variants import check_variant


def fit_equalization_pooled(images, *, variant="standard", nbins=None, masks=None, out_range="dtype",
                            backend="auto") -> Equalization:
    """Fit one equalisation on many images: their histograms pooled, one table for all of them.

    The frames of a time lapse, the wells of a plate, the scans of a study: every image counts
    with the same binning (the dtype's levels for 8/16-bit images; for others the range of all
    the counted pixels), the counts are summed, and one table is built from the sum, as if the
    images were one. Each image is read once (twice for floats and 32/64-bit integers: their
    range first); dask and zarr images chunk by chunk.

    Parameters
    ----------
    images : sequence of arrays
        Of one dtype; any shapes.
    variant, nbins, out_range, backend
        As for :func:`napari_histeq.equalize`.
    masks : sequence of arrays, optional
        One per image (None for an image counted whole): the pixels each contributes.

    Returns
    -------
    fitted : Equalization
        Apply it to any of the images, or to others of the dtype; save it with
        :meth:`~napari_histeq.Equalization.save`.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import fit_equalization, fit_equalization_pooled
    >>> day1, day2 = np.uint8([[0, 0], [1, 3]]), np.uint8([[3, 3, 3, 1]])
    >>> pooled = fit_equalization_pooled([day1, day2])
    >>> np.array_equal(pooled.lut, fit_equalization(np.concatenate([day1.ravel(), day2.ravel()])).lut)
    True
    """
    transfer = check_variant(variant)
    counts, binning, requests = pooled_counts(images, transfer=transfer, nbins=nbins, masks=masks,
                                              out_range=out_range, backend=backend)
    return Equalization._of(fit_from_counts(counts, binning, requests[0], transfer))


def pooled_histogram(images, *, nbins=None, masks=None, backend="auto") -> Histogram:
    """One histogram of many images, their counts summed with one binning: a reference for
    :func:`napari_histeq.match_histograms` built from a whole study.

    Parameters
    ----------
    images : sequence of arrays
        Of one dtype; any shapes.
    nbins, backend
        As for :func:`napari_histeq.histogram` (floats are binned over all the images' range).
    masks : sequence of arrays, optional
        One per image (None: the whole image): the pixels each contributes.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import match_histograms, pooled_histogram
    >>> atlas = pooled_histogram([np.uint8([10, 20]), np.uint8([20, 30, 40])])
    >>> int(atlas.counts[20]), int(atlas.counts.sum())
    (2, 5)
    >>> match_histograms(np.uint8([0, 1, 2, 3, 4]), atlas)
    array([10, 15, 20, 30, 40], dtype=uint8)
    """
    counts, binning, _ = pooled_counts(images, nbins=nbins, masks=masks, backend=backend)
    return Histogram(counts[0], binning.edges)


def pooled_counts(images, *, transfer=None, nbins=None, masks=None, out_range="dtype", backend="auto"):
    """``(counts (1, nbins), binning, requests)`` of many images counted with one binning, summed."""
    images = list(images)
    if not images:
        raise ValueError("give at least one image to fit on")
    masks = [None] * len(images) if masks is None else list(masks)
    if len(masks) != len(images):
        raise ValueError(f"{len(masks)} masks for {len(images)} images: one per image (None: the whole image)")
    dtypes = {np.dtype(image.dtype).newbyteorder("=") for image in images}
    if len(dtypes) > 1:
        raise TypeError(f"one table needs one dtype; these images are {sorted(str(d) for d in dtypes)}")
    requests = [request_for(image, nbins=nbins, mask=mask, backend=backend, transfer=transfer, out_range=out_range)
                for image, mask in zip(images, masks)]
    masked = any(mask is not None for mask in masks)

    def pooled_range():
        ranges = [_counted_range(request) for request in requests]
        lows = [low for low, _ in ranges if low is not None]
        highs = [high for _, high in ranges if high is not None]
        return ([min(lows)] if lows else [None]), ([max(highs)] if highs else [None])

    binning = binning_for(dtypes.pop(), requests[0].nbins, pooled_range, masked)
    counts = sum(_counts(request, binning) for request in requests)
    check_something_counted(counts, masked)
    return counts, binning, requests


def _counted_range(request):
    """The counted pixels' min and max of one image (None, None when it counts none)."""
    if request.lazy:
        lows, highs = counted_range(request.image, lazy_mask(request.mask, request.image), None)
    else:
        lows, highs = in_memory_range(request)
    return lows[0], highs[0]


def _counts(request, binning):
    """One image's counts ``(1, nbins)`` with the pooled binning."""
    if request.lazy:
        counts = lazy_counts(request.image, lazy_mask(request.mask, request.image), request.layout, binning,
                             request.backend)
    else:
        counts = counts_with_binning(request.image, request.mask, request.layout, binning, request.backend)
    return np.asarray(to_backend(np, counts)).reshape(1, -1)  # the lazy path gives one group as (nbins,)
