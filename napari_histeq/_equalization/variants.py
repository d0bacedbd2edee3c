"""The equalisation variants: one registry that the engine, the widget and the command line read.

Each variant is a formula from a histogram's counts to the values of its
look-up table (float64 in ``[0, span]``, whole numbers for integer output,
rounded as the variant's original rounds). The formulas are the reference:
the transfer stage batches them over histogram groups and casts; the numba
kernel for the standard variant is checked against them.

To add a variant, write its formula here and register it in ``VARIANTS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Variant:
    """One equalisation variant.

    ``values(counts, span, integer, levels)`` maps host int64 counts
    ``(groups, bins)`` to table values; ``levels`` (the bins' values minus the
    output's low end, one row per group) is computed only when
    ``needs_levels``. ``label`` is what the widget and the command line show.
    ``kernel``: the name of the numba kernel (``_kernels.cpu``) that builds
    its integer tables up to 32 bits as ``values`` would, or None.
    """

    name: str
    label: str
    values: Callable
    needs_levels: bool = False
    kernel: str | None = None

    def table_kernel(self, binning):
        """``build(kernels, counts, lo, hi, tables)`` for integer tables, or None (any binning)."""
        if self.kernel is None:
            return None
        return lambda kernels, counts, lo, hi, tables: getattr(kernels, self.kernel)(counts, lo, hi, tables)


def standard_values(counts, span, integer, levels=None):
    """The textbook transform: ``round(span * cdf)``, rounding half to even.

    The operations are exactly ``pdf = counts / N``, a sequential cumulative
    sum, times ``span``, ``numpy.round``.
    """
    n = counts.sum(axis=1, keepdims=True)
    cdf = np.cumsum(counts / n, axis=1)
    values = cdf * span
    # the float sum of the pdf can end an ulp above 1: the output stays inside its range
    return np.round(values) if integer else np.minimum(values, span)


def opencv_values(counts, span, integer, levels):
    """``cv2.equalizeHist``: the cdf without the first occupied bin, in float32.

    ``lut[i] = rint(float32(C[i] - C[first]) * float32(span / (N - h[first])))``
    for bins above the first occupied one, 0 below. A constant image keeps
    its value, as OpenCV does (``levels``, one row per group, are the bins'
    values minus ``lo``).
    """
    n_groups = counts.shape[0]
    rows = np.arange(n_groups)
    first = np.argmax(counts > 0, axis=1)
    cumulative = np.cumsum(counts, axis=1)
    above_first = cumulative - cumulative[rows, first][:, None]
    rest = counts.sum(axis=1) - counts[rows, first]
    constant = rest == 0
    rest = np.where(constant, 1, rest)
    if integer:
        scale = np.float32(span) / rest.astype(np.float32)
        values = np.rint(above_first.astype(np.float32) * scale[:, None]).astype(np.float64)
    else:
        values = above_first / rest[:, None] * span
    values = np.clip(values, 0, span)
    # Bins at and below the first occupied one already hold 0 (nothing above them).
    keep_level = np.clip(levels[rows, first], 0, span) if integer else np.zeros(n_groups)
    values[constant] = keep_level[constant][:, None]
    return values


def imagej_values(counts, span, integer, levels=None, classic=False):
    """ImageJ's Process > Enhance Contrast > Equalize histogram.

    The default weights each bin by the square root of its count (counts
    below 2 unchanged); ``classic`` (Alt held in ImageJ) uses the counts.
    ImageJ sums in double precision in this order and rounds half up; the
    first bin maps to 0 and the last to ``span`` whatever the histogram.
    """
    weights = counts.astype(np.float64)
    if not classic:
        weights = np.where(counts < 2, weights, np.sqrt(weights))
    nbins = counts.shape[1]
    terms = np.concatenate([weights[:, :1], 2 * weights[:, 1:-1], weights[:, -1:]], axis=1)
    total = np.cumsum(terms, axis=1)[:, -1]
    scale = span / total
    # Running sum that adds each inner bin twice; the table reads it after the first.
    inner = weights[:, 1:-1]
    steps = np.empty((counts.shape[0], 1 + 2 * (nbins - 2)))
    steps[:, 0] = weights[:, 0]
    steps[:, 1::2] = inner
    steps[:, 2::2] = inner
    running = np.cumsum(steps, axis=1)[:, 1::2]
    inner_values = running * scale[:, None]
    if integer:
        inner_values = _round_half_up(inner_values)
    values = np.empty(counts.shape, dtype=np.float64)
    values[:, 0] = 0
    values[:, 1:-1] = inner_values
    values[:, -1] = span
    return np.clip(values, 0, span)


def imagej_classic_values(counts, span, integer, levels=None):
    return imagej_values(counts, span, integer, classic=True)


def _round_half_up(values):
    """Java's ``Math.round`` for non-negative doubles (``floor(x + 0.5)`` without its error)."""
    whole = np.floor(values)
    return whole + (values - whole >= 0.5)


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant("standard", "Standard (textbook)", standard_values, kernel="standard_tables"),
        Variant("opencv", "OpenCV", opencv_values, needs_levels=True),
        Variant("imagej", "ImageJ", imagej_values),
        Variant("imagej-classic", "ImageJ classic", imagej_classic_values),
    )
}
VARIANT_NAMES = tuple(VARIANTS)


def check_variant(variant) -> Variant:
    """The registered variant called ``variant`` (ValueError naming the others)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANT_NAMES}, got {variant!r}")
    return VARIANTS[variant]


def variant_choices() -> list[tuple[str, str]]:
    """``(label, name)`` pairs, as magicgui's ComboBox takes them."""
    return [(variant.label, variant.name) for variant in VARIANTS.values()]
