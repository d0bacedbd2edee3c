"""Stage 2: from counts to a look-up table, one row per histogram group.

The counts are tiny (at most 65536 bins per group), so the table is always
built on the host, in float64, with sequential cumulative sums. That makes CPU
and GPU results identical to the bit: a parallel scan on the device would add
in another order and move rounding ties. This NumPy code is the reference;
``_kernels.cpu.standard_tables`` repeats the standard variant's operations in
one numba loop and is tested against it.

Each variant returns ``values``: float64 in ``[0, span]``, whole numbers when
the output is an integer type (rounded as the variant's original does).
:func:`lut_from_values` then shifts them to ``lo`` and casts.
"""

from __future__ import annotations

import numpy as np

from ._kernels import cpu_kernels

#: Table entries per batch of groups (bounds the float64 temporaries to 2 MiB).
BLOCK_ELEMENTS = 1 << 18


def standard_values(counts, span, integer):
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


def imagej_values(counts, span, integer, classic):
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


def _round_half_up(values):
    """Java's ``Math.round`` for non-negative doubles (``floor(x + 0.5)`` without its error)."""
    whole = np.floor(values)
    return whole + (values - whole >= 0.5)


def transfer_values(counts, variant, span, integer, levels):
    """Dispatch to the variant's formula; ``counts`` is a host int64 ``(groups, bins)``."""
    if variant == "standard":
        return standard_values(counts, span, integer)
    if variant == "opencv":
        return opencv_values(counts, span, integer, levels)
    if variant in ("imagej", "imagej-classic"):
        return imagej_values(counts, span, integer, classic=variant == "imagej-classic")
    raise ValueError(f"unknown variant {variant!r}")


def lut_from_values(values, lo, hi, out_dtype):
    """Shift whole-number ``values`` in ``[0, hi - lo]`` to ``lo`` and cast to ``out_dtype``.

    Integer tables are computed modulo 2**64, which is exact for every
    64-bit output range (``float(2**64 - 1)`` itself is not representable).
    """
    out_dtype = np.dtype(out_dtype)
    if out_dtype.kind == "f":
        if np.isfinite(hi - lo):
            return (lo + values * (hi - lo)).astype(out_dtype)
        # hi - lo overflows (e.g. -1e308..1e308): the same sum, halved, then doubled
        return (2 * (lo / 2 + values * (hi / 2 - lo / 2))).astype(out_dtype)
    span = hi - lo
    at_top = values >= float(span)
    offsets = np.where(at_top, 0.0, values).astype(np.uint64)
    offsets = np.where(at_top, np.uint64(span), offsets)
    shifted = offsets + np.uint64(lo % 2**64)
    return shifted.astype(out_dtype)


def tables_from_counts(counts, binning, variant, lo, hi, out_dtype):
    """The look-up tables ``(groups, nbins)`` in ``out_dtype`` for host int64 ``counts``.

    The standard variant's integer tables come from the CPU kernel when there
    is one; everything else runs the reference above, in batches of groups.
    Only the opencv variant reads the bins' values (``binning.levels``).

    A group whose own range needs fewer bins than ``nbins`` (32/64-bit
    integers binned per group) gets its table from its own bins, exactly as
    if it were alone; the bins past them map to the top of the range.
    """
    out_dtype = np.dtype(out_dtype)
    integer = out_dtype.kind in "ui"
    tables = np.empty(counts.shape, dtype=out_dtype)
    kernels = cpu_kernels()
    if kernels is not None and variant == "standard" and integer and out_dtype.itemsize <= 4:
        # empty bins past a group's own leave its cumulative share at 1: already the top
        kernels.standard_tables(np.ascontiguousarray(counts, dtype=np.int64), lo, hi, tables)
        return tables
    span = hi - lo if integer else 1.0
    # the bins' values, one row per group (shared rows are a broadcast view)
    offsets = np.broadcast_to(binning.levels - lo, counts.shape) if variant == "opencv" else None
    used = binning.used_bins(counts.shape[0])
    for bins in np.unique(used):
        groups = np.flatnonzero(used == bins)
        step = max(1, BLOCK_ELEMENTS // int(bins))
        for g0 in range(0, groups.size, step):
            batch = groups[g0 : g0 + step]
            batch_offsets = None if offsets is None else offsets[batch, :bins]
            values = transfer_values(counts[batch, :bins], variant, span, integer, batch_offsets)
            tables[batch, :bins] = lut_from_values(values, lo, hi, out_dtype)
        tables[groups, bins:] = lut_from_values(np.full((1, 1), float(span)), lo, hi, out_dtype)
    return tables
