"""Numba kernels for exact histogram matching of floats and 32/64-bit integers.

The reference (``_matching._match_exact``) sorts a group's counted values into
distinct values and cumulative counts, then finds each pixel's last distinct value
at or below it with a binary search over all of them: random probes into an array
as large as the image, for every pixel. Here the counted values are dealt, with
their positions, into buckets by a rule that never decreases with the value (a
bucket holds only values above those of the buckets before it), with as many
buckets for each part of the range as a coarse histogram finds values there (a
histogram of the values' float64 bits, so that data spread over many decades
shares out as evenly as data within one); each bucket is sorted on its own, in
cache, on several threads; each distinct value's result is interpolated in one
pass over the sorted buckets; and each counted pixel's result is written
straight from its place in them. Only pixels that were not counted
(outside a mask) are searched for, inside their own bucket. The distinct values,
their counts and every result are the reference's, bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from .floats import finite_min_max
from .partition import task_ranges
from .threads import num_threads, run_parallel, split

#: Counted values per bucket, on average: sorted in cache, by counting ranks when few.
_PER_BUCKET = 8
#: Counted values per group of buckets, on average: a group's values and buckets stay in cache.
_PER_GROUP = 1 << 14
#: Bins of the coarse histogram that shares the buckets out.
_COARSE_BINS = 1 << 16
_RANK_SORT_MAX = 48


@numba.njit(nogil=True, inline="always")
def _magnitude(x):
    """A number that never decreases with ``x``: ``x``'s float64 bits read as a signed integer
    (the same count of steps for every power of two of ``abs(x)``, linear within it). Data spread
    over many decades (lognormal, exponential, +-1e308) then shares out into the coarse bins as
    evenly as data within one decade does.
    """
    bits = np.float64(x).view(np.int64)
    return np.float64(bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF))  # -0.0 and 0.0 alike


@numba.njit(nogil=True, inline="always")
def _coarse(x, origin, scale, last):
    """``x``'s position on the coarse scale (its bin, and where in the bin): non-decreasing in ``x``."""
    position = (_magnitude(x) - origin) * scale
    if position >= last:
        return last, min(position - last, 1.0)
    if position >= 0.0:
        return int(position), position - int(position)
    return 0, 0.0


@numba.njit(nogil=True, inline="always")
def _bucket(x, origin, scale, first_bucket, buckets_in):
    """``x``'s bucket: its coarse bin's share of buckets (by how many values the bin holds),
    cut evenly across the bin. Non-decreasing in ``x``: all of a bin's buckets come after the
    buckets of the bins below it.
    """
    coarse, within = _coarse(x, origin, scale, first_bucket.size - 1)
    share = buckets_in[coarse]
    fine = int(within * share)
    return first_bucket[coarse] + (fine if fine < share else share - 1)


@numba.njit(nogil=True, inline="always")
def _counted(x, mask, use_mask, i):
    return np.isfinite(np.float64(x)) and (not use_mask or mask[i])


@numba.njit(nogil=True, cache=True)
def _count_coarse(values, mask, use_mask, origin, scale, counts):
    last = counts.size - 1
    for i in range(values.size):
        if _counted(values[i], mask, use_mask, i):
            counts[_coarse(values[i], origin, scale, last)[0]] += 1


@numba.njit(nogil=True, cache=True)
def _deal(values, mask, use_mask, offset, origin, scale, group_of, next_slot, dealt, where):
    last = group_of.size - 1
    for i in range(values.size):
        x = values[i]
        if _counted(x, mask, use_mask, i):
            g = group_of[_coarse(x, origin, scale, last)[0]]
            slot = next_slot[g]
            dealt[slot] = x
            where[slot] = offset + i
            next_slot[g] = slot + 1


@numba.njit(nogil=True)
def _all_equal(dealt, start, end):
    for i in range(start + 1, end):
        if dealt[i] != dealt[start]:
            return False
    return True


@numba.njit(nogil=True, inline="always")
def _sort_bucket(dealt, where, start, end, values, positions):
    """Sort ``dealt[start:end]`` in place, the positions alongside; ``values`` and ``positions``
    are scratch space of at least ``_RANK_SORT_MAX`` items.
    """
    size = end - start
    if size <= _RANK_SORT_MAX:
        # each value's place counted outright (the values below it, and its equals before it):
        # no data-dependent branch to mispredict, unlike an insertion sort's inner loop
        for i in range(size):
            values[i], positions[i] = dealt[start + i], where[start + i]
        for i in range(size):
            x = values[i]
            place = 0
            for j in range(i):
                place += values[j] <= x
            for j in range(i + 1, size):
                place += values[j] < x
            dealt[start + place], where[start + place] = x, positions[i]
    elif not _all_equal(dealt, start, end):  # a crowded bucket (values bunched within one coarse bin)
        order = np.argsort(dealt[start:end], kind="mergesort")
        dealt[start:end] = dealt[start:end][order]
        where[start:end] = where[start:end][order]


