"""Where a stretch starts and ends, for each histogram group, without mapping anything (``stretch_limits``)."""

from __future__ import annotations

import numpy as np

from .._engine.backend import as_dask, is_lazy_array, to_backend
from .._engine.lazy import counted_range, lazy_mask
from .._engine.validate import as_image, check_mask, normalize_axis
from .chunked import _counted_values, _lazy_limits, _over_blocks
from .limits import imagej_bins, percentile_of_counts
from .transfer import StretchTransfer
from .values import _limits, _no_pixel_error


def group_limits(image, transfer: StretchTransfer, *, axis, mask):
    """Each group's ``(low, high)`` as values of the image: where the stretch starts and ends (what napari's
    contrast limits would be set to). Groups in C order of the axes outside ``axis``.
    """
    lazy = is_lazy_array(image)
    image = as_dask(image) if lazy else to_backend(np, as_image(image))
    axes = normalize_axis(axis, image.ndim)
    if lazy:
        mask = lazy_mask(mask, image)
    else:
        mask = check_mask(None if mask is None else to_backend(np, mask), image.shape)
        mask = None if mask is None else np.broadcast_to(mask, image.shape)
    front = [d for d in range(image.ndim) if d not in axes]
    moved = image.transpose(front + list(axes))
    moved_mask = None if mask is None else mask.transpose(front + list(axes))
    limits = []
    for index in np.ndindex(*[image.shape[d] for d in front]):
        group = moved[index]
        group_mask = None if moved_mask is None else moved_mask[index]
        found = _display_limits(group, group_mask, transfer, lazy)
        if found is None:
            raise _no_pixel_error(mask)
        limits.append(found)
    return limits


def _display_limits(group, mask, transfer, lazy):
    """One group's ``(low, high)`` (None when nothing is counted)."""
    if transfer.variant in ("window", "window-exact"):
        centre, width = transfer.window
        if transfer.variant == "window-exact":
            return centre - width / 2, centre + width / 2
        return centre - 0.5 - (width - 1) / 2, centre - 0.5 + (width - 1) / 2
    if group.dtype.itemsize <= 2 and group.dtype.kind in "iu":
        return _level_limits(group, mask, transfer, lazy)
    if lazy:
        limits = _lazy_limits(group, mask, transfer)
    else:
        counted = _counted_values(group, mask)
        limits = None if counted.size == 0 else _limits(counted, transfer)
    if limits is None:
        return None
    low, high = limits
    if high is None:  # ImageJ's limits meet: the image's own range, which it leaves as it is
        lows, highs = counted_range(as_dask(group), mask, None) if lazy else ([low], [float(counted.max())])
        return float(lows[0]), float(highs[0])
    return float(low), float(high)


def _level_limits(group, mask, transfer, lazy):
    """8/16-bit groups: the counts of every level, read as the engine's tables read them (ImageJ's
    ``getMinAndMax`` over the levels, NumPy's percentile of the counts).
    """
    info = np.iinfo(group.dtype)
    levels = int(info.max) - int(info.min) + 1
    if lazy:
        counts = np.sum(_over_blocks(_level_counts, group, mask, int(info.min), levels), axis=0)
    else:
        counts = _level_counts(group, mask, int(info.min), levels)
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        return None
    values = np.arange(levels, dtype=np.float64) + info.min
    if transfer.variant == "percentile":
        return tuple(percentile_of_counts(values, counts, p) for p in transfer.percentiles)
    low, high = imagej_bins(counts, transfer.saturated)
    if high <= low:
        low, high = occupied[0], occupied[-1]
    return float(values[low]), float(values[high])


def _level_counts(block, mask_block, first, levels):
    values = np.asarray(block).reshape(-1).astype(np.int64) - first
    if mask_block is not None:
        values = values[np.asarray(mask_block).reshape(-1)]
    return np.bincount(values, minlength=levels)
