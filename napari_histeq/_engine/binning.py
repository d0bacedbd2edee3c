"""How pixel values map to histogram bins: the binning rule of each dtype.

Binning rules
-------------
* 8- and 16-bit integers: one bin per possible level of the dtype
  (256 or 65536 bins), no pass over the data needed to choose them.
* 32- and 64-bit integers: bins of ``width`` whole levels over the data's
  ``min..max``; ``width`` is 1 (one bin per level) while the spread fits in
  ``nbins`` (default 65536) bins. Nothing is allocated per possible value.
* floats: ``nbins`` (default 256) equal bins over the finite ``min..max``;
  NaN and +-inf are not counted.

The minimum and maximum are those of the pixels the histogram counts (the
masked ones when there is a mask), and each histogram group has its own: with
``axis=(-2, -1)`` every plane of a float or 32/64-bit stack is binned over its
own range, as equalising each plane alone would.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .validate import is_level_dtype

DEFAULT_FLOAT_BINS = 256
DEFAULT_WIDE_INT_BINS = 65536
_LARGEST_DOUBLE = float(np.finfo(np.float64).max)
#: Refuse histograms whose counters alone would take more memory than this.
MAX_COUNTER_BYTES = 1 << 31


def nothing_to_count(masked: bool, where: str = "") -> ValueError:
    """The one error for a histogram with no pixel to count (an empty mask, or no finite value)."""
    what = "the mask selects no pixel" if masked else "there is no finite pixel"
    return ValueError(f"{what}{where}: nothing to build a histogram from")


def check_counter_memory(n_groups: int, nbins: int) -> None:
    """Raise before allocating ``n_groups`` histograms of ``nbins`` int64 counters beyond the limit."""
    needed = n_groups * nbins * 8
    if needed > MAX_COUNTER_BYTES:
        raise ValueError(
            f"{n_groups} histograms of {nbins} bins would need {needed / 2**30:.1f} GiB of counters "
            f"(at most {MAX_COUNTER_BYTES / 2**30:.0f} GiB): fewer histograms (an axis that spans more of the "
            "image's axes) or fewer bins (nbins, for float and 32/64-bit images) need less"
        )


@dataclass(frozen=True)
class Binning:
    """How pixel values map to histogram bins.

    For integers bin ``i`` holds the levels ``start + i*width`` up to
    ``start + (i+1)*width - 1``; for floats it holds
    ``[start + i*w, start + (i+1)*w)`` with ``w = (stop - start) / nbins``
    (the last bin includes ``stop``). Values outside ``start..stop`` fall
    into the first or last bin.

    With one range per histogram group, ``start``, ``stop`` and ``width`` are
    tuples with one entry per group (see :meth:`group`); ``nbins`` is shared.
    """

    dtype: np.dtype
    nbins: int
    start: int | float | tuple
    stop: int | float | tuple
    width: int | float | tuple

    @property
    def shared(self) -> bool:
        """True when every group uses the same range (always for 8/16-bit and single groups)."""
        return not isinstance(self.start, tuple)

    def group(self, g: int) -> Binning:
        """The binning of group ``g`` alone (this binning when it is shared)."""
        if self.shared:
            return self
        return Binning(self.dtype, self.nbins, self.start[g], self.stop[g], self.width[g])

    def select(self, groups) -> Binning:
        """The binning of the groups ``groups`` (a slice or index array), in that order."""
        if self.shared:
            return self
        picked = np.arange(len(self.start))[groups]
        return Binning(self.dtype, self.nbins, *(tuple(field[g] for g in picked)
                                                 for field in (self.start, self.stop, self.width)))

    def used_bins(self, n_groups: int) -> np.ndarray:
        """Bins each group's own range needs (``nbins`` but for 32/64-bit integers binned per group)."""
        if self.shared or self.is_float:
            return np.full(n_groups, self.nbins)
        return np.array([max((stop - start) // width + 1, 2)
                         for start, stop, width in zip(self.start, self.stop, self.width)])

    def starts(self, xp, dtype):
        """The start of each group's range, to compare with a block of rows of ``dtype`` (a scalar when shared)."""
        if self.shared:
            return self.start
        return xp.asarray(np.array(self.start, dtype=dtype)[:, None])

    def _per_group(self, attribute):
        return np.stack([getattr(self.group(g), attribute) for g in range(len(self.start))])

    @property
    def is_float(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def is_per_level(self) -> bool:
        """One bin for every level of an 8/16-bit dtype (bin = value - dtype min)."""
        return (
            is_level_dtype(self.dtype) and self.shared and self.width == 1
            and self.start == np.iinfo(self.dtype).min
        )

    def unsigned_order(self) -> np.ndarray | None:
        """For signed per-level data, bin index of each unsigned-view value (None if unsigned).

        Flipping the sign bit of the unsigned view gives ``value - min``, so
        tables indexed by bin are permuted once instead of every pixel.
        """
        if self.dtype.kind == "u":
            return None
        return np.arange(self.nbins) ^ (self.nbins >> 1)

    @property
    def edges(self) -> np.ndarray:
        """The ``nbins + 1`` bin edges as float64 (exact up to 2**53); ``(groups, nbins + 1)`` per group."""
        if not self.shared:
            return self._per_group("edges")
        if self.is_float:
            start, _, half, span = self.bin_rule
            if half == 1.0:
                return np.linspace(self.start, self.stop, self.nbins + 1)
            # a range near the largest double: halved, so that no step of the sum overflows
            with np.errstate(over="ignore"):  # the last edge may round past the largest double: set below
                edges = (start * half + np.arange(self.nbins + 1) / self.nbins * span) / half
            edges[-1] = self.stop
            return edges
        return float(self.start) + float(self.width) * np.arange(self.nbins + 1, dtype=np.float64)

    @property
    def levels(self) -> np.ndarray:
        """The value each bin stands for: its lowest level (integers) or centre (floats)."""
        if not self.shared:
            return self._per_group("levels")
        edges = self.edges
        if self.is_float:
            return edges[:-1] / 2 + edges[1:] / 2  # halves first: the sum of two edges may overflow
        return edges[:-1]

    def indices(self, xp, values):
        """Bin index of every value (``intp``), and where the value is finite.

        The second result is None for integer data (every value counts). With
        a range per group, ``values`` is a block of rows, one per group.
        """
        if not self.shared:
            return self._grouped_indices(xp, values)
        if self.is_float:
            return self._float_indices(xp, values)
        return self._integer_indices(xp, values), None

    def _grouped_indices(self, xp, values):
        """:meth:`indices` with one range per row: the same rules, each row's numbers broadcast."""
        if self.is_float:
            rules = np.array([self.group(g).bin_rule for g in range(len(self.start))])
            start, scale, half, span = (xp.asarray(rules[:, i : i + 1]) for i in range(4))
            values = values.astype(np.float64)
            finite = xp.isfinite(values)
            offset = xp.where(finite, values, start) * half - start * half
            with np.errstate(divide="ignore", invalid="ignore"):
                position = xp.where(scale > 0, offset * scale, xp.where(span > 0, offset / span * self.nbins, 0.0))
            index = xp.clip(xp.floor(position), 0, self.nbins - 1)
            return index.astype(np.intp), finite
        start = self.starts(xp, values.dtype)
        start_mod = xp.asarray(np.array([s % 2**64 for s in self.start], dtype=np.uint64)[:, None])
        width = xp.asarray(np.array(self.width, dtype=np.uint64)[:, None])
        index = xp.minimum((values.astype(np.uint64) - start_mod) // width, np.uint64(self.nbins - 1))
        index = xp.where(values < start, np.uint64(0), index)
        return index.astype(np.intp), None

    def _integer_indices(self, xp, values):
        dtype = values.dtype
        if self.is_per_level:
            if dtype.kind == "u":
                return values.astype(np.intp)
            # Flipping the sign bit of the unsigned view gives value - min exactly.
            unsigned = values.view(np.dtype(f"u{dtype.itemsize}"))
            return (unsigned ^ (1 << (8 * dtype.itemsize - 1))).astype(np.intp)
        # value - start in modular uint64 arithmetic: exact for every 64-bit spread.
        offset = values.astype(np.uint64) - np.uint64(self.start % 2**64)
        index = offset // np.uint64(self.width)
        index = xp.minimum(index, np.uint64(self.nbins - 1))
        if self.start > np.iinfo(dtype).min:  # values below the fitted range wrapped around
            index = xp.where(values < self.start, np.uint64(0), index)
        return index.astype(np.intp)

    @property
    def scale(self) -> float:
        """Bins per unit of value (floats); 0.0 when that is not a finite number (see :attr:`bin_rule`)."""
        return self.bin_rule[1]

    @property
    def bin_rule(self) -> tuple[float, float, float, float]:
        """``(start, scale, half, span)``: how a float value finds its bin.

        ``bin = floor((x*half - start*half) * scale)``, clipped to
        ``0..nbins-1``, where ``half`` is 0.5 for a range wider than a
        quarter of the largest double (``stop - start`` may overflow) and 1.0 otherwise (then this
        is the plain ``floor((x - start) * scale)``), ``span = stop*half -
        start*half`` and ``scale = nbins / span``. Where that ``scale`` is not
        finite (a span narrower than about 1e-306) it is 0.0 and the bin is
        ``floor((x - start) / span * nbins)`` instead. A constant image has
        ``scale`` and ``span`` 0.0: every value is bin 0.
        """
        start, stop = float(self.start), float(self.stop)
        # Halving is exact for such large values, so the bins are the same as unhalved where
        # that does not overflow; the margin keeps the edges' arithmetic finite too.
        half = 1.0 if stop - start < _LARGEST_DOUBLE / 4 else 0.5
        span = stop * half - start * half
        with np.errstate(divide="ignore", over="ignore"):
            scale = self.nbins / span if span > 0 else 0.0
        return start, (scale if np.isfinite(scale) else 0.0), half, span

    def _float_indices(self, xp, values):
        values = values.astype(np.float64)
        finite = xp.isfinite(values)
        start, scale, half, span = self.bin_rule
        values = xp.where(finite, values, start)
        offset = values * half - start * half
        if scale > 0:
            position = offset * scale
        elif span > 0:
            position = offset / span * self.nbins
        else:
            position = xp.zeros_like(values)
        index = xp.clip(xp.floor(position), 0, self.nbins - 1)
        return index.astype(np.intp), finite


@functools.cache
def level_binning(dtype: np.dtype) -> Binning:
    """One bin per level of an 8/16-bit integer dtype (native byte order), the same object every call."""
    info = np.iinfo(dtype)
    return Binning(dtype, 2 ** (8 * dtype.itemsize), int(info.min), int(info.max), 1)


def binning_for(dtype, nbins, counted_range, masked=False) -> Binning:
    """The binning rule of the module docstring.

    ``counted_range()`` returns the counted pixels' min and max of every
    group, as two lists (None for a group with nothing to count); it is
    called (a pass over the pixels) only for floats and 32/64-bit integers.
    One group gives plain numbers, several give a tuple per field.
    """
    dtype = np.dtype(dtype).newbyteorder("=")
    if is_level_dtype(dtype):
        return level_binning(dtype)
    lows, highs = counted_range()
    if all(low is None for low in lows):
        raise nothing_to_count(masked)
    # A group with nothing to count gets an empty placeholder range; its counts stay zero.
    lows = [0 if low is None else low for low in lows]
    highs = [0 if high is None else high for high in highs]
    if dtype.kind == "f":
        nbins = nbins or DEFAULT_FLOAT_BINS
        widths = [(high - low) / nbins for low, high in zip(lows, highs)]
    else:
        requested = nbins or DEFAULT_WIDE_INT_BINS
        widths = [(high - low) // requested + 1 for low, high in zip(lows, highs)]  # exact Python ints
        nbins = max(max((high - low) // width + 1, 2) for low, high, width in zip(lows, highs, widths))
    if len(lows) == 1:
        return Binning(dtype, nbins, lows[0], highs[0], widths[0])
    return Binning(dtype, nbins, tuple(lows), tuple(highs), tuple(widths))
