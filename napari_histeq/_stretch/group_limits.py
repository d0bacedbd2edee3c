"""Where a stretch starts and ends, for each histogram group, without mapping anything (``stretch_limits``)."""

from __future__ import annotations

import numpy as np

from .._engine.backend import as_dask, is_lazy_array, to_backend
from .._engine.lazy import counted_range, lazy_mask
from .._engine.validate import as_image, check_mask, is_level_dtype, normalize_axis
from .._equalization.equalize import histogram
from .chunked import _counted_values, _lazy_limits
from .transfer import StretchTransfer, window_ends
from .values import _limits, _no_pixel_error, each_group


def group_limits(image, transfer: StretchTransfer, *, axis, mask):
    """Each group's ``(low, high)`` as values of the image: where the stretch starts and ends (what napari's
    contrast limits would be set to). Groups in C order of the axes outside ``axis``.
    """
    if transfer.variant in ("window", "window-exact"):
        ends = window_ends(*transfer.window, exact=transfer.variant == "window-exact")
        n_groups = int(np.prod([n for d, n in enumerate(image.shape)
                                if d not in normalize_axis(axis, len(image.shape))]))
        return [ends] * n_groups
    if is_level_dtype(np.dtype(image.dtype)):
        return _level_limits(image, transfer, axis=axis, mask=mask)
    lazy = is_lazy_array(image)
    image = as_dask(image) if lazy else to_backend(np, as_image(image))
    if lazy:
        mask = lazy_mask(mask, image)
    else:
        mask = check_mask(None if mask is None else to_backend(np, mask), image.shape)
        mask = None if mask is None else np.broadcast_to(mask, image.shape)
    limits = []
    for _, group, group_mask in each_group(image, mask, normalize_axis(axis, image.ndim))[1]:
        found = _value_limits(group, group_mask, transfer, lazy)
        if found is None:
            raise _no_pixel_error(mask)
        limits.append(found)
    return limits


def _level_limits(image, transfer, *, axis, mask):
    """8/16-bit images: each group's counts over every level, in one histogram pass (the engine's, lazily
    for dask and zarr), read as the stretch's tables read them (``StretchTransfer.limits``).
    """
    counts, edges = histogram(image, mask=mask, axis=axis, backend="numpy")
    counts, levels = to_backend(np, counts), to_backend(np, edges)[:-1]
    limits = []
    for row in counts.reshape(-1, counts.shape[-1]):
        low, high = transfer.limits(row, levels)
        if high is None:  # ImageJ's limits meet: the image's own range, which it leaves as it is
            occupied = np.flatnonzero(row)
            low, high = levels[occupied[0]], levels[occupied[-1]]
        limits.append((float(low), float(high)))
    return limits


def _value_limits(group, mask, transfer, lazy):
    """One group's ``(low, high)`` of a float or 32/64-bit image (None when nothing is counted)."""
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
