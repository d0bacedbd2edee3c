"""Numba kernels for float32/64 images: finite range, binned counts, gather (see ``cpu``).

Floats are binned by ``Binning.bin_rule``; NaN is not counted and stays NaN,
+-inf go to the ends of the output range. The reference they are checked
against is ``_binning`` / ``_histogram`` / ``_apply``.
"""

from __future__ import annotations

import numba
import numpy as np

from .partition import task_ranges, total_counts
from .threads import run_parallel


@numba.njit(nogil=True, cache=True)
def _finite_min_max(values, mask, use_mask):
    low, high = np.inf, -np.inf
    for i in range(values.size):
        x = np.float64(values[i])
        if np.isfinite(x) and (not use_mask or mask[i]):
            low = min(low, x)
            high = max(high, x)
    return low, high


@numba.njit(nogil=True, inline="always")
def _float_bin(x, start, scale, half, span, nbins):
    """``Binning.bin_rule`` for one value; inside ``0..nbins-1`` whatever the inputs, NaN included."""
    offset = x * half - start * half
    if scale > 0.0:
        index = np.floor(offset * scale)
    elif span > 0.0:
        index = np.floor(offset / span * nbins)
    else:
        index = 0.0
    if index >= nbins - 1.0:
        return nbins - 1
    if index >= 0.0:
        return int(index)
    return 0  # below the range, or NaN


@numba.njit(nogil=True, cache=True)
def _float_counts(values, mask, use_mask, start, scale, half, span, h):
    nbins = h.size
    for i in range(values.size):
        x = np.float64(values[i])
        if np.isfinite(x) and (not use_mask or mask[i]):
            h[_float_bin(x, start, scale, half, span, nbins)] += 1


@numba.njit(nogil=True, cache=True)
def _float_gather(values, start, scale, half, span, table, low, high, out):
    nbins = table.size
    for i in range(values.size):
        x = np.float64(values[i])
        if x < start:  # below the counted range (and -inf): the bottom
            out[i] = low
        elif np.isfinite(x):
            out[i] = table[_float_bin(x, start, scale, half, span, nbins)]
        elif np.isnan(x):
            out[i] = np.nan
        else:
            out[i] = high


def _with_mask(values, mask, ranges):
    """Per task: the values' slice, the mask's slice (or a dummy) and whether there is a mask."""
    if mask is None:
        return [(values[a:b], _NO_MASK, False) for a, b in ranges]
    return [(values[a:b], mask[a:b], True) for a, b in ranges]


def finite_min_max(values, mask=None):
    """Min and max of the finite (and masked) values of a 1D contiguous float array."""
    parts = run_parallel(_finite_min_max, _with_mask(values, mask, task_ranges(values.size, 2)))
    return min(low for low, _ in parts), max(high for _, high in parts)


def float_counts(values, bin_rule, nbins, mask=None):
    """Counts per bin of a 1D contiguous float array, binned by ``Binning.bin_rule``."""
    ranges = task_ranges(values.size, 2)
    partial = np.zeros((len(ranges), nbins), np.int32)
    rule = tuple(float(v) for v in bin_rule)
    parts = enumerate(_with_mask(values, mask, ranges))
    run_parallel(_float_counts, [(*sliced, *rule, partial[t]) for t, sliced in parts])
    return total_counts(partial)


def float_gather(values, bin_rule, table, low, high, out):
    """``out = table[bin(values)]``; values below the range and -inf become ``low``, +inf ``high``, NaN stays."""
    rule = tuple(float(v) for v in bin_rule)
    ranges = task_ranges(values.size, 4)
    run_parallel(_float_gather, [(values[a:b], *rule, table, low, high, out[a:b]) for a, b in ranges])


_NO_MASK = np.ones(1, dtype=bool)
