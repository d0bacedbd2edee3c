"""Numba kernels for exact histogram matching of floats and 32/64-bit integers.

The reference (``_matching._match_exact``) sorts a group's counted values into
distinct values and cumulative counts, then finds each pixel's last distinct value
at or below it with a binary search over all of them: random probes into an array
as large as the image, for every pixel. Here the counted values are dealt, with
their positions, into buckets by a rule that never decreases with the value (a
bucket holds only values above those of the buckets before it), with as many
buckets for each part of the range as a coarse histogram finds values there; each
bucket is sorted on its own, in cache, on several threads; and each counted
pixel's result is written straight from its place in the sorted buckets. Only pixels that were not counted
(outside a mask) are searched for, inside their own bucket. The distinct values,
their counts and every result are the reference's, bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from .floats import finite_min_max
from .partition import task_ranges
from .threads import num_threads, run_parallel, split

#: Counted values per bucket, on average: sorted in cache, by insertion when few.
_PER_BUCKET = 16
#: Counted values per group of buckets, on average: a group's values and buckets stay in cache.
_PER_GROUP = 1 << 14
#: Bins of the coarse histogram that shares the buckets out.
_COARSE_BINS = 1 << 16
_INSERTION_SORT_MAX = 48


@numba.njit(nogil=True, inline="always")
def _coarse(x, half_low, scale, last):
    """``x``'s position on the coarse scale (its bin, and where in the bin): non-decreasing in ``x``;
    halves keep +-1e308 finite.
    """
    position = (np.float64(x) * 0.5 - half_low) * scale
    if position >= last:
        return last, min(position - last, 1.0)
    if position >= 0.0:
        return int(position), position - int(position)
    return 0, 0.0


@numba.njit(nogil=True, inline="always")
def _bucket(x, half_low, scale, first_bucket, buckets_in):
    """``x``'s bucket: its coarse bin's share of buckets (by how many values the bin holds),
    cut evenly across the bin. Non-decreasing in ``x``: all of a bin's buckets come after the
    buckets of the bins below it.
    """
    coarse, within = _coarse(x, half_low, scale, first_bucket.size - 1)
    share = buckets_in[coarse]
    fine = int(within * share)
    return first_bucket[coarse] + (fine if fine < share else share - 1)


@numba.njit(nogil=True, inline="always")
def _counted(x, mask, use_mask, i):
    return np.isfinite(np.float64(x)) and (not use_mask or mask[i])


@numba.njit(nogil=True, cache=True)
def _count_coarse(values, mask, use_mask, half_low, scale, counts):
    last = counts.size - 1
    for i in range(values.size):
        if _counted(values[i], mask, use_mask, i):
            counts[_coarse(values[i], half_low, scale, last)[0]] += 1


@numba.njit(nogil=True, cache=True)
def _count_groups(values, mask, use_mask, half_low, scale, group_of, counts):
    last = group_of.size - 1
    for i in range(values.size):
        if _counted(values[i], mask, use_mask, i):
            counts[group_of[_coarse(values[i], half_low, scale, last)[0]]] += 1


@numba.njit(nogil=True, cache=True)
def _deal(values, mask, use_mask, offset, half_low, scale, group_of, next_slot, dealt, where):
    last = group_of.size - 1
    for i in range(values.size):
        x = values[i]
        if _counted(x, mask, use_mask, i):
            g = group_of[_coarse(x, half_low, scale, last)[0]]
            slot = next_slot[g]
            dealt[slot] = x
            where[slot] = offset + i
            next_slot[g] = slot + 1


@numba.njit(nogil=True, inline="always")
def _sort_bucket(dealt, where, start, end):
    """Sort ``dealt[start:end]`` in place, the positions alongside."""
    if end - start <= _INSERTION_SORT_MAX:
        for i in range(start + 1, end):
            x, w = dealt[i], where[i]
            j = i - 1
            while j >= start and dealt[j] > x:
                dealt[j + 1], where[j + 1] = dealt[j], where[j]
                j -= 1
            dealt[j + 1], where[j + 1] = x, w
    else:  # a crowded bucket (values bunched within one coarse bin): a sort of its own
        order = np.argsort(dealt[start:end])
        dealt[start:end] = dealt[start:end][order]
        where[start:end] = where[start:end][order]


@numba.njit(nogil=True, cache=True)
def _sort_groups(dealt, where, group_start, group_bucket, half_low, scale, first_bucket, buckets_in, bounds,
                 first, stop):
    """Groups ``first..stop-1``: each group's values dealt into its buckets (a counting sort, in
    cache), each bucket sorted; bucket starts into ``bounds[0]``, distinct values into ``bounds[1, b + 1]``.
    """
    for g in range(first, stop):
        start, end = group_start[g], group_start[g + 1]
        low_bucket, high_bucket = group_bucket[g], group_bucket[g + 1]
        slots = np.zeros(high_bucket - low_bucket + 1, np.int64)
        local = np.empty(end - start, np.int64)  # each value's bucket in the group, found once
        for i in range(start, end):
            b = _bucket(dealt[i], half_low, scale, first_bucket, buckets_in) - low_bucket
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
            _sort_bucket(dealt, where, bucket_start, bucket_end)
            distinct = 0
            for i in range(bucket_start, bucket_end):
                if i == bucket_start or dealt[i] != dealt[i - 1]:
                    distinct += 1
            bounds[1, b + 1] = distinct
            bucket_start = bucket_end


@numba.njit(nogil=True, cache=True)
def _distinct(dealt, bounds, first, stop, distinct, cumulative):
    """Each bucket's distinct values and the running count at each, from its start in ``bounds``."""
    for b in range(first, stop):
        d = bounds[1, b] - 1
        for i in range(bounds[0, b], bounds[0, b + 1]):
            if i == bounds[0, b] or dealt[i] != dealt[i - 1]:
                d += 1
                distinct[d] = dealt[i]
            cumulative[d] = i + 1


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
def _write_uncounted(values, mask, use_mask, half_low, scale, first_bucket, buckets_in, starts, distinct, results,
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
            b = _bucket(x, half_low, scale, first_bucket, buckets_in)
            lo, hi = starts[b], starts[b + 1]
            while lo < hi:  # the first distinct value above x
                middle = (lo + hi) // 2
                if distinct[middle] <= x:
                    lo = middle + 1
                else:
                    hi = middle
            out[i] = results[lo - 1] if lo > 0 else low


def _coarse_rule(low: float, high: float, bins: int) -> tuple[float, float]:
    half_span = high * 0.5 - low * 0.5
    return low * 0.5, (bins / half_span if half_span > 0 else 0.0)


def _interp(cumulative, total, quantiles, target_values):
    """``np.interp(cumulative / total, quantiles, target_values)``, in parts on the kernels' threads."""
    out = np.empty(cumulative.size, np.float64)

    def part(a, b):
        out[a:b] = np.interp(cumulative[a:b] / total, quantiles, target_values)

    run_parallel(part, task_ranges(cumulative.size, 1))
    return out


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
    half_low, scale = _coarse_rule(first, last, bins)
    coarse = np.zeros((len(tasks), bins), np.int64)
    run_parallel(_count_coarse, [(*part, half_low, scale, coarse[t]) for t, part in enumerate(slices)])
    buckets_in = np.maximum(-(-coarse.sum(axis=0) // _PER_BUCKET), 1)
    first_bucket = np.concatenate([[0], np.cumsum(buckets_in)[:-1]])
    buckets = int(buckets_in.sum())
    rule = (half_low, scale, first_bucket, buckets_in)
    # first dealt into groups of neighbouring coarse bins, about _PER_GROUP values each: few enough
    # to write to at once without thrashing the caches; then each group into its buckets, in cache
    totals = coarse.sum(axis=0)
    _, group_of = np.unique((np.cumsum(totals) - totals) // _PER_GROUP, return_inverse=True)
    groups = int(group_of[-1]) + 1
    group_bucket = np.append(first_bucket[np.searchsorted(group_of, np.arange(groups))], buckets)
    counts = np.zeros((len(tasks), groups), np.int64)
    run_parallel(_count_groups, [(*part, half_low, scale, group_of, counts[t]) for t, part in enumerate(slices)])
    # slots: group by group, and within a group task by task, so that the tasks deal at once
    ends = np.cumsum(counts.T.ravel()).reshape(groups, len(tasks)).T
    next_slot = ends - counts
    dealt = np.empty(int(ends[-1, -1]), values.dtype)
    where = np.empty(dealt.size, np.int32 if values.size < 2**31 else np.int64)
    run_parallel(_deal, [(*part, a, half_low, scale, group_of, np.ascontiguousarray(next_slot[t]), dealt, where)
                         for t, ((a, _), part) in enumerate(zip(tasks, slices))])
    group_start = np.concatenate([[0], ends[-1]])
    bounds = np.zeros((2, buckets + 1), np.int64)  # row 0: where each bucket starts; row 1: its distinct values
    bounds[0, -1] = dealt.size
    run_parallel(_sort_groups, [(dealt, where, group_start, group_bucket, *rule, bounds, a, b)
                                for a, b in split(groups, 4 * num_threads())])
    ranges = split(buckets, 4 * num_threads())
    np.cumsum(bounds[1], out=bounds[1])
    distinct = np.empty(int(bounds[1, -1]), values.dtype)
    cumulative = np.empty(distinct.size, np.int64)
    run_parallel(_distinct, [(dealt, bounds, a, b, distinct, cumulative) for a, b in ranges])
    results = convert(_interp(cumulative, dealt.size, quantiles, target_values))
    low, high = convert(np.array([low, high], np.float64))
    run_parallel(_write_counted, [(dealt, where, bounds, a, b, results, out) for a, b in ranges])
    if dealt.size < values.size:  # NaN, infinities, or pixels outside the mask
        run_parallel(_write_uncounted, [(*part, *rule, bounds[1], distinct, results, low, high, out[a:b])
                                        for (a, b), part in zip(tasks, slices)])
    return True
