"""The transfer stage of a stretch: each group's limits from its counts, then a linear map between them.

A :class:`StretchTransfer` is handed to the engine in place of an
equalisation variant (see ``_engine.transfer``): ``values(counts, span,
integer, levels)`` gets one row of counts per histogram group over integer
levels (one bin per level) and returns each level's output in ``[0, span]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .limits import imagej_bins, percentile_of_counts


@dataclass(frozen=True)
class StretchTransfer:
    """``variant``: ``"imagej"`` (``saturated``), ``"percentile"`` (``percentiles``, ``clip``),
    ``"window"`` or ``"window-exact"`` (``window`` as centre and width). ``lo`` is the output's
    low end, which ``levels`` (the bins' values minus it) are offset by.
    """

    variant: str
    saturated: float = 0.35
    percentiles: tuple = (1.0, 99.0)
    window: tuple = (0.0, 1.0)
    clip: bool = True
    lo: float = 0.0
    name: str = "stretch"
    needs_levels: bool = True

    def for_output(self, lo, hi):
        """The transfer for an output from ``lo``: the bins' values are ``levels + lo``."""
        return replace(self, lo=float(lo))

    def table_kernel(self, binning):
        """The numba kernel of these tables where each bin is one level (8/16-bit images), else None."""
        if not binning.is_per_level:
            return None
        start = binning.start
        return lambda kernels, counts, lo, hi, tables: kernels.stretch_tables(counts, self, start, lo, hi, tables)

    def values(self, counts, span, integer, levels):
        values = np.empty(counts.shape, np.float64)
        for g in range(counts.shape[0]):
            level_values = levels[g] + self.lo  # each bin's own level
            values[g] = self._row(counts[g], level_values, span, integer)
        return values

    def limits(self, counts, level_values):
        """One group's ``(low, high)`` from its counts over ``level_values``: the values its stretch maps to
        the output's ends; ``high`` is None where ImageJ's limits meet (it leaves the group as it is).
        """
        if self.variant == "imagej":
            low, high = imagej_bins(counts, self.saturated)
            return level_values[low], (level_values[high] if high > low else None)
        if self.variant == "percentile":
            return tuple(percentile_of_counts(level_values, counts, p) for p in self.percentiles)
        return window_ends(*self.window, exact=self.variant == "window-exact")

    def _row(self, counts, level_values, span, integer):
        if self.variant == "imagej":
            return self._imagej(counts, level_values, span, integer)
        if self.variant == "percentile":
            low, high = self.limits(counts, level_values)
            return _finish(between(level_values, low, high), span, integer, clip=self.clip, lo=self.lo)
        centre, width = self.window
        return _finish(window_shares(level_values, centre, width, exact=self.variant == "window-exact"), span,
                       integer, clip=True, lo=self.lo)

    def _imagej(self, counts, level_values, span, integer):
        """``ContrastEnhancer.normalize``'s table: 0 at or below the low limit, the top at or above the
        high one, ``(int)((i - min) / (max - min) * top)`` between; unchanged when the limits meet.
        """
        minimum, maximum = self.limits(counts, level_values)
        if maximum is None:  # ImageJ changes nothing (but what an integer output cannot hold)
            unchanged = level_values - self.lo
            return np.clip(unchanged, 0.0, span) if integer else unchanged
        shares = (level_values - minimum) / (maximum - minimum)
        if not integer:
            return np.clip(shares, 0.0, 1.0)
        stretched = np.trunc(shares * span)
        return np.where(level_values <= minimum, 0.0, np.where(level_values >= maximum, float(span), stretched))


def between(values, low, high):
    """MONAI's ``(v - low) / (high - low)``; a flat image (``low == high``) is shifted to 0, not divided by it.

    Limits near the ends of a float type may be further apart than it holds: their difference is
    then inf, as in NumPy, without a warning.
    """
    if high == low:
        return values - low
    with np.errstate(over="ignore", invalid="ignore"):
        return (values - low) / (high - low)


def window_ends(centre, width, *, exact=False):
    """Where DICOM's VOI function reaches its ends: at or below ``low`` the bottom, above ``high`` the top."""
    if exact:
        return centre - width / 2, centre + width / 2
    return centre - 0.5 - (width - 1) / 2, centre - 0.5 + (width - 1) / 2


def window_shares(x, centre, width, *, exact=False):
    """DICOM PS3.3 C.11.2.1.2's VOI LUT function as a share of the output range, in ``[0, 1]``:
    ``LINEAR`` (``exact=False``) or ``LINEAR_EXACT``.
    """
    x = np.asarray(x, dtype=np.float64)
    if exact:
        shares = (x - centre) / width + 0.5
    else:
        shares = (x - (centre - 0.5)) / (width - 1) + 0.5 if width > 1 else np.where(x > centre - 0.5, 1.0, 0.0)
    low, high = window_ends(centre, width, exact=exact)
    return np.where(x <= low, 0.0, np.where(x > high, 1.0, shares))


def _finish(shares, span, integer, *, clip, lo):
    """Shares of the output range as table values: clipped to [0, 1] (always, for integer outputs), scaled to
    ``span``; integers rounded half to even after the low end is added (``rint(share * span + lo)``, as
    ``rint`` of pydicom's and MONAI's float result).
    """
    if clip or integer:
        shares = np.clip(shares, 0.0, 1.0)
    return np.rint(shares * span + lo) - lo if integer else shares
