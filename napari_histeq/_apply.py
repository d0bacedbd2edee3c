"""Stage 3: one gather per pixel from the look-up table of its group."""

from __future__ import annotations

import numpy as np

from ._groups import iter_blocks, load_block
from ._histogram import Binning, as_native, kernels_for


def apply_lut(xp, rows, lut_rows, binning: Binning, out_rows, out_range, max_elements):
    """Write ``lut[group, bin(pixel)]`` for every pixel of ``rows`` into ``out_rows``.

    ``lut_rows`` lives on ``xp`` with shape ``(groups, nbins)``; one row
    serves every group. ``out_rows`` may live on the host while ``xp`` is
    CuPy (the blocks go back one by one). Values below the counted range
    (outside a mask's region, or applying a fit to another image) map to the
    bottom of ``out_range``, as their cumulative share is 0; values above
    it to the top. Float images: NaN stays NaN, ``+inf`` maps to the top of
    ``out_range`` and ``-inf`` to its bottom.
    """
    n_groups, group_size = rows.shape
    nbins = binning.nbins
    shared = lut_rows.shape[0] == 1
    kernels = kernels_for(xp, rows, binning)
    if kernels is not None and isinstance(out_rows, np.ndarray) and out_rows.flags.c_contiguous:
        by_kernel = _apply_floats_by_kernel if binning.is_float else _apply_levels_by_kernel
        by_kernel(kernels, rows, lut_rows, binning, out_rows, out_range)
        return
    flat_lut = lut_rows.reshape(-1)
    for block in iter_blocks(n_groups, group_size, max_elements):
        g0, g1, m0, m1 = block
        values = load_block(xp, rows, block)
        block_binning = binning.select(slice(g0, g1))
        index, finite = block_binning.indices(xp, values)
        if not shared:
            index = index + (xp.arange(g0, g1, dtype=np.intp) * nbins)[:, None]
        result = xp.take(flat_lut, index)
        lo, hi = out_range
        if not binning.is_per_level:  # below the counted range: the bottom, as for 8/16-bit levels
            below = values < block_binning.starts(xp, values.dtype)
            result = xp.where(below, xp.asarray(lo, dtype=result.dtype), result)
        if finite is not None:
            substitute = xp.where(values > 0, hi, lo).astype(result.dtype)
            substitute = xp.where(xp.isnan(values), xp.nan, substitute).astype(result.dtype)
            result = xp.where(finite, result, substitute)
        if isinstance(out_rows, np.ndarray) and xp is not np:
            result = result.get()
        out_rows[g0:g1, m0:m1] = result


def _apply_levels_by_kernel(kernels, rows, lut_rows, binning: Binning, out_rows, out_range):
    """The 8/16-bit gather through the CPU kernels: all rows (groups) in few launches."""
    order = binning.unsigned_order()
    tables = as_native(lut_rows if order is None else lut_rows[:, order], unsigned=True)
    kernels.gather_rows(as_native(rows, unsigned=True), tables, out_rows.view(tables.dtype))


def _apply_floats_by_kernel(kernels, rows, lut_rows, binning: Binning, out_rows, out_range):
    lo, hi = (out_rows.dtype.type(v) for v in out_range)
    for g in range(rows.shape[0]):
        table = lut_rows[0 if lut_rows.shape[0] == 1 else g]
        kernels.float_gather(as_native(rows[g]), binning.group(g).bin_rule, table, lo, hi, out_rows[g])