@numba.njit(nogil=True, cache=True)
def _sort_groups(dealt, where, group_start, group_bucket, origin, scale, first_bucket, buckets_in, bounds,
                 first, stop):
    """Groups ``first..stop-1``: each group's values dealt into its buckets (a counting sort, in
    cache), each bucket sorted; bucket starts into ``bounds[0]``, distinct values into ``bounds[1, b + 1]``.
    """
    scratch_values = np.empty(_RANK_SORT_MAX, dealt.dtype)
    scratch_positions = np.empty(_RANK_SORT_MAX, where.dtype)
    for g in range(first, stop):
        start, end = group_start[g], group_start[g + 1]
        low_bucket, high_bucket = group_bucket[g], group_bucket[g + 1]
        if end > start and _all_equal(dealt, start, end):  # one level of few-valued data: nothing to sort
            b = _bucket(dealt[start], origin, scale, first_bucket, buckets_in)
            bounds[0, low_bucket:b + 1] = start
            bounds[0, b + 1:high_bucket] = end
            bounds[1, b + 1] = 1
            continue
        slots = np.zeros(high_bucket - low_bucket + 1, np.int64)
        local = np.empty(end - start, np.int64)  # each value's bucket in the group, found once
        for i in range(start, end):
            b = _bucket(dealt[i], origin, scale, first_bucket, buckets_in) - low_bucket
            local[i - start] = b
            slots[b + 1] += 1
        slots[0] = start
        for k in range(1, slots.size):
            slots[k] += slots[k - 1]
        bounds[0, low_bucket:high_bucket] = slots[:-1]
        values, positions = dealt[start:end].copy(), where[start:end].copy()
        for i in range(values.size):
            b = local[i]
            dealt[slots[b]], where[slots[b]] = values[i], positions[i]
            slots[b] += 1
        bucket_start = start
        for b in range(low_bucket, high_bucket):
            bucket_end = slots[b - low_bucket]
            _sort_bucket(dealt, where, bucket_start, bucket_end, scratch_values, scratch_positions)
            distinct = 0
            for i in range(bucket_start, bucket_end):
                if i == bucket_start or dealt[i] != dealt[i - 1]:
                    distinct += 1
            bounds[1, b + 1] = distinct
            bucket_start = bucket_end


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
        if _counted(x, mask, use_mask, i):
            continue
        if np.isnan(f):
            out[i] = np.nan
        elif f == np.inf:
            out[i] = high
        elif f == -np.inf:
            out[i] = low
        else:
            b = _bucket(x, origin, scale, first_bucket, buckets_in)
            lo, hi = starts[b], starts[b + 1]
            while lo < hi:  # the first distinct value above x
                middle = (lo + hi) // 2
                if distinct[middle] <= x:
                    lo = middle + 1
                else:
                    hi = middle
            out[i] = results[lo - 1] if lo > 0 else low


def _coarse_rule(first: float, last: float, bins: int) -> tuple[float, float]:
    low, high = _magnitude(np.float64(first)), _magnitude(np.float64(last))
    return low, (bins / (high - low) if high > low else 0.0)


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
    first, last = finite_min_max(values, keep)
    if not first <= last:
        return False
    tasks = task_ranges(values.size, 1)
    slices = [(values[a:b], mask[a:b] if use_mask else mask, use_mask) for a, b in tasks]
    # a coarse histogram of the values gives each of its bins buckets in proportion to what it holds,
    # so that buckets hold about _PER_BUCKET values however the values are distributed
    bins = int(min(max(1, values.size // (16 * _PER_BUCKET)), _COARSE_BINS))
    origin, scale = _coarse_rule(first, last, bins)
    coarse = np.zeros((len(tasks), bins), np.int64)
    run_parallel(_count_coarse, [(*part, origin, scale, coarse[t]) for t, part in enumerate(slices)])
    buckets_in = np.maximum(-(-coarse.sum(axis=0) // _PER_BUCKET), 1)
    first_bucket = np.concatenate([[0], np.cumsum(buckets_in)[:-1]])
    buckets = int(buckets_in.sum())
    rule = (origin, scale, first_bucket, buckets_in)
    # first dealt into groups of neighbouring coarse bins, about _PER_GROUP values each: few enough
    # to write to at once without thrashing the caches; then each group into its buckets, in cache
    totals = coarse.sum(axis=0)
    _, group_of = np.unique((np.cumsum(totals) - totals) // _PER_GROUP, return_inverse=True)
    groups = int(group_of[-1]) + 1
    group_first_bin = np.searchsorted(group_of, np.arange(groups))
    group_bucket = np.append(first_bucket[group_first_bin], buckets)
    counts = np.add.reduceat(coarse, group_first_bin, axis=1)  # each task's values, group by group
    # slots: group by group, and within a group task by task, so that the tasks deal at once
    ends = np.cumsum(counts.T.ravel()).reshape(groups, len(tasks)).T
    next_slot = ends - counts
    dealt = np.empty(int(ends[-1, -1]), values.dtype)
    where = np.empty(dealt.size, np.int32 if values.size < 2**31 else np.int64)
    run_parallel(_deal, [(*part, a, origin, scale, group_of, np.ascontiguousarray(next_slot[t]), dealt, where)
                         for t, ((a, _), part) in enumerate(zip(tasks, slices))])
    group_start = np.concatenate([[0], ends[-1]])
    bounds = np.zeros((2, buckets + 1), np.int64)  # row 0: where each bucket starts; row 1: its distinct values
    bounds[0, -1] = dealt.size
    run_parallel(_sort_groups, [(dealt, where, group_start, group_bucket, *rule, bounds, a, b)
                                for a, b in split(groups, 4 * num_threads())])
    ranges = split(buckets, 4 * num_threads())
    np.cumsum(bounds[1], out=bounds[1])
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
