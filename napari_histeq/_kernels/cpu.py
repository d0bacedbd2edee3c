"""Numba kernels for the NumPy backend: 8- and 16-bit histograms and look-ups.

They accelerate the histogram and apply stages for images with one bin per
level, the common case. The plain NumPy path in ``_histogram`` / ``_apply``
stays the reference: the tests check these kernels against it, bit for bit.

Speed comes from reading the pixels as 64-bit words (8 or 4 pixels per load),
spreading increments over several sub-histograms (dark images hit the same
bin over and over), mapping two uint8 pixels per gather through a
65536-entry pair table, and splitting the work over all cores. Signed images
are handled by permuting the tables, not by touching every pixel.

Every loop runs over a slice indexed from 0: with ``range(start, stop)`` on the
whole array LLVM cannot prove the index non-negative and keeps numba's
negative-index wraparound in the hot loop, which halves the gather's speed.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

# Numba's default threading layer must not be entered from two threads at once
# (napari's worker and the live preview can both call in): one caller at a time.
_LOCK = threading.Lock()
_MAX_CHUNK = 1 << 30  # int32 sub-histograms must not overflow


def _chunks(n: int) -> int:
    return max(2 * numba.get_num_threads(), -(-n // _MAX_CHUNK), 1)


def _word_counter(bits: int, copies: int):
    """A kernel counting ``bits``-wide pixels read as 64-bit words, into ``copies`` interleaved sub-histograms.

    ``bits`` and ``copies`` are compile-time constants of each kernel, so the
    loop over a word's pixels unrolls fully (a runtime ``bits`` is 8x slower).
    """
    levels = 1 << bits
    per_word = 64 // bits

    @numba.njit(parallel=True, nogil=True, cache=True)
    def count(words, chunks):
        step = (words.size + chunks - 1) // chunks
        partial = np.zeros((chunks, copies, levels), np.int32)
        for c in numba.prange(chunks):
            h = partial[c]
            for w in words[c * step : (c + 1) * step]:
                for k in range(per_word):
                    h[k % copies, (w >> (k * bits)) & (levels - 1)] += 1
        return partial

    return count


# Dark uint8 images hit the same few bins over and over: four copies break the
# store-to-load chains. For uint16, two copies measured best overall (one is faster
# on spread-out dark images, but a third slower on images with only a few levels).
_counts_u8_words = _word_counter(8, copies=4)
_counts_u16_words = _word_counter(16, copies=2)


@numba.njit(parallel=True, nogil=True, cache=True)
def _counts_masked(values, mask, nbins, chunks):
    n = values.size
    step = (n + chunks - 1) // chunks
    partial = np.zeros((chunks, nbins), np.int32)
    for c in numba.prange(chunks):
        h = partial[c]
        chunk, chunk_mask = values[c * step : (c + 1) * step], mask[c * step : (c + 1) * step]
        for i in range(chunk.size):
            if chunk_mask[i]:
                h[chunk[i]] += 1
    return partial


@numba.njit(parallel=True, nogil=True, cache=True)
def _sum_rows(partial):
    nbins = partial.shape[1]
    total = np.empty(nbins, np.int64)
    for b in numba.prange(nbins):
        s = 0
        for r in range(partial.shape[0]):
            s += partial[r, b]
        total[b] = s
    return total


def _total(partial) -> np.ndarray:
    """Sum a kernel's per-chunk (and per-copy) int32 sub-histograms into int64 counts."""
    return _sum_rows(partial.reshape(-1, partial.shape[-1]))


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
    with _LOCK:
        if mask is not None:
            return _total(_counts_masked(values, mask, nbins, _chunks(values.size)))
        head, body, tail = _aligned_body(values, 8)
        kernel = _counts_u8_words if values.itemsize == 1 else _counts_u16_words
        counts = _total(kernel(body.view(np.uint64), _chunks(body.size)))
    for part in (head, tail):
        if part.size:
            counts += np.bincount(part, minlength=nbins)
    return counts


@numba.njit(parallel=True, nogil=True, cache=True)
def _gather_rows(values, tables, out, chunks_per_row):
    """``out[g, i] = tables[g or 0][values[g, i]]``: many rows, one parallel launch."""
    n_rows, n = values.shape
    shared = tables.shape[0] == 1
    step = (n + chunks_per_row - 1) // chunks_per_row
    for item in numba.prange(n_rows * chunks_per_row):
        g = item // chunks_per_row
        c = item % chunks_per_row
        table = tables[0] if shared else tables[g]
        source, target = values[g, c * step : (c + 1) * step], out[g, c * step : (c + 1) * step]
        for i in range(source.size):
            target[i] = table[source[i]]


@numba.njit(parallel=True, nogil=True, cache=True)
def _pair_tables(tables):
    """For each uint8 table, the 65536-entry table that maps two pixels (one uint16) at once.

    Mapping is byte by byte, so the same table serves little- and big-endian machines.
    """
    pairs = np.empty((tables.shape[0], 65536), np.uint16)
    for t in numba.prange(tables.shape[0]):
        for high in range(256):
            mapped_high = np.uint16(tables[t, high]) << 8
            for low in range(256):
                pairs[t, (high << 8) | low] = mapped_high | np.uint16(tables[t, low])
    return pairs


