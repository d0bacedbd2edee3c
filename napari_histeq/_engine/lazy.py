"""dask and zarr arrays: the histogram as a reduction over chunks, the table applied lazily.

Fitting counts every chunk once (one pass over the pixels for 8/16-bit
integers; floats and 32/64-bit integers first need their range, one more
pass) and sums the per-chunk counts; the table is then built on the client.
The result is a lazy dask array with the input's chunks: computing a plane
reads only that plane's chunks and never recomputes the histogram. The
graph holds module-level functions and plain dataclasses only, so it runs
unchanged on a ``dask.distributed`` cluster.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from .backend import as_dask, is_cupy_array, is_lazy_array, to_backend
from .binning import binning_for, check_counter_memory
from .groups import GroupLayout
from .pipeline import Tables, apply, check_something_counted, counts_with_binning, fit_from_counts, group_edges
from .request import Request


def lazy_mask(mask, image):
    """The mask as a dask array with the image's shape and chunks (or None)."""
    if mask is None:
        return None
    import dask.array as da

    mask = as_dask(mask) if is_lazy_array(mask) else da.from_array(np.asarray(mask))
    if mask.dtype.kind != "b":
        mask = mask != 0
    return da.broadcast_to(mask, image.shape).rechunk(image.chunks)


def counted_range(image, mask, axis):
    """Min and max of the pixels each group's histogram counts (finite, masked): one pass, exact.

    Two lists in group order, None for a group with nothing to count.
    """
    import dask
    import dask.array as da

    if image.dtype.kind == "f":
        keep = da.isfinite(image) if mask is None else da.isfinite(image) & mask
        values = da.where(keep, image, np.nan)
        with warnings.catch_warnings():  # an all-NaN group is reported as None below
            warnings.simplefilter("ignore", RuntimeWarning)
            lows, highs = dask.compute(da.nanmin(values, axis=axis), da.nanmax(values, axis=axis))
        return ([None if np.isnan(v) else float(v) for v in np.ravel(lows)],
                [None if np.isnan(v) else float(v) for v in np.ravel(highs)])
    info = np.iinfo(image.dtype)
    low_values = image if mask is None else da.where(mask, image, info.max)
    high_values = image if mask is None else da.where(mask, image, info.min)
    counted = True if mask is None else mask.any(axis=axis)
    lows, highs, counted = dask.compute(low_values.min(axis=axis), high_values.max(axis=axis), counted)
    counted = np.broadcast_to(counted, np.shape(lows)).ravel()
    return ([int(v) if c else None for v, c in zip(np.ravel(lows), counted)],
            [int(v) if c else None for v, c in zip(np.ravel(highs), counted)])


def _chunk_groups(binning, axis, shape, block_info):
    """The binning of the groups one chunk holds (``block_info`` locates it), or the shared one."""
    if binning.shared or block_info is None:
        return binning
    location = block_info[0]["array-location"]
    layout = GroupLayout(tuple(shape), axis)
    numbers = np.arange(len(binning.start)).reshape(layout.group_shape)
    return binning.select(numbers[tuple(slice(*location[ax]) for ax in layout.group_axes)].ravel())


def _block_counts(block, *mask_block, binning, axis, backend, shape, block_info=None):
    """Counts of one chunk, shaped for summing: 1 along histogram axes, then the bins."""
    binning = _chunk_groups(binning, axis, shape, block_info)
    layout = GroupLayout(block.shape, axis)
    counts = counts_with_binning(block, mask_block[0] if mask_block else None, layout, binning, backend)
    shape = tuple(1 if ax in axis else block.shape[ax] for ax in range(block.ndim)) + (binning.nbins,)
    return counts.reshape(shape)


def lazy_counts(image, mask, layout: GroupLayout, binning, backend):
    """A dask array of counts, ``group_shape + (nbins,)``: per-chunk counts, summed."""
    import dask.array as da

    check_counter_memory(layout.n_groups, binning.nbins)
    chunks = tuple(
        (1,) * len(image.chunks[ax]) if ax in layout.axis else image.chunks[ax] for ax in range(image.ndim)
    ) + ((binning.nbins,),)
    arrays = [image] if mask is None else [image, mask]
    partial = da.map_blocks(
        _block_counts, *arrays, binning=binning, axis=layout.axis, backend=backend, shape=image.shape,
        dtype=np.int64, chunks=chunks, new_axis=image.ndim, meta=np.empty((0,) * (image.ndim + 1), np.int64),
    )
    return partial.sum(axis=layout.axis)


def _lazy_counts(request: Request):
    """Host counts ``(groups, nbins)`` of a lazy request's image, its binning and its (lazy) mask."""
    image, layout = request.image, request.layout
    mask = lazy_mask(request.mask, image)
    binning = binning_for(image.dtype, request.nbins, lambda: counted_range(image, mask, layout.axis),
                          masked=mask is not None)
    counts = to_backend(np, lazy_counts(image, mask, layout, binning, request.backend).compute())
    return counts.reshape(layout.n_groups, binning.nbins), binning


def fit_lazy(request: Request, transfer=None) -> Tables:
    """Fit a lazy request's image; the histogram is computed here, once."""
    counts, binning = _lazy_counts(request)
    return fit_from_counts(counts, binning, request, transfer)


def _apply_block(block, *, fitted, block_info=None):
    """Map one chunk with its groups' tables."""
    if fitted.lut.ndim > 1:
        location = block_info[0]["array-location"]
        layout = GroupLayout(block_info[None]["shape"], fitted.axis)
        tables = fitted.lut[tuple(slice(*location[ax]) for ax in layout.group_axes)]
        binning = _chunk_groups(fitted.binning, fitted.axis, block_info[None]["shape"], block_info)
        fitted = dataclasses.replace(fitted, lut=tables, binning=binning)
    return apply(fitted, block)


def apply_lazy(fitted: Tables, image):
    """``fitted`` applied chunk by chunk: a lazy dask array with the input's chunks."""
    image = as_dask(image)
    fitted.check_dtype(image.dtype)
    fitted.layout_for(image.shape)  # groups must match now, not when a chunk is computed
    out_dtype = fitted.lut.dtype
    meta = image._meta.astype(out_dtype) if is_cupy_array(image._meta) else np.empty((0,) * image.ndim, out_dtype)
    return image.map_blocks(_apply_block, fitted=fitted, dtype=out_dtype, meta=meta)


def lazy_histogram(request: Request):
    """Counts ``group_shape + (nbins,)`` and edges of a lazy request's image (computed)."""
    counts, binning = _lazy_counts(request)
    check_something_counted(counts, request.mask is not None)
    return counts.reshape(request.layout.group_shape + (binning.nbins,)), group_edges(binning, request.layout)
