"""One histogram group of uint8 or uint16 pixels, counted and mapped in one launch of the helper threads.

The general kernels hand every stage to the threads anew (count, pair
tables, gather): each hand-off takes the GIL back and forth, and for a
512x512 image the Python between the stages cost as much as the stages.
Here the helpers are launched once. Every thread, the caller included,
claims parts of the image and counts them; the caller sums the counts and
has its table built (in Python: any transfer); meanwhile the helpers wait
inside the kernel, without the GIL, for the table; then every thread claims
half of the pair table (uint8: two pixels mapped per look-up), and parts of
the image to map. A uint16 image is mapped through its table itself, four
pixels to a 64-bit word as a uint8 image's pairs are.

Work is *claimed* (an atomic 0 -> 1), never assigned: the caller claims what
no helper has started, so it waits only for work in progress, never for a
helper still queued behind another call (no deadlock from a pool thread or
a busy pool). A helper that has waited for the table longer than its half
of the mapping would take goes away, and the caller maps the rest.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from .counting import _counts_u8_words, _counts_u16_words
from .partition import MIN_TASK_PIXELS, sum_rows
from .spin import (
    SPIN_SECONDS,
    claim,
    fetch_add,
    load_acquire,
    store_release,
    usable,  # noqa: F401 -- where the waiting kernels do not link, the general path serves
    yield_core,
)
from .threads import helpers_asleep, num_threads, split, start_on_helpers, wake_helpers

#: Parts per thread: small enough for a late helper to still find some, few enough to claim quickly.
_PARTS_PER_THREAD = 2
#: Reads (each after offering the core away) the caller waits for its helpers to leave the GIL:
#: about 25 us on an idle core, the few microseconds of Python a helper runs after its share.
_RETURN_WAITS = 64
#: One thread's time to map a pixel (about, on the 2-core EPYC). A helper waits for the table up to
#: what its half of the mapping would take, and never less than the pool's watch: a stretch's or a
#: matching's table, built in Python, can take half a millisecond on cold caches, and a 16 MiB map
#: left to the caller alone cost it 1.2 ms more.
_MAP_SECONDS_PER_PIXEL = 0.15e-9
#: Below this many pixels a lane whose helpers are all asleep runs on the calling thread alone. On the
#: 2-core EPYC guest a sleeping helper ran again 25-45 us after the caller's wake-up call (more when its
#: core had gone idle), by when the caller had counted most of a 512x512 image: 2 ms after the last
#: call, one took 112 us with the helper and 92 us without. (1024x1024: 350 and 340 us; 2048x2048:
#: 1.04 and 1.21 ms.) The helpers are woken all the same, to watch for a next call; the caller alone
#: must be done before their watch (:data:`.spin.SPIN_SECONDS`) ends, or calls in a loop would find
#: them asleep every time and never share: hence 2**19 pixels (about 150 us alone), not 2**20.
_ALONE_BELOW = 1 << 19
#: No part counts more pixels than its int32 sub-histograms hold.
_MAX_PART_WORDS = 1 << 27

# The cells after the 2 x parts claims (counting, mapping) and the 2 pair-table halves' claims.
_COUNTED, _TABLE, _PAIRED, _MAPPED, _STARTED, _FAULTED, _SLOTS = 0, 1, 2, 3, 4, 5, 6
#: 64-bit words in a 4 KiB page of memory.
_PAGE_WORDS = 512


@numba.njit(nogil=True, cache=True)
def _count_claimed(words, bounds, partials, cells):
    parts = bounds.size - 1
    for p in range(parts):
        if claim(cells, p):
            partials[p] = 0  # zeroed here, by its claimer, in parallel and just before use
            if partials.shape[2] == 256:
                _counts_u8_words(words[bounds[p] : bounds[p + 1]], partials[p])
            else:
                _counts_u16_words(words[bounds[p] : bounds[p + 1]], partials[p])
            fetch_add(cells, 2 * parts + 2 + _COUNTED, 1)


@numba.njit(nogil=True, cache=True)
def _pairs_claimed(table, pairs, cells, parts):
    for half in range(2):
        if claim(cells, 2 * parts + half):
            for high in range(128 * half, 128 * half + 128):
                mapped_high = np.uint16(table[high]) << 8
                row = pairs[high << 8 : (high + 1) << 8]
                for low in range(256):
                    row[low] = mapped_high | np.uint16(table[low])
            fetch_add(cells, 2 * parts + 2 + _PAIRED, 1)


@numba.njit(nogil=True, cache=True)
def _map_claimed(words, pairs, out_words, bounds, cells):
    """``out = pairs[values]`` over the claimed parts, a 64-bit word at a time: its four 16-bit pieces (two
    uint8 pixels through the pair table, or one uint16 pixel through its table) looked up, one store.

    (The pieces go back where they were in the word, so the result is the same on either byte order.)
    """
    parts = bounds.size - 1
    for p in range(parts):
        if claim(cells, parts + p):
            source, target = words[bounds[p] : bounds[p + 1]], out_words[bounds[p] : bounds[p + 1]]
            for i in range(source.size):
                word = source[i]
                target[i] = (np.uint64(pairs[word & 0xFFFF]) | (np.uint64(pairs[(word >> 16) & 0xFFFF]) << 16)
                             | (np.uint64(pairs[(word >> 32) & 0xFFFF]) << 32) | (np.uint64(pairs[word >> 48]) << 48))
            fetch_add(cells, 2 * parts + 2 + _MAPPED, 1)


@numba.njit(nogil=True, cache=True)
def _wait_for(cells, index, value):
    """Until the count ``cells[index]`` reaches ``value``: work in progress on another thread, a short wait.

    (At least, not exactly: a helper that joins late is counted in ``returned`` but was not in the
    number of helpers started that the caller read.)
    """
    while load_acquire(cells, index) < value:
        yield_core()


@numba.njit(nogil=True, cache=True)
def _help(words, bounds, partials, table, pairs, out_words, cells, spins):
    """A helper's whole share: count, wait for the table (``spins`` idle reads at most), pair tables, map.

    While it waits for the table, a helper faults in the output's pages, one after another (an
    atomic add of 0 per page: it changes no value, whoever else writes there): a fresh output's
    pages would otherwise be faulted in, the system zeroing each, while mapping.
    """
    parts = bounds.size - 1
    fetch_add(cells, 2 * parts + 2 + _STARTED, 1)
    _count_claimed(words, bounds, partials, cells)
    idle = 0
    while idle < spins and load_acquire(cells, 2 * parts + 2 + _TABLE) == 0:
        page = fetch_add(cells, 2 * parts + 2 + _FAULTED, _PAGE_WORDS)
        if page < out_words.size:
            fetch_add(out_words, page, np.uint64(0))
        else:
            idle += 1
            yield_core()
    if load_acquire(cells, 2 * parts + 2 + _TABLE) != 1:  # not ready in time, or the table failed
        return
    _pairs_claimed(table, pairs, cells, parts)
    _wait_for(cells, 2 * parts + 2 + _PAIRED, 2)
    _map_claimed(words, pairs, out_words, bounds, cells)


@numba.njit(nogil=True, cache=True)
def _count(words, bounds, partials, tail, cells, counts, announce, generation):
    """The caller's share of counting, then the sum of every part's counts (and the tail's) into ``counts``.

    First the helpers' work is announced (``generation`` into ``announce``, when not 0), the GIL let go.
    """
    if generation != 0:
        store_release(announce, 0, np.int64(generation))
    parts = bounds.size - 1
    _count_claimed(words, bounds, partials, cells)
    _wait_for(cells, 2 * parts + 2 + _COUNTED, parts)
    sum_rows(partials.reshape(-1, partials.shape[2]), counts)
    for i in range(tail.size):
        counts[tail[i]] += 1


@numba.njit(nogil=True, cache=True)
def _map(table, pairs, words, out_words, bounds, tail, tail_out, cells, returned):
    """The caller's share of mapping: the table published, pair tables, parts, the tail, and the waits.

    The last wait is for every helper that took part to be back outside the GIL (``returned``
    counts them): the caller then takes the GIL without a helper holding it (asleep, see
    :mod:`.spin`, while a helper finishes in Python). It is bounded: on a busy machine a helper
    may not get its core back for milliseconds, and then it is the helper that waits for the GIL.
    """
    parts = bounds.size - 1
    store_release(cells, 2 * parts + 2 + _TABLE, np.int64(1))
    _pairs_claimed(table, pairs, cells, parts)
    _wait_for(cells, 2 * parts + 2 + _PAIRED, 2)
    _map_claimed(words, pairs, out_words, bounds, cells)
    for i in range(tail.size):
        tail_out[i] = table[tail[i]]
    _wait_for(cells, 2 * parts + 2 + _MAPPED, parts)
    started = load_acquire(cells, 2 * parts + 2 + _STARTED)
    for _ in range(_RETURN_WAITS):  # bounded: a helper whose core another process took may be long
        if load_acquire(returned, 0) >= started:
            break
        yield_core()


@functools.lru_cache(maxsize=64)
def _bounds(n_words: int, parts: int) -> np.ndarray:
    """The parts' first words and the end, ``parts`` near-equal parts (shared between calls: not to be written)."""
    bounds = np.array([0] + [b for _, b in split(n_words, parts)] if n_words else [0], np.int64)
    return bounds


def _helper_share(arrays, patience, returned, spins):
    """A helper's share of a lane (``spins``: the pool's watch, ``patience`` times it for the table);
    it returns ``returned`` for its thread to count up outside the GIL.
    """
    _help(*arrays, spins * patience)
    return returned


class OnePass:
    """Count a C-contiguous, 8-byte-aligned uint8 or uint16 array, then map it into ``out`` (:attr:`result`,
    any C-contiguous array of its size and dtype, the array itself included) through a table built in between.

    ``with OnePass(values, out) as lane: counts = lane.count(); lane.apply(table)``;
    leaving the block early (the table failed) sends the helpers away.
    """

    def __init__(self, values: np.ndarray, out: np.ndarray):
        self.result = out
        values, out = values.reshape(-1), out.reshape(-1)
        levels = 1 << (8 * values.itemsize)
        n_words = values.size // (8 // values.itemsize)
        body = n_words * (8 // values.itemsize)
        self.words = values[:body].view(np.uint64)
        self.out_words = out[:body].view(np.uint64)
        self.tail, self.tail_out = values[body:], out[body:]
        threads = num_threads()
        if threads > 1 and values.size < _ALONE_BELOW and helpers_asleep():
            wake_helpers(threads)  # to watch for the next call: this one is over before they could join it
            threads = 1
        parts = _PARTS_PER_THREAD * threads
        if levels > 256:  # a part's 65536-level sub-histograms are worth zeroing and summing for a big part only
            parts = min(parts, max(1, values.size // MIN_TASK_PIXELS))
        self.bounds = _bounds(n_words, max(parts, -(-n_words // _MAX_PART_WORDS)))
        parts = self.bounds.size - 1
        counter = _counts_u8_words if levels == 256 else _counts_u16_words
        self.partials = (np.empty if parts else np.zeros)((max(parts, 1), counter.copies, levels), np.int32)
        self.table = np.zeros(levels, values.dtype)
        self.cells = np.zeros(2 * parts + 2 + _SLOTS, np.int64)
        self._table_cell = 2 * parts + 2 + _TABLE
        if levels == 256:
            self.pairs = np.empty(65536, np.uint16)
        else:  # no pair table to build: its two halves count as claimed and built
            self.pairs = self.table
            self.cells[2 * parts : 2 * parts + 2] = 1
            self.cells[2 * parts + 2 + _PAIRED] = 2
        self.returned = np.zeros(1, np.int64)
        self._patience = max(1, round(values.size * _MAP_SECONDS_PER_PIXEL / 2 / SPIN_SECONDS))
        started = None
        if threads > 1 and parts > 1:
            # the helpers get the arrays, not the lane: a task that held the lane, kept by the lane's own
            # withdrawal, would be a cycle keeping the output alive until the next cyclic collection
            arrays = (self.words, self.bounds, self.partials, self.table, self.pairs, self.out_words, self.cells)
            task = functools.partial(_helper_share, arrays, self._patience, self.returned)
            started = start_on_helpers(task, threads - 1, threads)
        self.announce, self.generation, self._withdraw = started or (np.zeros(1, np.int64), 0, lambda: None)

    def count(self) -> np.ndarray:
        """The int64 counts of the 256 or 65536 levels."""
        counts = np.empty(self.table.size, np.int64)
        _count(self.words, self.bounds, self.partials, self.tail, self.cells, counts, self.announce, self.generation)
        return counts

    def apply(self, table: np.ndarray) -> None:
        """Map every pixel through ``table`` (one entry of the image's dtype per level) into ``out``."""
        self.table[:] = table
        _map(self.table, self.pairs, self.words, self.out_words, self.bounds, self.tail, self.tail_out, self.cells,
             self.returned)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.cells[self._table_cell] == 0:  # no table: helpers waiting for one stop waiting
            self.cells[self._table_cell] = -1
        self._withdraw()
        return False
