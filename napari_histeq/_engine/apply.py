"""Stage 3 (reference): one gather per pixel from the look-up table of its group.

This array code runs on NumPy and CuPy alike and defines the semantics; the
numba gathers behind ``_accel`` are checked against it bit for bit.
"""

from __future__ import annotations

import numpy as np

from .binning import Binning
from .groups import iter_blocks, load_block


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
