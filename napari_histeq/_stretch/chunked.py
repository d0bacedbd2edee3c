"""The stretch of dask and zarr arrays of any dtype: each group's limits from passes over its chunks, then
every value mapped chunk by chunk, lazily.

Percentiles are exact without a sort: the counts of each counted value's
sortable key (its top 16 bits) name the bins that hold the wanted ranks, and
only those bins' values are read back and partitioned. ImageJ's limits take
the counted range (one pass) and its 256 bins (another).
"""

from __future__ import annotations

import numpy as np

from .._engine.lazy import counted_range, lazy_mask
from .._engine.validate import check_out_range, dtype_range, normalize_axis, output_dtype
from .limits import KEY_BINS, order_statistics
from .transfer import StretchTransfer
from .values import _as_values, _imagej_counts, _imagej_limits, _mapped, _no_pixel_error, _PercentileRanks, each_group


def _sortable_top_bits(values):
    """The top 16 bits of each value's sortable key (IEEE bits, the sign folded): never decreasing with
    the value, so a bin holds only values above those of the bins below it.
    """
    values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))
    bits = values.view(np.uint32 if values.dtype.itemsize == 4 else np.uint64)
    sign = bits.dtype.type(1) << bits.dtype.type(8 * values.dtype.itemsize - 1)
    keys = np.where(bits & sign, ~bits, bits | sign)
    return (keys >> bits.dtype.type(8 * values.dtype.itemsize - 16)).astype(np.intp)


def _counted_values(block, mask_block):
    values = _as_values(np.asarray(block)).reshape(-1)
    keep = np.isfinite(values)
    if mask_block is not None:
        keep &= np.asarray(mask_block).reshape(-1)
    return values[keep]


def _key_counts(block, mask_block):
    return np.bincount(_sortable_top_bits(_counted_values(block, mask_block)), minlength=KEY_BINS)


def _wanted_values(block, mask_block, wanted):
    values = _counted_values(block, mask_block)
    return values[wanted[_sortable_top_bits(values)]]


def _imagej_block_counts(block, mask_block, minimum, maximum):
    return _imagej_counts(_counted_values(block, mask_block), minimum, maximum)


def _over_blocks(function, group, mask, *args):
    """``function(block, mask_block, *args)`` for every chunk of ``group``, computed together."""
    import dask

    blocks = group.to_delayed().ravel()
    masks = [None] * len(blocks) if mask is None else mask.to_delayed().ravel()
    return dask.compute(*[dask.delayed(function)(b, m, *args) for b, m in zip(blocks, masks)])


def _lazy_percentiles(group, mask, percentiles):
    """NumPy's percentiles of a chunked group's counted values, exact: one pass counts their keys' top bits,
    another reads back only the values of the bins that hold the wanted ranks.
    """
    counts = np.sum(_over_blocks(_key_counts, group, mask), axis=0)
    ranks = _PercentileRanks(percentiles)
    statistics, n = order_statistics(
        counts, ranks, lambda wanted: np.concatenate(_over_blocks(_wanted_values, group, mask, wanted)))
    return ranks.limits(statistics) if n else None


def _lazy_limits(group, mask, transfer):
    """One chunked group's limits, as :func:`_limits` gives them in memory; None when nothing is counted."""
    if transfer.variant == "percentile":
        return _lazy_percentiles(group, mask, transfer.percentiles)
    if transfer.variant == "window" or transfer.variant == "window-exact":
        return transfer.window
    lows, highs = counted_range(group, mask, None)
    if lows[0] is None:
        return None
    minimum, maximum = float(lows[0]), float(highs[0])
    if not maximum > minimum:
        return minimum, None
    counts = np.sum(_over_blocks(_imagej_block_counts, group, mask, minimum, maximum), axis=0)
    return _imagej_limits(counts, minimum, maximum, transfer.saturated)


def stretch_chunked(image, transfer: StretchTransfer, *, axis, mask, out_range):
    """Each group's limits from passes over its chunks, then a lazy map with the input's chunks."""
    axes = normalize_axis(axis, image.ndim)
    mask = lazy_mask(mask, image)
    out_dtype = output_dtype(image.dtype)
    checked = check_out_range(out_range, image.dtype)
    if isinstance(checked, tuple):
        lo, hi = checked
    elif checked == "dtype":
        lo, hi = dtype_range(out_dtype)
    else:
        lows, highs = counted_range(image, mask, None)
        if lows[0] is None:
            raise _no_pixel_error(mask)
        lo, hi = image.dtype.type(lows[0]), image.dtype.type(highs[0])
    shape, groups = each_group(image, mask, axes)
    stretched = {}
    for index, group, group_mask in groups:
        limits = _lazy_limits(group, group_mask, transfer)
        if limits is None:
            raise _no_pixel_error(mask)
        stretched[index] = group.map_blocks(_mapped, limits=limits, transfer=transfer, lo=lo, hi=hi,
                                            out_dtype=out_dtype, dtype=out_dtype,
                                            meta=np.empty((0,) * group.ndim, out_dtype))
    result = _stacked(stretched, shape, ())
    front = [d for d in range(image.ndim) if d not in axes]
    return result.transpose(tuple(int(d) for d in np.argsort(front + list(axes)))).rechunk(image.chunks)


def _stacked(groups, shape, index):
    """The groups' results (by index of ``shape``) stacked into one dask array along those axes."""
    import dask.array as da

    if len(index) == len(shape):
        return groups[index]
    return da.stack([_stacked(groups, shape, index + (i,)) for i in range(shape[len(index)])])
