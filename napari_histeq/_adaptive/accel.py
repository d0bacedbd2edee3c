"""The door to adaptive equalisation's region kernels: counts per region, tables, blends.

As the engine's ``accel`` does for the global stages, each function here decides which
code runs (the numba kernels of ``_kernels.clahe``, or the reference in ``tiles`` and
``clipping``), logs the route and the reason, and returns the same result either way.
Which kernels build a clipping's tables is the clipping's to say (``clipping``).
"""

from __future__ import annotations

import math

import numpy as np

from .._engine.accel import JIT_ENV_VAR, Route, _last, as_native, log
from .._engine.backend import to_backend
from .._engine.validate import check_region_tables_fit
from .._kernels import clahe_kernels
from . import clipping as _clipping
from . import tiles as _tiles


def _decide_tiles(stage, xp, values, grid):
    """``(clahe kernels or None, Route)`` for an image of 8/16-bit values on a tile grid."""
    if xp is not np:
        route = Route(stage, "cupy", "array operations on the GPU")
    elif clahe_kernels() is None:
        route = Route(stage, "reference", f"numba kernels unavailable or off ({JIT_ENV_VAR})")
    elif values is not None and len(grid) not in (2, 3):
        route = Route(stage, "reference", f"no kernel for {len(grid)}D regions (2D and 3D have one)")
    else:
        route = Route(stage, "numba", f"{len(grid)}D regions" if values is not None else "clip loop")
    _last[stage] = route
    log.debug("%s", route)
    return (clahe_kernels() if route.path == "numba" else None), route


def region_counts(xp, values, lut, positions, nbins, counted=None):
    """Histogram of every region (``_tiles.region_counts``), each pixel's bin ``lut[value]``.

    int64 counts from the reference; int32 from the kernels (a region holds
    far fewer than 2**31 pixels).
    """
    kernels, _ = _decide_tiles("histogram", xp, values, positions)
    if kernels is None:
        return _tiles.region_counts(xp, xp.asarray(lut)[values], positions, nbins, counted)
    values, sources, counted = _as_volume(values, positions, counted)
    return kernels.region_counts(values, lut, sources, nbins, counted)


def _as_volume(values, positions, counted):
    """The region kernels' inputs: a volume (a 2D image is one plane), padded source lists, a uint8 mask."""
    sources = [_tiles.padded(per_axis) for per_axis in positions]
    values = as_native(values, unsigned=True)
    if values.ndim == 2:
        values, sources = values[None], [np.zeros((1, 1), np.intp), *sources]
        counted = None if counted is None else counted[None]
    if counted is not None:
        counted = np.ascontiguousarray(counted).view(np.uint8)
    return values, sources, counted


def region_tables(xp, values, lut, positions, nbins, transfer, counted=None, pixels=None):
    """Every region's table: :func:`region_counts`, then :func:`clipped_tables`.

    OpenCV's tables with every pixel counted (``pixels``: each region's size) come from one kernel
    pass per region instead, counted and turned into its table at once, so that memory holds the
    tables alone, as ``cv2.createCLAHE`` does, not every region's counts besides.
    """
    kernels, _ = _decide_tiles("histogram", xp, values, positions)
    one_at_a_time = (kernels is not None and counted is None and pixels is not None
                     and transfer.region_tables_kernel is not None)
    regions = math.prod(len(per_axis) for per_axis in positions)
    table_bytes = (1 if nbins == 256 else 2) if one_at_a_time else 8 + 4  # int64 tables (or float64), int32 counts
    check_region_tables_fit(regions, nbins, table_bytes)
    if one_at_a_time:
        _last["transfer"] = Route("transfer", "numba", "counted and made into tables one region at a time")
        values, sources, _ = _as_volume(values, positions, None)
        return transfer.region_tables_kernel(kernels, values, lut, sources, nbins, pixels)
    counts = region_counts(xp, values, lut, positions, nbins, counted)
    return clipped_tables(transfer, to_backend(np, counts), pixels)


def clipped_tables(transfer, counts, pixels=None):
    """Each region's table (``_clipping``), numba where it can.

    ``pixels``: every region's pixel count when all are known to be full
    (no mask, no NaN), which spares a pass over the counts. The kernels clip
    ``counts`` in place.
    """
    kernels, _ = _decide_tiles("transfer", np, None, ())
    if kernels is None:
        return transfer.tables(counts)
    if pixels is None:
        counts, pixels = _clipping.pixels_per_region(np.asarray(counts))
    else:
        pixels = np.full(counts.shape[0], pixels, dtype=np.int64)
    return transfer.tables_kernel(kernels, counts, pixels)


def blend_skimage(xp, values, lut, tables, grid):
    """scikit-image's blend (``_tiles.blend_skimage``): uint16 levels, and their min and max.

    ``tables``: ``(regions..., nbins)``.
    """
    kernels, _ = _decide_tiles("apply", xp, values, grid)
    if kernels is None:
        levels = _tiles.blend_skimage(xp, xp.asarray(lut)[values], xp.asarray(tables), grid)
        return levels, int(levels.min()), int(levels.max())
    return kernels.blend_skimage(as_native(values, unsigned=True), lut, tables.astype(np.float64),
                                 [axis.blend for axis in grid])


def map_levels(xp, levels, table, in_place=False):
    """``table[levels]`` (the final stretch of scikit-image's variant), in parallel on the CPU.

    ``in_place``: ``levels`` is the caller's to overwrite (a uint16 result then takes its place).
    """
    kernels = clahe_kernels() if xp is np else None  # part of the apply stage: its route is the blend's
    if kernels is None:
        return xp.asarray(table)[levels]
    return kernels.map_levels(np.ascontiguousarray(levels), table, in_place)


def blend_opencv(xp, values, tables, grid):
    """OpenCV's blend (``_tiles.blend_opencv``) of a 2D uint8/uint16 image, ``tables`` ``(ry, rx, nbins)``."""
    kernels, _ = _decide_tiles("apply", xp, values, grid)
    if kernels is None:
        return _tiles.blend_opencv(xp, values, xp.asarray(tables), grid, values.dtype)
    # float32 tables for 8 bits (small); 16-bit tables stay uint16, half the cache footprint
    table_type = np.float32 if values.itemsize == 1 else np.uint16
    return kernels.blend_opencv(as_native(values), tables.astype(table_type, copy=False),
                                [axis.blend for axis in grid])
