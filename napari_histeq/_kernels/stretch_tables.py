"""The contrast stretch's integer tables over one bin per level, bit-exact with the NumPy reference.

The reference (``_stretch.transfer.StretchTransfer.values``, then
``_engine.transfer.lut_from_values``) makes half a dozen 65536-entry float64
temporaries per uint16 table: 2.7 ms, more than the stretch's own passes over
a 16-megapixel image. These loops do the same float64 operations in the same
order, level by level, into the table: the limits as ImageJ's
``ContrastEnhancer`` and ``numpy.percentile`` find them, then the linear map.
Bin ``k`` holds the level ``start + k``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def _first_above(row, threshold, from_top):
    """How many running counts (from the bottom, or the top) are at most ``threshold``:
    ``numpy.searchsorted(cumsum, threshold, side="right")``.
    """
    last = row.size - 1
    running = 0
    for i in range(row.size):
        running += row[last - i] if from_top else row[i]
        if running > threshold:
            return i
    return row.size


@numba.njit(nogil=True, cache=True)
def _imagej_tables(counts, saturated, start, lo, span, tables):
    last = counts.shape[1] - 1
    for g in range(counts.shape[0]):
        row, table = counts[g], tables[g]
        total = 0
        for i in range(row.size):
            total += row[i]
        threshold = np.int64(np.float64(total) * saturated / 200.0) if saturated > 0.0 else np.int64(0)
        low = min(_first_above(row, threshold, False), last)
        high = max(last - _first_above(row, threshold, True), 0)
        minimum, maximum = np.float64(start + low), np.float64(start + high)
        for k in range(row.size):
            level = np.float64(start + k)
            if high <= low:  # ImageJ leaves the image as it is
                value = min(max(level - lo, 0.0), span)
            elif level <= minimum:
                value = 0.0
            elif level >= maximum:
                value = span
            else:
                value = np.trunc((level - minimum) / (maximum - minimum) * span)
            table[k] = lo + value


@numba.njit(nogil=True, cache=True)
def _percentile(row, percent, start):
    """``percentile_of_counts`` over the levels ``start + k``: NumPy's linear method, its two-sided lerp."""
    n = 0
    for i in range(row.size):
        n += row[i]
    virtual = (n - 1) * (percent / 100.0)
    if virtual >= n - 1:
        previous, following, gamma = n - 1, n - 1, 0.0
    elif virtual < 0:
        previous, following, gamma = np.int64(0), np.int64(0), 0.0
    else:
        previous = np.int64(np.floor(virtual))
        following, gamma = previous + 1, virtual - previous
    a = np.float64(start + min(_first_above(row, previous, False), row.size - 1))
    if following == previous:
        return a
    b = np.float64(start + min(_first_above(row, following, False), row.size - 1))
    difference = b - a
    return b - difference * (1.0 - gamma) if gamma >= 0.5 else a + difference * gamma


@numba.njit(nogil=True, cache=True)
def _percentile_tables(counts, low_percent, high_percent, start, lo, span, tables):
    for g in range(counts.shape[0]):
        row, table = counts[g], tables[g]
        low, high = _percentile(row, low_percent, start), _percentile(row, high_percent, start)
        for k in range(row.size):
            level = np.float64(start + k)
            share = level - low if high == low else (level - low) / (high - low)
            share = min(max(share, 0.0), 1.0)
            table[k] = lo + (np.rint(share * span + lo) - lo)


@numba.njit(nogil=True, cache=True)
def _window_tables(centre, width, exact, start, lo, span, tables):
    for k in range(tables.shape[1]):
        x = np.float64(start + k)
        if exact:
            low, high = centre - width / 2, centre + width / 2
            share = (x - centre) / width + 0.5
        else:
            low, high = centre - 0.5 - (width - 1) / 2, centre - 0.5 + (width - 1) / 2
            if width > 1:
                share = (x - (centre - 0.5)) / (width - 1) + 0.5
            else:
                share = 1.0 if x > centre - 0.5 else 0.0
        share = 0.0 if x <= low else (1.0 if x > high else share)
        share = min(max(share, 0.0), 1.0)
        value = lo + (np.rint(share * span + lo) - lo)
        for g in range(tables.shape[0]):
            tables[g, k] = value


def stretch_tables(counts, transfer, start, lo, hi, tables) -> None:
    """A ``StretchTransfer``'s integer tables (up to 32 bits) for ``counts`` over the levels ``start + k``.

    ``counts`` is int64 ``(groups, levels)``; ``tables`` (same shape) receives what the reference's
    ``values`` and ``lut_from_values`` give, from ``lo`` to ``hi``.
    """
    span, lo, start = float(hi - lo), float(lo), float(start)
    if transfer.variant == "imagej":
        _imagej_tables(counts, float(transfer.saturated), start, lo, span, tables)
    elif transfer.variant == "percentile":
        low, high = (float(p) for p in transfer.percentiles)
        _percentile_tables(counts, low, high, start, lo, span, tables)
    else:
        centre, width = (float(v) for v in transfer.window)
        _window_tables(centre, width, transfer.variant == "window-exact", start, lo, span, tables)
