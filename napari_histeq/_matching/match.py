"""Histogram matching: the third operation, built from the same stages.

Equalisation maps an image's cumulative histogram onto a straight line;
matching maps it onto a reference's. The semantics are those of
``skimage.exposure.match_histograms``: each pixel's quantile in its image
(the share of counted pixels at or below its value) is looked up in the
reference's quantiles, interpolating linearly between the reference's
occupied values (``numpy.interp``).

8- and 16-bit images run through the pipeline (``_pipeline``, and ``_lazy``
for dask and zarr) with a ``_match_transfer.MatchTransfer`` in place of a variant: the
histogram, the kernels and the placement are the equalisation's. Floats and
32/64-bit integers need their exact distinct values, not bins: they take a
sort-based path in memory (dask and zarr: one histogram group at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._engine import accel as _accel
from .._engine import pipeline as _pipeline
from .._engine.backend import array_module, as_dask, float_to_integer, is_lazy_array, module_of, to_backend
from .._engine.binning import nothing_to_count
from .._engine.groups import GroupLayout
from .._engine.lazy import apply_lazy, fit_lazy, lazy_mask
from .._engine.request import request_for
from .._engine.validate import as_image, check_mask, dtype_range, is_level_dtype, normalize_axis, output_dtype
from .._engine.wrapped import array_contract, unwrap
from .._equalization.equalize import Histogram, histogram
from .itk import match_itk
from .transfer import FijiMatchTransfer, MatchTransfer


@dataclass(frozen=True)
class Reference:
    """A reference distribution: its occupied values and their cumulative shares."""

    values: np.ndarray
    quantiles: np.ndarray
    dtype: np.dtype


def reference_of(reference, mask=None) -> Reference:
    """The distribution of a reference image (its masked, finite pixels), or of a :class:`Histogram`."""
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, Histogram):
        if mask is not None:
            raise ValueError("reference_mask applies to a reference image; a histogram is counted already")
        return _reference_from_histogram(reference)
    reference, mask, _ = unwrap(reference, mask)
    if not is_lazy_array(reference):
        try:
            reference = as_image(reference)
        except (TypeError, ValueError) as error:  # the checks speak of "image": say which one
            raise type(error)(f"reference: {error}") from None
    dtype = np.dtype(reference.dtype)
    if is_level_dtype(dtype):  # one bin per level: the histogram is exact
        return _reference_from_histogram(histogram(reference, mask=mask, backend="numpy"), dtype)
    values = to_backend(np, reference.compute() if is_lazy_array(reference) else reference).ravel()
    keep = np.isfinite(values) if dtype.kind == "f" else np.ones(values.shape, bool)
    if mask is not None:
        keep &= np.broadcast_to(to_backend(np, check_mask(mask, reference.shape)), reference.shape).ravel()
    distinct, counts = np.unique(values[keep], return_counts=True)
    if distinct.size == 0:
        raise nothing_to_count(mask is not None, " in the reference")
    return Reference(distinct.astype(np.float64), np.cumsum(counts) / counts.sum(), dtype)


def _reference_from_histogram(hist: Histogram, dtype=None) -> Reference:
    counts, edges = to_backend(np, hist.counts), to_backend(np, hist.edges)
    if counts.ndim != 1:
        raise ValueError(f"a reference histogram must be one histogram (counts of shape (nbins,)), got {counts.shape}")
    per_level = np.all(np.diff(edges) == 1)
    positions = edges[:-1] if per_level else (edges[:-1] + edges[1:]) / 2  # a bin's level, or its centre
    kind = np.dtype(dtype) if dtype is not None else np.dtype(np.int64 if per_level else np.float64)
    return reference_from_counts(counts, positions, kind)


def reference_from_counts(counts, positions, dtype, masked=False) -> Reference:
    """The distribution of one histogram: the value each bin stands for (``positions``), by its count."""
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        raise nothing_to_count(masked, " in the reference")
    return Reference(positions[occupied].astype(np.float64), np.cumsum(counts[occupied]) / counts.sum(),
                     np.dtype(dtype))


VARIANTS = ("skimage", "fiji", "itk")
#: The variants that match every quantile (the others, ITK's, match a few): bleach correction's.
QUANTILE_VARIANTS = ("skimage", "fiji")
#: ITK's defaults for its variant's parameters.
ITK_DEFAULTS = {"levels": 256, "match_points": 1, "threshold_at_mean": True}


@array_contract
def match_histograms(image, reference, *, axis=None, mask=None, reference_mask=None, channel_axis=None,
                     variant="skimage", backend="auto", levels=None, match_points=None, threshold_at_mean=None):
    """Match the histogram of ``image`` to that of ``reference``.

    Parameters
    ----------
    image : array
        Integer or float image of any shape (NumPy, CuPy, dask or zarr);
        it is never modified.
    reference : array or Histogram
        The image whose distribution ``image`` takes on, or its
        :func:`histogram` (counted once, reused for many images). With
        ``axis=None`` an array has as many dimensions as ``image``, as
        scikit-image asks; with ``axis``, any shape.
    axis : None, int or tuple of int, optional
        The axes one histogram of ``image`` spans: None matches the whole
        image at once, ``(-2, -1)`` each plane alone (all to the same
        reference), as in :func:`equalize`.
    mask, reference_mask : array of bool, optional
        Count only these pixels of the image and of the reference; every
        pixel of the image is mapped.
    channel_axis : int, optional
        Match each channel to the reference's same channel, as
        scikit-image's ``channel_axis``.
    variant : {"skimage", "fiji", "itk"}
        ``"skimage"``: scikit-image's interpolation between the
        reference's values. ``"fiji"``: Fiji's Bleach Correction (and
        ImageJ's ``HistogramMatcher``): each level takes the lowest
        reference level whose cumulative share reaches its own; uint8 and
        uint16 only. ``"itk"``: ITK's ``HistogramMatchingImageFilter``
        (SimpleITK's ``HistogramMatching``), the standard MRI
        normalisation: the histograms matched at ``match_points``
        quantiles only, linearly between them, bit for bit; the result
        keeps the image's dtype (integers truncated, as ITK casts); an
        image in memory.
    backend : {"auto", "numpy", "cupy"}
    levels, match_points, threshold_at_mean : optional
        ``variant="itk"`` only, ITK's ``NumberOfHistogramLevels`` (256),
        ``NumberOfMatchPoints`` (1) and ``ThresholdAtMeanIntensity``
        (True: pixels below the mean, an MRI's background, count in
        neither histogram).

    Returns
    -------
    matched : array
        Same shape as ``image``. Integer images keep their dtype (the
        matched values rounded to the nearest level); float images give
        float32 (float64 for float64 input). NaN stays NaN; +-inf map to
        the reference's largest and smallest values.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import match_histograms
    >>> image = np.array([0, 0, 1, 3], dtype=np.uint8)
    >>> match_histograms(image, np.array([10, 20, 30, 40], dtype=np.uint8))
    array([20, 20, 30, 40], dtype=uint8)
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    itk = {name: value for name, value in
           (("levels", levels), ("match_points", match_points), ("threshold_at_mean", threshold_at_mean))
           if value is not None}
    if itk and variant != "itk":
        raise ValueError(f"{', '.join(itk)}: parameters of variant='itk', not of {variant!r}")
    if not is_lazy_array(image):
        image = as_image(image)
    if channel_axis is not None:
        return _per_channel(image, reference, channel_axis, axis=axis, mask=mask, reference_mask=reference_mask,
                            variant=variant, backend=backend, **itk)
    if variant == "itk":
        if isinstance(reference, (Histogram, Reference)):
            raise TypeError("variant='itk' takes a reference image (ITK finds its mean, minimum and maximum)")
        return match_itk(image, reference, axis=axis, mask=mask, reference_mask=reference_mask,
                         **{**ITK_DEFAULTS, **itk})
    target = reference_of(reference, reference_mask)
    dtype = np.dtype(image.dtype)
    if (dtype.kind == "f") != (target.dtype.kind == "f"):
        raise TypeError(f"image ({dtype}) and reference ({target.dtype}) must both be integer or both float: "
                        "matching an integer image to a float distribution (or the reverse) has no level to round to")
    if variant == "fiji" and (dtype not in (np.uint8, np.uint16) or target.dtype.kind not in "ui"):
        raise TypeError(f"variant='fiji' matches uint8 and uint16 images to integer references (as Fiji), got "
                        f"{dtype} and {target.dtype}")
    if axis is None and not isinstance(reference, (Histogram, Reference)) and np.ndim(reference) != image.ndim:
        raise ValueError(f"image ({image.ndim} dimensions) and reference ({np.ndim(reference)}) must have the same "
                         "number of dimensions, as in scikit-image (an RGB image and a grey reference are a "
                         "mistake there); pass axis= to match each plane or volume to the reference, or "
                         "histogram(reference) to match to its distribution whatever its shape")
    if is_level_dtype(dtype):
        return _match_levels(image, target, axis=axis, mask=mask, backend=backend, variant=variant)
    if is_lazy_array(image):
        return match_by_groups(image, target, axis=axis, mask=mask)
    return _match_exact(image, target, axis=axis, mask=mask)


def _match_levels(image, target: Reference, *, axis, mask, backend, variant="skimage"):
    """8/16-bit images: the equalisation's pipeline with the matching transfer."""
    transfer = _transfer(target, variant, image.dtype)
    result = _pipeline.fit_and_apply_plain(image, transfer, mask=mask, axis=axis, backend=backend)
    if result is not None:
        return result
    request = request_for(image, mask=mask, axis=axis, backend=backend)  # out_range: the dtype's
    if request.lazy:
        return apply_lazy(fit_lazy(request, transfer), request.image)
    return _pipeline.fit_and_apply(request, transfer=transfer)


def _transfer(target: Reference, variant, dtype):
    kind = FijiMatchTransfer if variant == "fiji" else MatchTransfer
    return kind(target.values, target.quantiles, lo=float(dtype_range(dtype)[0]))


def match_to_group(image, group, *, axis, mask=None, variant="skimage", backend="auto"):
    """Every histogram group of an in-memory 8/16-bit image matched to its group number ``group``.

    The same result as matching to that group's pixels (and mask) as the
    reference, but every group is counted once: bleach correction's
    reference time point is one of the series' own.
    """
    request = request_for(image, mask=mask, axis=axis, backend=backend)
    masked = request.mask is not None

    def transfer_for(counts, binning):
        target = reference_from_counts(counts[group], binning.levels, request.dtype, masked)
        return _transfer(target, variant, request.dtype)

    return _pipeline.fit_and_apply(request, transfer_for=transfer_for)


def _match_exact(image, target: Reference, *, axis, mask):
    """Floats and 32/64-bit integers: each group's distinct values, sorted (in memory)."""
    xp = array_module(image)
    host = to_backend(np, image)
    layout = GroupLayout(tuple(host.shape), normalize_axis(axis, host.ndim))
    mask = check_mask(mask, host.shape)
    rows = layout.to_rows(np, host)
    mask_rows = layout.mask_rows(np, None if mask is None else to_backend(np, mask))
    out_dtype = output_dtype(host.dtype)
    out = np.empty(rows.shape, dtype=out_dtype)
    low, high = target.values[0], target.values[-1]
    for g in range(rows.shape[0]):
        row = rows[g]
        if _accel.matched_exactly(row, None if mask_rows is None else mask_rows[g], target.quantiles, target.values,
                                  low, high, lambda values: _into_dtype(values, out_dtype), out[g]):
            continue
        keep = np.isfinite(row) if row.dtype.kind == "f" else np.ones(row.shape, bool)
        if mask_rows is not None:
            keep &= mask_rows[g]
        distinct, counts = np.unique(row[keep], return_counts=True)
        if distinct.size == 0:
            raise nothing_to_count(mask is not None)
        matched = np.interp(np.cumsum(counts) / counts.sum(), target.quantiles, target.values)
        position = np.searchsorted(distinct, row, side="right") - 1  # the last counted value at or below
        result = np.where(position >= 0, matched[np.maximum(position, 0)], low)
        if row.dtype.kind == "f":
            result = np.where(np.isnan(row), np.nan, np.where(row == np.inf, high, result))
        out[g] = _into_dtype(result, out_dtype)
    return to_backend(xp, layout.from_rows(np, out))


def match_by_groups(image, target: Reference, *, axis, mask, variant="skimage"):
    """A dask array matched one block of whole histogram groups at a time, each block in its task.

    Chunks are joined along ``axis`` so that every block holds whole groups;
    a group (the whole image with ``axis=None``, a plane with ``(-2, -1)``)
    must fit in memory. Nothing is fitted up front, so nothing grows with
    the number of groups. Floats and 32/64-bit integers need it (their
    distinct values are sorted); bleach correction uses it for every dtype.
    """
    import dask.array as da

    image = as_dask(image)
    axes = normalize_axis(axis, image.ndim)
    blocks = image.rechunk({ax: -1 for ax in axes})
    arrays = [blocks] if mask is None else [blocks, lazy_mask(mask, image).rechunk(blocks.chunks)]
    out_dtype = output_dtype(image.dtype)
    matched = da.map_blocks(_match_block, *arrays, target=target, axis=axes, variant=variant, dtype=out_dtype,
                            meta=np.empty((0,) * image.ndim, out_dtype))
    return matched.rechunk(image.chunks)


def _match_block(block, *mask_block, target, axis, variant):
    """The block's groups one at a time: temporaries of one group, not of the block."""
    out = np.empty(block.shape, dtype=output_dtype(block.dtype))
    outer = [ax for ax in range(block.ndim) if ax not in axis]
    for numbers in np.ndindex(*[block.shape[ax] for ax in outer]):
        where = [slice(None)] * block.ndim
        for ax, number in zip(outer, numbers):
            where[ax] = number
        where = tuple(where)
        out[where] = match_histograms(block[where], target, mask=mask_block[0][where] if mask_block else None,
                                      variant=variant, backend="numpy")
    return out


def _into_dtype(values, dtype):
    if dtype.kind == "f":
        return values.astype(dtype)
    return float_to_integer(np.rint(values), dtype)


def _per_channel(image, reference, channel_axis, **options):
    if isinstance(reference, Histogram):
        raise TypeError("channel_axis needs a reference image with the same channels, not one histogram")
    xp = module_of(image)
    image_channels = xp.moveaxis(as_dask(image) if is_lazy_array(image) else image, channel_axis, -1)
    reference = as_dask(reference) if is_lazy_array(reference) else as_image(reference)
    reference_channels = module_of(reference).moveaxis(reference, channel_axis, -1)
    if image_channels.shape[-1] != reference_channels.shape[-1]:
        raise ValueError(f"image has {image_channels.shape[-1]} channels along axis {channel_axis} and the "
                         f"reference {reference_channels.shape[-1]}: they must match")
    axis = options.pop("axis")
    spatial_ndim = image_channels.ndim - 1
    axis = normalize_axis(axis, spatial_ndim) if axis is not None else None
    results = [match_histograms(image_channels[..., c], reference_channels[..., c], axis=axis, **options)
               for c in range(image_channels.shape[-1])]
    return xp.moveaxis(xp.stack(results, axis=-1), -1, channel_axis)