#: Rows per launch in gather_rows: bounds the pair tables to 8 MiB.
_ROWS_PER_LAUNCH = 64


def gather_rows(values, tables, out) -> None:
    """``out[g] = tables[g][values[g]]`` for 2D unsigned arrays (one shared table if ``len(tables) == 1``).

    ``values`` and ``out`` are C-contiguous ``(rows, n)``; ``tables`` is
    ``(1 or rows, 256 or 65536)``. uint8 rows of even length map two pixels
    per lookup through pair tables.
    """
    n_rows, n = values.shape
    per_row = max(1, -(-2 * numba.get_num_threads() // n_rows), -(-n // _MAX_CHUNK))
    with _LOCK:
        for g0 in range(0, n_rows, _ROWS_PER_LAUNCH):
            g1 = min(n_rows, g0 + _ROWS_PER_LAUNCH)
            batch_tables = tables if tables.shape[0] == 1 else tables[g0:g1]
            if values.itemsize == 1 and n % 2 == 0:
                _gather_rows(values[g0:g1].view(np.uint16), _pair_tables(batch_tables),
                             out[g0:g1].view(np.uint16), per_row)
            else:
                _gather_rows(values[g0:g1], batch_tables, out[g0:g1], per_row)


@numba.njit(parallel=True, nogil=True, cache=True)
def _standard_tables(counts, span, lo, tables):
    for g in numba.prange(counts.shape[0]):
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
    with _LOCK:
        _standard_tables(counts, hi - lo, lo, tables)


# -- floats: bins of equal width over a range; the same float64 operations as the reference --


@numba.njit(parallel=True, nogil=True, cache=True)
def _finite_min_max(values, mask, use_mask, chunks):
    n = values.size
    step = (n + chunks - 1) // chunks
    lows = np.full(chunks, np.inf)
    highs = np.full(chunks, -np.inf)
    for c in numba.prange(chunks):
        low, high = np.inf, -np.inf
        chunk = values[c * step : (c + 1) * step]
        chunk_mask = mask[c * step : (c + 1) * step] if use_mask else mask
        for i in range(chunk.size):
            x = np.float64(chunk[i])
            if np.isfinite(x) and (not use_mask or chunk_mask[i]):
                low = min(low, x)
                high = max(high, x)
        lows[c], highs[c] = low, high
    return lows.min(), highs.max()


@numba.njit(nogil=True, inline="always")
def _float_bin(x, start, scale, nbins):
    index = np.floor((x - start) * scale)
    return int(min(max(index, 0.0), nbins - 1.0))


@numba.njit(parallel=True, nogil=True, cache=True)
def _float_counts(values, mask, use_mask, start, scale, nbins, chunks):
    n = values.size
    step = (n + chunks - 1) // chunks
    partial = np.zeros((chunks, nbins), np.int32)
    for c in numba.prange(chunks):
        h = partial[c]
        chunk = values[c * step : (c + 1) * step]
        chunk_mask = mask[c * step : (c + 1) * step] if use_mask else mask
        for i in range(chunk.size):
            x = np.float64(chunk[i])
            if np.isfinite(x) and (not use_mask or chunk_mask[i]):
                h[_float_bin(x, start, scale, nbins)] += 1
    return partial


@numba.njit(parallel=True, nogil=True, cache=True)
def _float_gather(values, start, scale, table, low, high, out, chunks):
    n = values.size
    nbins = table.size
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        chunk, target = values[c * step : (c + 1) * step], out[c * step : (c + 1) * step]
        for i in range(chunk.size):
            x = np.float64(chunk[i])
            if np.isfinite(x):
                target[i] = table[_float_bin(x, start, scale, nbins)]
            elif np.isnan(x):
                target[i] = np.nan
            else:
                target[i] = high if x > 0 else low


def finite_min_max(values, mask=None):
    """Min and max of the finite (and masked) values of a 1D contiguous float array."""
    with _LOCK:
        use_mask = mask is not None
        return _finite_min_max(values, mask if use_mask else _NO_MASK, use_mask, _chunks(values.size))


def float_counts(values, start, scale, nbins, mask=None):
    """Counts per bin of a 1D contiguous float array: ``floor((x - start) * scale)``, clipped."""
    with _LOCK:
        use_mask = mask is not None
        return _total(_float_counts(values, mask if use_mask else _NO_MASK, use_mask, float(start),
                                    float(scale), nbins, _chunks(values.size)))


def float_gather(values, start, scale, table, low, high, out):
    """``out = table[bin(values)]``; NaN stays NaN, +-inf become ``high`` / ``low``."""
    with _LOCK:
        _float_gather(values, float(start), float(scale), table, low, high, out, _chunks(values.size))


_NO_MASK = np.ones(1, dtype=bool)
