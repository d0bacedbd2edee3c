"""Stage 1 (reference): counts per histogram group.

The image is seen as rows, one per histogram group (``_groups``); the
binning rule of each dtype is in ``_binning``. This array code runs on NumPy
and CuPy alike and defines the semantics; the numba kernels behind
``_accel`` are checked against it bit for bit.
"""

from __future__ import annotations

import numpy as np

from .backend import to_backend
from .binning import Binning, check_counter_memory
from .groups import iter_blocks, load_block


def counted_min_max(xp, rows, mask_rows, max_elements):
    """Min and max of the pixels each row's histogram counts (masked, finite): two lists of Python scalars.

    A row with nothing to count gives None in both.
    """
    n_groups = rows.shape[0]
    lows, highs = [None] * n_groups, [None] * n_groups
    is_float = rows.dtype.kind == "f"
    for block in iter_blocks(*rows.shape, max_elements):
        g0 = block[0]
        values = load_block(xp, rows, block)
        keep = xp.isfinite(values) if is_float else None
        if mask_rows is not None:
            selected = load_block(xp, mask_rows, block)
            keep = selected if keep is None else keep & selected
        if keep is None:
            block_lows, block_highs = values.min(axis=1), values.max(axis=1)
            counted = [True] * values.shape[0]
        else:
            top, bottom = (np.inf, -np.inf) if is_float else (np.iinfo(values.dtype).max, np.iinfo(values.dtype).min)
            block_lows = xp.where(keep, values, top).min(axis=1)
            block_highs = xp.where(keep, values, bottom).max(axis=1)
            counted = to_backend(np, keep.any(axis=1)).tolist()
        block_lows, block_highs = to_backend(np, block_lows).tolist(), to_backend(np, block_highs).tolist()
        for i, (low, high, any_counted) in enumerate(zip(block_lows, block_highs, counted)):
            if any_counted:
                g = g0 + i
                lows[g] = low if lows[g] is None else min(lows[g], low)
                highs[g] = high if highs[g] is None else max(highs[g], high)
    return lows, highs


def grouped_counts(xp, rows, mask_rows, binning: Binning, max_elements):
    """Histogram of every row of ``rows``: an int64 array ``(n_groups, nbins)`` on ``xp``.

    One pass over the pixels: within a block, row ``g``'s bins are offset by
    ``g * nbins`` so a single ``bincount`` counts all the rows it holds.
    """
    n_groups, group_size = rows.shape
    nbins = binning.nbins
    check_counter_memory(n_groups, nbins)
    counts = xp.zeros((n_groups, nbins), dtype=np.int64)
    for block in iter_blocks(n_groups, group_size, max_elements):
        g0, g1 = block[0], block[1]
        index, keep = binning.select(slice(g0, g1)).indices(xp, load_block(xp, rows, block))
        if mask_rows is not None:
            selected = load_block(xp, mask_rows, block)
            keep = selected if keep is None else keep & selected
        if g1 - g0 > 1:
            index = index + (xp.arange(g1 - g0, dtype=np.intp) * nbins)[:, None]
        index = index[keep] if keep is not None else index.ravel()
        block_counts = xp.bincount(index, minlength=(g1 - g0) * nbins)
        counts[g0:g1] += block_counts.reshape(g1 - g0, nbins)
    return counts
