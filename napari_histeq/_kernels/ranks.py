"""Numba kernels for exact histogram matching of floats and 32/64-bit integers.

The reference (``_matching._match_exact``) sorts a group's counted values into
distinct values and cumulative counts, then finds each pixel's last distinct value
at or below it with a binary search over all of them: random probes into an array
as large as the image, for every pixel. Here the counted values are sorted in
buckets, with their positions (:mod:`.buckets`); each distinct value's result is
interpolated in one pass over the sorted buckets, and each counted pixel's result
is written straight from its place in them. Only pixels that were not counted
(outside a mask) are searched for, inside their own bucket. The distinct values,
their counts and every result are the reference's, bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from .buckets import bucket_of, counted, sorted_in_buckets
from .partition import task_ranges
from .threads import num_threads, run_parallel, split


@numba.njit(nogil=True, cache=True)
def _write_counted(dealt, where, bounds, first, stop, results, out):
    """Every counted pixel's result, bucket by bucket: reads in order, one write per pixel."""
    for b in range(first, stop):
        d = bounds[1, b] - 1
        for i in range(bounds[0, b], bounds[0, b + 1]):
            if i == bounds[0, b] or dealt[i] != dealt[i - 1]:
                d += 1
            out[where[i]] = results[d]


@numba.njit(nogil=True, cache=True)
def _write_uncounted(values, mask, use_mask, origin, scale, first_bucket, buckets_in, starts, distinct, results,
                     low, high, out):
    """NaN stays NaN, +inf is the top, -inf the bottom; a pixel outside the mask gets the result of
    the last counted value at or below it (searched inside its bucket).
    """
    for i in range(values.size):
        x = values[i]
        f = np.float64(x)
        if counted(x, mask, use_mask, i):
            continue
        if np.isnan(f):
            out[i] = np.nan
        elif f == np.inf:
            out[i] = high
        elif f == -np.inf:
            out[i] = low
        else:
            b = bucket_of(x, origin, scale, first_bucket, buckets_in)
            lo, hi = starts[b], starts[b + 1]
            while lo < hi:  # the first distinct value above x
                middle = (lo + hi) // 2
                if distinct[middle] <= x:
                    lo = middle + 1
                else:
                    hi = middle
            out[i] = results[lo - 1] if lo > 0 else low


@numba.njit(nogil=True, cache=True)
def _results(dealt, bounds, first, stop, total, quantiles, target_values, results, distinct, keep_distinct):
    """Buckets ``first..stop-1``: each distinct value's result, its share of the counted values
    (the running count at its last copy) interpolated onto the target's quantiles; the distinct
    values themselves into ``distinct`` if ``keep_distinct``. Equal values share a bucket, and the
    shares never decrease, so the quantile below is found by walking on from the last one.
    """
    n = quantiles.size
    j = -2  # not yet searched
    for b in range(first, stop):
        d = bounds[1, b] - 1
        end = bounds[0, b + 1]
        for i in range(bounds[0, b], end):
            if i + 1 < end and dealt[i + 1] == dealt[i]:
                continue
            d += 1
            if keep_distinct:
                distinct[d] = dealt[i]
            x = np.float64(i + 1) / np.float64(total)
            if j == -2:  # the last quantile at or below x: a binary search once, then the walk
                lo, hi = 0, n
                while lo < hi:
                    middle = (lo + hi) // 2
                    if quantiles[middle] <= x:
                        lo = middle + 1
                    else:
                        hi = middle
                j = lo - 1
            while j + 1 < n and quantiles[j + 1] <= x:
                j += 1
            # np.interp(x, quantiles, target_values), NumPy's arithmetic step for step (written out
            # here: as an inlined function of its own it ran four times slower)
            if n == 1 or j < 0:
                results[d] = target_values[0]
            elif j >= n - 1 or quantiles[j] == x:
                results[d] = target_values[j]
            else:
                slope = (target_values[j + 1] - target_values[j]) / (quantiles[j + 1] - quantiles[j])
                value = slope * (x - quantiles[j]) + target_values[j]
                if value != value:  # NaN: as NumPy does, from the other end, then the flat value
                    value = slope * (x - quantiles[j + 1]) + target_values[j + 1]
                    if value != value and target_values[j] == target_values[j + 1]:
                        value = target_values[j]
                results[d] = value


def matched_by_ranks(values, keep, quantiles, target_values, low, high, convert, out):
    """Match a 1D contiguous group to a target distribution, as the reference does, into ``out``.

    ``keep`` (bool, or None for all) selects the counted pixels; NaN and +-inf are never
    counted. ``convert`` turns float64 results into ``out``'s dtype; it runs once per distinct
    value (and on ``low`` and ``high``), not per pixel. Returns False (and writes nothing)
    when no pixel is counted.
    """
    use_mask = keep is not None
    mask = keep if use_mask else np.ones(1, dtype=bool)
    tasks = task_ranges(values.size, 1)
    slices = [(values[a:b], mask[a:b] if use_mask else mask, use_mask) for a, b in tasks]
    sorted_ = sorted_in_buckets(values, keep, tasks, slices)
    if sorted_ is None:
        return False
    dealt, where, bounds, rule = sorted_
    ranges = split(bounds.shape[1] - 1, 4 * num_threads())
    uncounted = dealt.size < values.size  # NaN, infinities, or pixels outside the mask
    distinct = np.empty(int(bounds[1, -1]) if uncounted else 1, values.dtype)
    results = np.empty(int(bounds[1, -1]), np.float64)
    quantiles = np.ascontiguousarray(quantiles, np.float64)
    target_values = np.ascontiguousarray(target_values, np.float64)
    run_parallel(_results, [(dealt, bounds, a, b, dealt.size, quantiles, target_values, results, distinct, uncounted)
                            for a, b in ranges])
    results = convert(results)
    low, high = convert(np.array([low, high], np.float64))
    run_parallel(_write_counted, [(dealt, where, bounds, a, b, results, out) for a, b in ranges])
    if uncounted:
        run_parallel(_write_uncounted, [(*part, *rule, bounds[1], distinct, results, low, high, out[a:b])
                                        for (a, b), part in zip(tasks, slices)])
    return True
