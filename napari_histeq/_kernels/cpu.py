"""Numba kernels for the NumPy backend: 8- and 16-bit histograms and look-ups.

They accelerate the histogram and apply stages for images with one bin per
level, the common case. The plain NumPy path in ``_histogram`` / ``_apply``
stays the reference: the tests check these kernels against it, bit for bit.

Speed comes from reading the pixels as 64-bit words (8 or 4 pixels per load),
spreading increments over several sub-histograms (dark images hit the same
bin over and over), mapping two uint8 pixels per gather through a
65536-entry pair table, and splitting the work over all cores. Signed images
are handled by permuting the tables, not by touching every pixel.
"""

from __future__ import annotations

import sys
import threading

import numba
import numpy as np

# Numba's default threading layer must not be entered from two threads at once
# (napari's worker and the live preview can both call in): one caller at a time.
_LOCK = threading.Lock()
_MAX_CHUNK = 1 << 30  # int32 sub-histograms must not overflow


def _chunks(n: int) -> int:
    return max(2 * numba.get_num_threads(), -(-n // _MAX_CHUNK), 1)


@numba.njit(parallel=True, nogil=True, cache=True)
def _counts_u8_words(words, chunks):
    n = words.size
    step = (n + chunks - 1) // chunks
    partial = np.zeros((chunks, 4, 256), np.int32)
    for c in numba.prange(chunks):
        h = partial[c]
        for i in range(c * step, min(n, (c + 1) * step)):
            w = words[i]
            h[0, w & 0xFF] += 1
            h[1, (w >> 8) & 0xFF] += 1
            h[2, (w >> 16) & 0xFF] += 1
            h[3, (w >> 24) & 0xFF] += 1
            h[0, (w >> 32) & 0xFF] += 1
            h[1, (w >> 40) & 0xFF] += 1
            h[2, (w >> 48) & 0xFF] += 1
            h[3, w >> 56] += 1
    counts = np.zeros(256, np.int64)
    for c in range(chunks):
        for k in range(4):
            counts += partial[c, k]
    return counts


@numba.njit(parallel=True, nogil=True, cache=True)
def _counts_u16_words(words, chunks):
    n = words.size
    step = (n + chunks - 1) // chunks
    partial = np.zeros((chunks, 2, 65536), np.int32)
    for c in numba.prange(chunks):
        h = partial[c]
        for i in range(c * step, min(n, (c + 1) * step)):
            w = words[i]
            h[0, w & 0xFFFF] += 1
            h[1, (w >> 16) & 0xFFFF] += 1
            h[0, (w >> 32) & 0xFFFF] += 1
            h[1, w >> 48] += 1
    counts = np.zeros(65536, np.int64)
    for c in range(chunks):
        counts += partial[c, 0]
        counts += partial[c, 1]
    return counts


@numba.njit(parallel=True, nogil=True, cache=True)
def _counts_masked(values, mask, nbins, chunks):
    n = values.size
    step = (n + chunks - 1) // chunks
    partial = np.zeros((chunks, nbins), np.int32)
    for c in numba.prange(chunks):
        h = partial[c]
        for i in range(c * step, min(n, (c + 1) * step)):
            if mask[i]:
                h[values[i]] += 1
    counts = np.zeros(nbins, np.int64)
    for c in range(chunks):
        counts += partial[c]
    return counts


@numba.njit(parallel=True, nogil=True, cache=True)
def _gather(values, table, out, chunks):
    n = values.size
    step = (n + chunks - 1) // chunks
    for c in numba.prange(chunks):
        for i in range(c * step, min(n, (c + 1) * step)):
            out[i] = table[values[i]]


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
            return _counts_masked(values, mask, nbins, _chunks(values.size))
        head, body, tail = _aligned_body(values, 8)
        kernel = _counts_u8_words if values.itemsize == 1 else _counts_u16_words
        counts = kernel(body.view(np.uint64), _chunks(body.size))
    for part in (head, tail):
        if part.size:
            counts += np.bincount(part, minlength=nbins)
    return counts


@numba.njit(nogil=True, cache=True)
def _pair_table(table, first_pixel_low):
    pairs = np.empty(65536, np.uint16)
    for a in range(256):
        for b in range(256):
            # the uint16 whose memory bytes are (a, b) maps to bytes (table[a], table[b])
            if first_pixel_low:
                pairs[(b << 8) | a] = (np.uint16(table[b]) << 8) | np.uint16(table[a])
            else:
                pairs[(a << 8) | b] = (np.uint16(table[a]) << 8) | np.uint16(table[b])
    return pairs


def pair_table(table: np.ndarray) -> np.ndarray:
    """A 65536-entry table mapping two uint8 pixels (one uint16) at once."""
    return _pair_table(table, sys.byteorder == "little")


def gather(values, table, out, pairs=None) -> None:
    """``out[i] = table[values[i]]`` for 1D contiguous unsigned arrays.

    For uint8 pass ``pairs=pair_table(table)`` to map two pixels per lookup.
    """
    with _LOCK:
        if pairs is None or values.itemsize != 1:
            _gather(values, table, out, _chunks(values.size))
            return
        head, body, tail = _aligned_body(values, 2)
        body_end = head.size + body.size
        out_head, out_body, out_tail = out[: head.size], out[head.size : body_end], out[body_end:]
        if out_body.ctypes.data % 2 == 0:
            _gather(body.view(np.uint16), pairs, out_body.view(np.uint16), _chunks(body.size // 2))
        else:  # output not aligned with the input: one pixel at a time
            _gather(body, table, out_body, _chunks(body.size))
    out_head[:] = table[head]
    out_tail[:] = table[tail]
