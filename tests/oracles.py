"""Independent oracles: the textbook algorithm written as plain Python loops.

Nothing here imports napari_histeq. The float arithmetic follows the textbook
algorithm step by step (pdf = count / N, running sum, times L-1, round half to
even), in Python floats, which are IEEE doubles like NumPy's float64.
"""

from __future__ import annotations

import numpy as np


def textbook_table(values, levels, span, selected=None):
    """Look-up table {level: output offset} from a per-pixel loop over ``values``.

    ``levels`` is the ordered list of possible input levels; ``span`` is the
    output's L-1. ``selected`` (same length as values) restricts the count.
    """
    counts = {level: 0 for level in levels}
    for i, value in enumerate(values):
        if selected is None or selected[i]:
            counts[value] += 1
    return textbook_table_from_counts(counts, span)


def textbook_table_from_counts(counts, span):
    """Look-up table {level: output offset} from {level: count}, levels in order."""
    total = sum(counts.values())
    table = {}
    cumulative = 0.0
    for level, count in counts.items():
        cumulative += count / total  # pdf, summed in order
        table[level] = round(cumulative * span)  # Python's round: half to even
    return table


def two_gigapixel_image():
    """A uint8 image of 2**31 + 2**16 pixels, the 16 rows it cycles through, and its counts {level: count}.

    Its rows of 65536 pixels cycle through 16 scrambled rows, so it is counted
    from those rows and how often each occurs, without a pass over its 2 GiB.
    """
    pattern = (((np.arange(1 << 20, dtype=np.uint64) * 2654435761) >> 7) % 200).astype(np.uint8).reshape(16, 1 << 16)
    n_rows = (2**31 >> 16) + 1
    image = np.empty((n_rows, 1 << 16), np.uint8)
    for k in range(16):
        image[k::16] = pattern[k]
    counts = {level: 0 for level in range(256)}
    for k in range(16):
        occurrences = len(range(k, n_rows, 16))
        for level, count in enumerate(np.bincount(pattern[k], minlength=256).tolist()):
            counts[level] += count * occurrences
    return image, pattern, counts


def textbook_equalize(image, *, lo=None, hi=None, mask=None):
    """The textbook algorithm on any 8/16-bit integer image, as plain loops.

    ``lo..hi`` defaults to the dtype's range; the output is ``lo + table``.
    """
    image = np.asarray(image)
    info = np.iinfo(image.dtype)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    values = [int(v) for v in image.ravel()]
    selected = None if mask is None else [bool(m) for m in np.broadcast_to(mask, image.shape).ravel()]
    table = textbook_table(values, range(info.min, info.max + 1), hi - lo, selected)
    out = [lo + table[v] for v in values]
    return np.array(out, dtype=image.dtype).reshape(image.shape)
