"""Numba kernels for the NumPy backend: 8- and 16-bit histograms and look-ups.

They accelerate the histogram and apply stages for images with one bin per
level, the common case. The plain NumPy path in ``_histogram`` / ``_apply``
stays the reference: the tests check these kernels against it, bit for bit.

Speed comes from reading the pixels as 64-bit words (8 or 4 pixels per load),
spreading increments over several sub-histograms (dark images hit the same
bin over and over), mapping two uint8 pixels per gather through a
65536-entry pair table, and splitting the work over all cores. Signed images
are handled by permuting the tables, not by touching every pixel.

The float kernels are in :mod:`.floats`, the split into tasks in :mod:`.partition`,
the word counters in :mod:`.counting`, and one uint8 group counted and mapped in one
launch of the threads in :mod:`.onepass`.

Each kernel is single-threaded and releases the GIL; it works on one
``[start, stop)`` range of its input, and :func:`.threads.run_parallel` runs
the ranges on the package's own threads (why not numba's ``parallel=True``:
see :mod:`.threads`). No lock: any number of threads may call at once.

Every loop runs over a slice indexed from 0: with ``range(start, stop)`` on the
whole array LLVM cannot prove the index non-negative and keeps numba's
negative-index wraparound in the hot loop, which halves the gather's speed.
"""

from __future__ import annotations

import numba
import numpy as np

from . import onepass  # noqa: F401 -- one uint8 group counted and mapped in one launch
from .counting import _counts_u8_words, _counts_u16_words, _counts_u16_words_direct
from .floats import finite_min_max, float_counts, float_gather  # noqa: F401 -- the float kernels, the same interface
from .partition import sum_rows, task_ranges, total_counts
from .ranks import matched_by_ranks  # noqa: F401 -- exact matching of floats and 32/64-bit integers
from .select import KeyCounts, linear_map  # noqa: F401 -- percentiles of floats, the map between limits
from .stretch_tables import stretch_tables  # noqa: F401 -- the contrast stretch's integer tables
from .threads import num_threads, run_parallel, split


@numba.njit(nogil=True, cache=True)
def _counts_masked(values, mask, h):
    for i in range(values.size):
        if mask[i]:
            h[values[i]] += 1


def _aligned_body(values, word_itemsize: int):
    """Split a 1D contiguous array into (head, body, tail) with ``body`` word-aligned."""
    itemsize = values.itemsize
    misalign = values.ctypes.data % word_itemsize
    head = 0 if misalign == 0 else (word_itemsize - misalign) // itemsize
    head = min(head, values.size)
    per_word = word_itemsize // itemsize
    body_len = (values.size - head) // per_word * per_word
    return values[:head], values[head : head + body_len], values[head + body_len :]


def level_counts(values, mask=None) -> np.ndarray:
    """Counts per level of a 1D contiguous uint8/uint16 array (int64, 256 or 65536 bins)."""
    nbins = 1 << (8 * values.itemsize)
    if mask is not None:
        ranges = task_ranges(values.size, 2)
        partial = np.zeros((len(ranges), nbins), np.int32)
        run_parallel(_counts_masked, [(values[a:b], mask[a:b], partial[t]) for t, (a, b) in enumerate(ranges)])
        return total_counts(partial)
    head, body, tail = _aligned_body(values, 8)
    counts = _word_counts(body.view(np.uint64)[None], values.itemsize, tasks_per_row=2 * num_threads())[0]
    for part in (head, tail):
        if part.size:
            counts += np.bincount(part, minlength=nbins)
    return counts


