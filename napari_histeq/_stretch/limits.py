"""Where a stretch starts and ends: ImageJ's saturated pixels, NumPy's percentiles, a CT window.

Each function takes one histogram group's counts over integer levels (one
bin per level) and returns the low and high limits as values, computed as the
peer computes them: ImageJ's ``ContrastEnhancer.getMinAndMax`` (a threshold of
``int(pixels * saturated / 200)`` from each end), ``numpy.percentile``'s
linear method (the virtual index ``(n - 1) * q`` and its two-sided lerp), and
the presets of a CT window.
"""

from __future__ import annotations

import numpy as np

#: CT windows as (centre, width) in Hounsfield units, as radiology references tabulate them
#: (Radiopaedia, "Windowing (CT)"; subdural: the middle of its usual range).
CT_WINDOWS = {
    "brain": (40.0, 80.0),
    "subdural": (75.0, 215.0),
    "stroke": (40.0, 40.0),
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
    "liver": (30.0, 150.0),
    "bone": (400.0, 1800.0),
}


def imagej_bins(counts, saturated: float) -> tuple[int, int]:
    """ImageJ's ``hmin, hmax``: the first bin from each end where the running count passes the threshold."""
    total = int(counts.sum())
    threshold = int(total * saturated / 200.0) if saturated > 0.0 else 0
    running = np.cumsum(counts)
    last = counts.size - 1
    low = min(int(np.searchsorted(running, threshold, side="right")), last)
    from_top = np.cumsum(counts[::-1])
    high = max(last - int(np.searchsorted(from_top, threshold, side="right")), 0)
    return low, high


#: Bins of a value's sortable key: its top 16 bits.
KEY_BINS = 1 << 16


def order_statistics(counts, ranks_of, copy_wanted):
    """``(statistics, n)``: the exact values of the ranks ``ranks_of(n)`` names (0-based, ascending) among
    ``n`` counted values, from their counts by key bin (``counts``, ``KEY_BINS`` of them, a bin's values
    above those of the bins below it) and ``copy_wanted(wanted)``, which returns the values of the bins
    ``wanted`` marks. Only those few are partitioned; nothing when nothing was counted.
    """
    running = np.cumsum(counts)
    n = int(running[-1])
    if n == 0:
        return [], 0
    ranks = [min(max(int(r), 0), n - 1) for r in ranks_of(n)]
    bins = [int(np.searchsorted(running, r, side="right")) for r in ranks]
    wanted = np.zeros(KEY_BINS, np.bool_)
    wanted[bins] = True
    copied = copy_wanted(wanted)
    # a rank's place among the copied values: after the copied bins below its own
    copied_below = np.cumsum(np.where(wanted, counts, 0)) - np.where(wanted, counts, 0)
    places = [r - int(running[b] - counts[b]) + int(copied_below[b]) for r, b in zip(ranks, bins)]
    copied.partition(sorted(set(places)))
    return [copied[p] for p in places], n


def percentile_ranks(n: int, percent: float) -> tuple[int, int, float]:
    """``numpy.percentile``'s linear method over ``n`` sorted values: the two ranks it reads and the
    share ``gamma`` of the way from the first to the second (the virtual index ``(n - 1) * q``).
    """
    virtual = (n - 1) * np.true_divide(percent, 100)
    if virtual >= n - 1:
        return n - 1, n - 1, 0.0
    if virtual < 0:
        return 0, 0, 0.0
    previous = int(np.floor(virtual))
    return previous, previous + 1, float(virtual - previous)


def percentile_of_counts(values, counts, percent: float) -> float:
    """``numpy.percentile(pixels, percent)`` (linear method) of the pixels ``counts`` holds at ``values``
    (ascending), without the pixels: the two order statistics come from the running counts.
    """
    running = np.cumsum(counts)
    previous, following, gamma = percentile_ranks(int(running[-1]), percent)
    a = values[np.searchsorted(running, previous, side="right")]
    if following == previous:
        return float(a)
    b = values[np.searchsorted(running, following, side="right")]
    return float(lerp(a, b, gamma))


def lerp(a, b, t):
    """NumPy's ``_lerp``: from the nearer end, so that ``t`` of 0 and 1 give ``a`` and ``b`` exactly.

    For floats (NumPy scalars) every step is in the values' own type, with ``t`` (a Python float)
    taken as a weak scalar, as ``numpy.percentile`` computes a scalar percentile: float32 pixels
    give a float32 limit. For integers the difference is exact (NumPy's wraps in int16 and int8 when
    the two values are further apart than the type holds) and the result float64.
    """
    t = float(t)
    if np.asarray(a).dtype.kind == "f":
        difference = b - a
        return b - difference * (1 - t) if t >= 0.5 else a + difference * t
    difference = float(int(b) - int(a))
    if t >= 0.5:
        return np.float64(b) - difference * (1 - t)
    return np.float64(a) + difference * t


def window_of(window) -> tuple[float, float]:
    """``(centre, width)`` from a pair or a preset's name (ValueError naming the presets)."""
    if isinstance(window, str):
        if window not in CT_WINDOWS:
            raise ValueError(f"window must be (centre, width) or one of {tuple(CT_WINDOWS)}, got {window!r}")
        return CT_WINDOWS[window]
    try:
        centre, width = (float(v) for v in window)
    except (TypeError, ValueError):
        raise ValueError(f"window must be (centre, width) or one of {tuple(CT_WINDOWS)}, got {window!r}") from None
    if not (np.isfinite(centre) and np.isfinite(width)) or width <= 0:
        raise ValueError(f"a window's width must be a finite number above 0 and its centre finite, got {window!r}")
    return centre, width
