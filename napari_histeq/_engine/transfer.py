"""Stage 2 (reference): from counts to look-up tables, one row per histogram group.

The counts are tiny (at most 65536 bins per group), so the tables are always
built on the host, in float64, with sequential cumulative sums. That makes CPU
and GPU results identical to the bit: a parallel scan on the device would add
in another order and move rounding ties.

What a table maps to is the operation's *transfer*: any object with
``values(counts, span, integer, levels)``, ``needs_levels`` and a ``name``
(an equalisation variant, a matching target, a contrast stretch). ``values``
returns float64 values in ``[0, span]``, whole numbers when the output is an
integer type; :func:`lut_from_values` then shifts them to ``lo`` and casts.
A transfer may also declare the numba kernel that builds the same integer
tables faster: ``table_kernel(binning)`` returns a builder
``(kernels, counts, lo, hi, tables)`` or None; and one whose values depend
on where the output range starts (a stretch between pixel values) has
``for_output(lo, hi)`` give it a copy that knows. The engine asks; it never
tests which operation it runs.
"""

from __future__ import annotations

import numpy as np

#: Table entries per batch of groups (bounds the float64 temporaries to 2 MiB).
BLOCK_ELEMENTS = 1 << 18


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
    if out_dtype.itemsize <= 4:  # whole float64 values below 2**53: the sum and the cast are exact
        return (values + lo).astype(out_dtype)
    span = hi - lo
    at_top = values >= float(span)
    offsets = np.where(at_top, 0.0, values).astype(np.uint64)
    offsets = np.where(at_top, np.uint64(span), offsets)
    shifted = offsets + np.uint64(lo % 2**64)
    return shifted.astype(out_dtype)


def tables_from_counts(counts, binning, transfer, lo, hi, out_dtype):
    """The look-up tables ``(groups, nbins)`` in ``out_dtype`` for host int64 ``counts``.

    Runs ``transfer.values`` in batches of groups. A group whose own range
    needs fewer bins than ``nbins`` (32/64-bit integers binned per group)
    gets its table from its own bins, exactly as if it were alone; the bins
    past them map to the top of the range.
    """
    out_dtype = np.dtype(out_dtype)
    integer = out_dtype.kind in "ui"
    tables = np.empty(counts.shape, dtype=out_dtype)
    span = hi - lo if integer else 1.0
    # the bins' values, one row per group (shared rows are a broadcast view)
    offsets = np.broadcast_to(binning.levels - lo, counts.shape) if transfer.needs_levels else None
    used = binning.used_bins(counts.shape[0])
    for bins in np.unique(used):
        groups = np.flatnonzero(used == bins)
        step = max(1, BLOCK_ELEMENTS // int(bins))
        for g0 in range(0, groups.size, step):
            batch = groups[g0 : g0 + step]
            batch_offsets = None if offsets is None else offsets[batch, :bins]
            values = transfer.values(counts[batch, :bins], span, integer, batch_offsets)
            tables[batch, :bins] = lut_from_values(values, lo, hi, out_dtype)
        tables[groups, bins:] = lut_from_values(np.full((1, 1), float(span)), lo, hi, out_dtype)
    return tables
