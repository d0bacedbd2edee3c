"""The counted values of a group dealt into buckets and sorted, bucket by bucket, for exact matching.

A bucket holds only values above those of the buckets before it: the rule
(:func:`bucket_of`) never decreases with the value. A coarse histogram of the
values' float64 bits (:func:`magnitude`: as many steps for every power of two)
gives each of its bins buckets in proportion to what it holds, so that buckets
hold about ``_PER_BUCKET`` values whether the data spans one decade or many.
The values are first dealt into groups of neighbouring bins that fit in
cache, then each group into its buckets; each bucket is sorted on its own
(by counting each value's place), on the kernels' threads.
"""

from __future__ import annotations

import numba
import numpy as np

from .floats import finite_min_max
from .threads import num_threads, run_parallel, split

#: Counted values per bucket, on average: sorted in cache, by counting ranks when few.
_PER_BUCKET = 8
#: Counted values per group of buckets, on average: a group's values and buckets stay in cache.
_PER_GROUP = 1 << 14
#: Bins of the coarse histogram that shares the buckets out.
_COARSE_BINS = 1 << 16
_RANK_SORT_MAX = 48


@numba.njit(nogil=True, inline="always")
def magnitude(x):
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
    position = (magnitude(x) - origin) * scale
    if position >= last:
        return last, min(position - last, 1.0)
    if position >= 0.0:
        return int(position), position - int(position)
    return 0, 0.0


@numba.njit(nogil=True, inline="always")
def bucket_of(x, origin, scale, first_bucket, buckets_in):
    """``x``'s bucket: its coarse bin's share of buckets (by how many values the bin holds),
    cut evenly across the bin. Non-decreasing in ``x``: all of a bin's buckets come after the
    buckets of the bins below it.
    """
    coarse, within = _coarse(x, origin, scale, first_bucket.size - 1)
    share = buckets_in[coarse]
    fine = int(within * share)
    return first_bucket[coarse] + (fine if fine < share else share - 1)


@numba.njit(nogil=True, inline="always")
def counted(x, mask, use_mask, i):
    return np.isfinite(np.float64(x)) and (not use_mask or mask[i])


@numba.njit(nogil=True, cache=True)
def _count_coarse(values, mask, use_mask, origin, scale, counts):
    last = counts.size - 1
    for i in range(values.size):
        if counted(values[i], mask, use_mask, i):
            counts[_coarse(values[i], origin, scale, last)[0]] += 1


@numba.njit(nogil=True, cache=True)
def _deal(values, mask, use_mask, offset, origin, scale, group_of, next_slot, dealt, where):
    last = group_of.size - 1
    for i in range(values.size):
        x = values[i]
        if counted(x, mask, use_mask, i):
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
            b = bucket_of(dealt[start], origin, scale, first_bucket, buckets_in)
            bounds[0, low_bucket:b + 1] = start
            bounds[0, b + 1:high_bucket] = end
            bounds[1, b + 1] = 1
            continue
        slots = np.zeros(high_bucket - low_bucket + 1, np.int64)
        local = np.empty(end - start, np.int64)  # each value's bucket in the group, found once
        for i in range(start, end):
            b = bucket_of(dealt[i], origin, scale, first_bucket, buckets_in) - low_bucket
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


def _coarse_rule(first: float, last: float, bins: int) -> tuple[float, float]:
    low, high = magnitude(np.float64(first)), magnitude(np.float64(last))
    return low, (bins / (high - low) if high > low else 0.0)


def sorted_in_buckets(values, keep, tasks, slices):
    """The counted values of ``values`` (``keep``: bool or None; never NaN or +-inf) sorted in buckets:
    ``(dealt, where, bounds, rule)`` (the values, their positions, each bucket's start in ``bounds[0]``
    and its running count of distinct values in ``bounds[1]``, and the bucket rule), or None when no
    value is counted. ``tasks`` and ``slices`` split the work between the kernels' threads.
    """
    first, last = finite_min_max(values, keep)
    if not first <= last:
        return None
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
    np.cumsum(bounds[1], out=bounds[1])
    return dealt, where, bounds, rule
