"""Independent oracles: the textbook algorithm written as plain Python loops.

Nothing here imports napari_histeq. The float arithmetic follows the user's
document step by step (pdf = count / N, running sum, times L-1, round half to
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
    total = 0
    for i, value in enumerate(values):
        if selected is None or selected[i]:
            counts[value] += 1
            total += 1
    table = {}
    cumulative = 0.0
    for level in levels:
        cumulative += counts[level] / total  # pdf, summed in order
        table[level] = round(cumulative * span)  # Python's round: half to even
    return table


def textbook_equalize(image, *, lo=None, hi=None, mask=None):
    """The seed's algorithm on any 8/16-bit integer image, as plain loops.

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
