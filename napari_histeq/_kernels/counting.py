"""The counting kernels: 8- and 16-bit pixels read as 64-bit words, into interleaved sub-histograms."""

from __future__ import annotations

import numba


def _word_counter(bits: int, copies: int):
    """A kernel counting ``bits``-wide pixels read as 64-bit words, into ``copies`` interleaved sub-histograms.

    ``bits`` and ``copies`` are compile-time constants of each kernel, so the
    loop over a word's pixels unrolls fully (a runtime ``bits`` is 8x slower).
    """
    levels = 1 << bits
    per_word = 64 // bits

    @numba.njit(nogil=True, cache=True)
    def count(words, h):
        for w in words:
            for k in range(per_word):
                h[k % copies, (w >> (k * bits)) & (levels - 1)] += 1

    count.copies = copies
    return count


# Dark uint8 images hit the same few bins over and over: four copies break the
# store-to-load chains. For uint16, two copies measured best overall (one is faster
# on spread-out dark images, but a third slower on images with only a few levels).
_counts_u8_words = _word_counter(8, copies=4)
_counts_u16_words = _word_counter(16, copies=2)
# Many uint16 rows, one task each: one copy counted straight into each row's int64 result
# spares zeroing and summing a 65536-bin int32 partial per copy and row.
_counts_u16_words_direct = _word_counter(16, copies=1)
