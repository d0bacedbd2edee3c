"""Numba kernels for order statistics of floats (percentiles) and the linear map between two limits.

``numpy.percentile`` partitions a copy of the pixels. Here each counted value
(finite, inside the mask) is counted by the top 16 bits of its sortable key,
the IEEE bits with the sign folded so that the key never decreases with the
value (:class:`KeyCounts`); the caller names the bins that hold its ranks and
only their values are copied out (``_stretch.limits.order_statistics`` finds
the exact statistics among them). Two passes over the pixels, on every
thread, and no copy of the image.
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


class KeyCounts:
    """The counts of a 1D float32/float64 array's counted values (finite, inside ``mask``) by the top 16 bits
    of their sortable keys (``counts``), and :meth:`copy_wanted` to copy out the values of chosen bins.
    """

    def __init__(self, values, mask=None):
        self.values = np.ascontiguousarray(values)
        bits = self.values.view(np.uint32 if self.values.dtype.itemsize == 4 else np.uint64)
        width = 8 * self.values.dtype.itemsize
        self._key = (bits.dtype.type(width - 16), bits.dtype.type(1 << (width - 1)))
        mask = None if mask is None else np.ascontiguousarray(mask)
        self._tasks = _with_mask(self.values, bits, mask, task_ranges(self.values.size, 2))
        self._partial = np.zeros((len(self._tasks), KEY_BINS), np.int32)
        run_parallel(_count_keys, [(*task, *self._key, self._partial[t]) for t, task in enumerate(self._tasks)])
        self.counts = total_counts(self._partial)

    def copy_wanted(self, wanted) -> np.ndarray:
        """The counted values whose bin ``wanted`` (bool, ``KEY_BINS``) marks, bin after bin in no order."""
        # each task copies its wanted values to its own place: the counts of the wanted bins, task by task
        per_task = self._partial[:, wanted].sum(axis=1, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(per_task)))
        copied = np.empty(int(starts[-1]), self.values.dtype)
        run_parallel(_copy_wanted, [(*task, *self._key, wanted, copied[starts[t] : starts[t + 1]])
                                    for t, task in enumerate(self._tasks)])
        return copied


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
