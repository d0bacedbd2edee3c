"""Numba kernels for order statistics of floats (percentiles) and the linear map between two limits.

``numpy.percentile`` partitions a copy of the pixels. Here each counted value
(finite, inside the mask) is counted by the top 16 bits of its sortable key,
the IEEE bits with the sign folded so that the key never decreases with the
value; the running counts name the bin that holds each wanted rank, only
that bin's values are copied out, and a partition of those few gives the
exact order statistic. Two passes over the pixels, on every thread, and no
copy of the image.
"""

from __future__ import annotations

import numba
import numpy as np

from .partition import task_ranges, total_counts
from .threads import run_parallel

#: Bins of the first pass: the top 16 bits of the key.
KEY_BINS = 1 << 16


@numba.njit(nogil=True, inline="always")
def _top_bits(bits, shift, sign):
    """The top 16 bits of the value's sortable key: negatives' bits inverted, positives' sign bit set."""
    key = ~bits if bits & sign else bits | sign
    return (key >> shift) & 0xFFFF


@numba.njit(nogil=True, inline="always")
def _counted(x, mask, use_mask, i):
    return np.isfinite(np.float64(x)) and (not use_mask or mask[i])


@numba.njit(nogil=True, cache=True)
def _count_keys(values, bits, mask, use_mask, shift, sign, counts):
    for i in range(values.size):
        if _counted(values[i], mask, use_mask, i):
            counts[_top_bits(bits[i], shift, sign)] += 1


@numba.njit(nogil=True, cache=True)
def _copy_wanted(values, bits, mask, use_mask, shift, sign, wanted, out):
    n = 0
    for i in range(values.size):
        if _counted(values[i], mask, use_mask, i) and wanted[_top_bits(bits[i], shift, sign)]:
            out[n] = values[i]
            n += 1


@numba.njit(nogil=True, cache=True)
def _linear_shift(values, low, clip, lo, span, out):
    """Limits that meet: ``share = x - low`` (MONAI's flat case), then as :func:`_linear_map`."""
    for i in range(values.size):
        share = np.float64(values[i]) - low
        if clip and not np.isnan(share):
            share = min(max(share, 0.0), 1.0)
        out[i] = lo + share * span


@numba.njit(nogil=True, cache=True)
def _linear_map(values, low, width, clip, lo, span, out):
    """``out = lo + share * span`` with ``share = (x - low) / width`` (clipped to [0, 1]), in float64 as
    NumPy computes it; NaN stays NaN.
    """
    for i in range(values.size):
        share = (np.float64(values[i]) - low) / width
        if clip and not np.isnan(share):
            share = min(max(share, 0.0), 1.0)
        out[i] = lo + share * span


def _with_mask(values, bits, mask, ranges):
    if mask is None:
        return [(values[a:b], bits[a:b], _NO_MASK, False) for a, b in ranges]
    return [(values[a:b], bits[a:b], mask[a:b], True) for a, b in ranges]


def order_statistics(values, ranks_of, mask=None):
    """``(statistics, n)``: the values of the ranks ``ranks_of(n)`` names (0-based, ascending order) among
    the ``n`` counted values of a 1D float32/float64 array (finite, and inside ``mask``).

    The values are exact (as ``numpy.partition`` of the counted values gives them); no value is
    returned when nothing was counted.
    """
    values = np.ascontiguousarray(values)
    bits = values.view(np.uint32 if values.dtype.itemsize == 4 else np.uint64)
    width = 8 * values.dtype.itemsize
    shift, sign = bits.dtype.type(width - 16), bits.dtype.type(1 << (width - 1))
    mask = None if mask is None else np.ascontiguousarray(mask)
    ranges = task_ranges(values.size, 2)
    partial = np.zeros((len(ranges), KEY_BINS), np.int32)
    tasks = _with_mask(values, bits, mask, ranges)
    run_parallel(_count_keys, [(*task, shift, sign, partial[t]) for t, task in enumerate(tasks)])
    counts = total_counts(partial)
    running = np.cumsum(counts)
    n = int(running[-1])
    if n == 0:
        return [], 0
    ranks = [min(max(int(r), 0), n - 1) for r in ranks_of(n)]
    bins = [int(np.searchsorted(running, r, side="right")) for r in ranks]
    wanted = np.zeros(KEY_BINS, np.bool_)
    wanted[bins] = True
    # each task copies its wanted values to its own place: the counts of the wanted bins, task by task
    per_task = partial[:, wanted].sum(axis=1, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(per_task)))
    copied = np.empty(int(starts[-1]), values.dtype)
    run_parallel(_copy_wanted, [(*task, shift, sign, wanted, copied[starts[t] : starts[t + 1]])
                                for t, task in enumerate(tasks)])
    # a rank's place among the copied values: the bins below its own that were copied too come first
    before_copied = np.cumsum(np.where(wanted, counts, 0)) - np.where(wanted, counts, 0)
    below = running - counts
    places = sorted({r - int(below[b]) + int(before_copied[b]) for r, b in zip(ranks, bins)})
    copied.partition(places)
    return [copied[r - int(below[b]) + int(before_copied[b])] for r, b in zip(ranks, bins)], n


def linear_map(values, low, width, lo, hi, clip, out):
    """``out = lo + share * (hi - lo)`` with ``share = (values - low) / width`` (``values - low`` when the
    width is 0), clipped to [0, 1] when ``clip``, computed in float64 as NumPy computes it.
    """
    low, width, lo, span = float(low), float(width), float(lo), float(hi) - float(lo)
    ranges = task_ranges(values.size, 4)
    if width == 0.0:
        run_parallel(_linear_shift, [(values[a:b], low, bool(clip), lo, span, out[a:b]) for a, b in ranges])
    else:
        tasks = [(values[a:b], low, width, bool(clip), lo, span, out[a:b]) for a, b in ranges]
        run_parallel(_linear_map, tasks)


_NO_MASK = np.ones(1, dtype=bool)
