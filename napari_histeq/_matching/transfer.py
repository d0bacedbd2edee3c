"""The transfer stage of histogram matching: counts -> the reference's values.

Two rules, one class each, both plain NumPy on the host (the tables are
tiny) and handed to the pipeline in place of an equalisation variant:
scikit-image's interpolation (:class:`MatchTransfer`) and Fiji's discrete
lookup (:class:`FijiMatchTransfer`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MatchTransfer:
    """The transfer stage of matching: counts -> the reference's value at each bin's quantile."""

    values_at: np.ndarray  # the reference's occupied values, ascending (float64)
    quantiles: np.ndarray  # their cumulative shares (float64, the last is 1)
    lo: float = 0.0
    name: str = "match"
    needs_levels: bool = False

    def values(self, counts, span, integer, levels=None):
        """The matched value of every bin: the reference's value at the bin's share of its group.

        Only occupied bins are interpolated. An empty bin's share is exactly
        its last occupied neighbour's (the running count does not move), so
        it takes that bin's value; bins before a group's first occupied one
        share 0 and take the reference's lowest value, as ``numpy.interp``
        gives.
        """
        n_groups, nbins = counts.shape
        occupied = np.flatnonzero(counts.ravel() != 0)  # 3x faster than a 2D nonzero over 65536 bins
        rows, bins = occupied // nbins, occupied % nbins
        running = np.cumsum(counts[rows, bins])  # int64: exact, as a row-wise cumsum
        firsts = np.searchsorted(rows, np.arange(n_groups))
        before = np.where(firsts > 0, running[np.maximum(firsts - 1, 0)], 0)
        totals = counts.sum(axis=1)
        shares = (running - before[rows]) / totals[rows]
        matched = np.interp(shares, self.quantiles, self.values_at) - self.lo
        lowest = np.array([self.values_at[0] - self.lo])
        matched, lowest = (np.clip(np.rint(v) if integer else v, 0, span) for v in (matched, lowest))
        leads = np.flatnonzero(counts[:, 0] == 0)  # rows that start empty: the lowest value first
        positions = np.concatenate([occupied, leads * nbins])
        values = np.concatenate([matched, np.repeat(lowest, leads.size)])
        order = np.argsort(positions, kind="stable")
        lengths = np.diff(np.append(positions[order], n_groups * nbins))
        return np.repeat(values[order], lengths).reshape(n_groups, nbins)

    def table_kernel(self, binning):
        """The numba kernel of these tables where each bin is one level (8/16-bit images), else None."""
        if not binning.is_per_level:
            return None
        return lambda kernels, counts, lo, hi, tables: kernels.matched_tables(counts, self, lo, hi, tables)


@dataclass(frozen=True)
class FijiMatchTransfer:
    """Fiji's discrete matching (``HistogramMatcher.matchHistograms``): the lowest reference level whose
    cumulative share reaches the level's own; a level below every counted pixel (share 0) maps to level 0.
    """

    values_at: np.ndarray  # the reference's occupied values, ascending
    quantiles: np.ndarray  # their cumulative shares, each ``count / total`` in float64 as Fiji divides
    lo: float = 0.0
    name: str = "match-fiji"
    needs_levels: bool = False

    def values(self, counts, span, integer, levels=None):
        shares = np.cumsum(counts, axis=1) / counts.sum(axis=1, keepdims=True)
        # the first reference level whose share is at least this one: an occupied level, where it rises
        picked = self.values_at[np.minimum(np.searchsorted(self.quantiles, shares, side="left"),
                                           self.values_at.size - 1)] - self.lo
        return np.clip(np.where(shares > 0, picked, 0.0), 0, span)