def level_counts_rows(rows, narrow=False) -> np.ndarray | None:
    """Counts per level of every row of a C-contiguous 2D uint8/uint16 array, in one parallel launch.

    Returns ``(rows, 256 or 65536)`` int64, or None when the rows do not all
    start on a 64-bit word (then :func:`level_counts` serves row by row).
    ``narrow``: int32 where each row is counted by one task (a task counts
    fewer than 2**31 pixels), half the memory to zero and read.
    """
    n_rows, n = rows.shape
    if rows.ctypes.data % 8 or (n * rows.itemsize) % 8:
        return None
    return _word_counts(rows.view(np.uint64), rows.itemsize, tasks_per_row=-(-2 * num_threads() // n_rows),
                        narrow=narrow)


def _word_counts(words, itemsize: int, tasks_per_row: int, narrow=False) -> np.ndarray:
    """Counts per level of each row of ``words`` (2D uint64 holding ``itemsize``-byte pixels), one launch."""
    kernel = _counts_u8_words if itemsize == 1 else _counts_u16_words
    per_row = task_ranges(words.shape[1], 1, pixels_per_item=8 // itemsize, parts=tasks_per_row)
    if itemsize == 2 and len(per_row) == 1 and words.shape[0] > 1:
        counts = np.zeros((words.shape[0], 1, 1 << 16), np.int32 if narrow else np.int64)
        run_parallel(_counts_u16_words_direct, [(words[g], counts[g]) for g in range(words.shape[0])])
        return counts[:, 0]
    partial = np.zeros((words.shape[0], len(per_row), kernel.copies, 1 << (8 * itemsize)), np.int32)
    run_parallel(kernel, [(words[g, a:b], partial[g, t]) for g in range(words.shape[0])
                          for t, (a, b) in enumerate(per_row)])
    if words.shape[0] == 1:  # one row: its bins split over the threads where there are enough of them
        return total_counts(partial[0])[None]
    # many rows: each thread sums whole rows, straight into the result (no per-row launch, no stack)
    rows = partial.reshape(words.shape[0], -1, partial.shape[-1])
    counts = np.empty((words.shape[0], partial.shape[-1]), np.int64)
    run_parallel(_sum_rows_each, [(rows[a:b], counts[a:b]) for a, b in split(words.shape[0], num_threads())])
    return counts


@numba.njit(nogil=True, cache=True)
def _sum_rows_each(partial, total):
    """``total[g] = partial[g].sum(axis=0)`` for every row ``g``, row after row (sequential adds)."""
    for g in range(partial.shape[0]):
        sum_rows(partial[g], total[g])


@numba.njit(nogil=True, cache=True)
def _gather_items(values, tables, out, per_row, first, last):
    """``out[g, i] = tables[g or 0][values[g, i]]`` for the items ``first..last`` (``per_row`` items a row)."""
    n = values.shape[1]
    shared = tables.shape[0] == 1
    step = (n + per_row - 1) // per_row
    for item in range(first, last):
        g = item // per_row
        c = item % per_row
        table = tables[0] if shared else tables[g]
        source, target = values[g, c * step : (c + 1) * step], out[g, c * step : (c + 1) * step]
        for i in range(source.size):
            target[i] = table[source[i]]


@numba.njit(nogil=True, cache=True)
def _pair_tables(tables, pairs):
    """For each uint8 table, the 65536-entry table that maps two pixels (one uint16) at once.

    Mapping is byte by byte, so the same table serves little- and big-endian machines.
    """
    for t in range(tables.shape[0]):
        for high in range(256):
            mapped_high = np.uint16(tables[t, high]) << 8
            for low in range(256):
                pairs[t, (high << 8) | low] = mapped_high | np.uint16(tables[t, low])


#: Rows per batch in gather_rows: bounds the pair tables to 8 MiB.
_ROWS_PER_BATCH = 64


def _gather_batch(values, tables, out) -> None:
    n_rows, n = values.shape
    per_row = max(1, -(-4 * num_threads() // n_rows))
    items = task_ranges(n_rows * per_row, 4, pixels_per_item=max(1, n // per_row))
    run_parallel(_gather_items, [(values, tables, out, per_row, a, b) for a, b in items])


def gather_rows(values, tables, out) -> None:
    """``out[g] = tables[g][values[g]]`` for 2D unsigned arrays (one shared table if ``len(tables) == 1``).

    ``values`` and ``out`` are C-contiguous ``(rows, n)``; ``tables`` is
    ``(1 or rows, 256 or 65536)``. uint8 rows of even length map two pixels
    per lookup through pair tables.
    """
    n_rows, n = values.shape
    for g0 in range(0, n_rows, _ROWS_PER_BATCH):
        g1 = min(n_rows, g0 + _ROWS_PER_BATCH)
        batch_tables = tables if tables.shape[0] == 1 else tables[g0:g1]
        if values.itemsize == 1 and n % 2 == 0:
            pairs = np.empty((batch_tables.shape[0], 65536), np.uint16)
            run_parallel(_pair_tables, [(batch_tables[a:b], pairs[a:b])
                                        for a, b in task_ranges(len(pairs), 1, pixels_per_item=65536)])
            _gather_batch(values[g0:g1].view(np.uint16), pairs, out[g0:g1].view(np.uint16))
        else:
            _gather_batch(values[g0:g1], batch_tables, out[g0:g1])


@numba.njit(nogil=True, cache=True)
def _standard_tables(counts, span, lo, tables):
    for g in range(counts.shape[0]):
        row = counts[g]
        table = tables[g]
        n = np.float64(row.sum())
        cdf = 0.0
        for i in range(row.size):
            cdf += np.float64(row[i]) / n
            table[i] = lo + min(np.int64(np.rint(cdf * span)), span)


def standard_tables(counts, lo, hi, tables) -> None:
    """The ``standard`` variant's integer tables, bit-exact with ``_transfer.standard_values``.

    ``counts`` is int64 ``(groups, nbins)``; ``tables`` (same shape, an
    integer dtype of at most 32 bits) receives ``lo + round(span * cdf)``:
    the same float64 divisions, running sum in bin order, product and
    round-half-to-even as the NumPy reference, in one pass instead of five.
    """
    ranges = task_ranges(counts.shape[0], 1, pixels_per_item=counts.shape[1])
    run_parallel(_standard_tables, [(counts[a:b], hi - lo, lo, tables[a:b]) for a, b in ranges])


@numba.njit(nogil=True, cache=True)
def _matched_tables(counts, xp, fp, shift, lo, span, first, stop, tables):
    """``_match_transfer.MatchTransfer.values`` then ``lut_from_values``, group by group, sequentially.

    Each occupied bin's share is ``running / total`` (int64 division, as the
    reference), interpolated as ``numpy.interp`` does (its special cases and
    its ``slope * (x - xp[j]) + fp[j]``); an empty bin repeats the last value.
    The shares rise along a row, so the interval is found by walking forward.
    """
    n = xp.shape[0]
    lowest = min(max(np.rint(fp[0] - shift), 0.0), span)
    for g in range(first, stop):
        row, table = counts[g], tables[g]
        total = 0
        for b in range(row.shape[0]):
            total += row[b]
        value = lowest
        running = 0
        j = 0  # xp[j] <= share < xp[j + 1], found by walking forward
        for b in range(row.shape[0]):
            if row[b] != 0:
                running += row[b]
                x = running / total
                while j < n and xp[j] <= x:
                    j += 1
                j -= 1  # now the last index with xp[j] <= x (-1: below every reference value)
                if j == -1:
                    interpolated = fp[0]
                    j = 0
                elif j >= n - 1:
                    interpolated = fp[n - 1]
                elif xp[j] == x:
                    interpolated = fp[j]
                else:
                    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
                    interpolated = slope * (x - xp[j]) + fp[j]
                    if np.isnan(interpolated):
                        interpolated = slope * (x - xp[j + 1]) + fp[j + 1]
                        if np.isnan(interpolated) and fp[j] == fp[j + 1]:
                            interpolated = fp[j]
                value = min(max(np.rint(interpolated - shift), 0.0), span)
            table[b] = lo + value


def matched_tables(counts, transfer, lo, hi, tables) -> None:
    """Histogram matching's integer tables (up to 32 bits), bit-exact with the NumPy reference.

    ``transfer``: a ``MatchTransfer`` (the reference's values and shares, and
    the offset its values are taken from); the tables run from ``lo`` to ``hi``.
    """
    xp = np.ascontiguousarray(transfer.quantiles, np.float64)
    fp = np.ascontiguousarray(transfer.values_at, np.float64)
    ranges = task_ranges(counts.shape[0], 1, pixels_per_item=counts.shape[1])
    run_parallel(_matched_tables, [(counts, xp, fp, float(transfer.lo), float(lo), float(hi - lo), a, b, tables)
                                   for a, b in ranges])


# -- floats: bins of equal width over a range; the same float64 operations as the reference --
