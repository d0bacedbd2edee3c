"""Adaptive equalisation's tile grid and its two array stages: counting per region, blending between regions.

A CLAHE result is the three stages of every operation with tiles for groups:
each contextual region has its own histogram (stage 1, :func:`region_counts`),
its own clipped table (stage 2, ``_clipping``), and each pixel blends the
tables of its nearest regions (stage 3, :func:`blend_skimage`,
:func:`blend_opencv`). This module holds the reference code of stages 1 and 3,
written with array operations only (NumPy or CuPy), and the grid they share.

Both peers pad the image by reflection (``numpy.pad(mode="reflect")``,
OpenCV's ``BORDER_REFLECT_101``) before cutting it into regions. Nothing here
pads: each axis carries, for every region, the source index of each of its
positions (:attr:`GridAxis.sources`), so a region reaching past the border
reads the reflected pixels in place.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np


def reflect(positions, size: int):
    """Index of the pixel a position outside ``[0, size)`` mirrors (reflect-101, repeated for long pads)."""
    positions = np.asarray(positions, dtype=np.intp)
    if size == 1:
        return np.zeros_like(positions)
    period = 2 * (size - 1)
    folded = positions % period
    return np.where(folded < size, folded, period - folded)


@dataclass(frozen=True)
class GridAxis:
    """One axis of a tile grid.

    ``regions`` contextual regions of ``length`` positions each; region ``j``
    covers positions ``start + j * length ...`` of the (conceptually padded)
    axis. For each pixel ``i`` of the axis, the blend reads regions
    ``first[i]`` and ``second[i]`` with weights ``1 - weight[i]`` and
    ``weight[i]``, in the variant's float type.
    """

    size: int
    length: int
    regions: int
    sources: np.ndarray   # (regions, length): the pixel index each region position reads
    first: np.ndarray
    second: np.ndarray
    weight: np.ndarray
    inverse: np.ndarray   # 1 - weight, in the same float type

    def part(self, start: int, stop: int) -> GridAxis:
        """The axis for its pixels ``start .. stop`` alone (a chunk's): the same regions, their weights."""
        return dataclasses.replace(self, size=stop - start, first=self.first[start:stop],
                                   second=self.second[start:stop], weight=self.weight[start:stop],
                                   inverse=self.inverse[start:stop])

    @property
    def blend(self) -> tuple:
        """What the blend reads of this axis, per pixel: ``(first, second, weight, inverse)``."""
        return self.first, self.second, self.weight, self.inverse


def skimage_axis(size: int, kernel: int) -> GridAxis:
    """scikit-image's grid: regions of ``kernel`` from pixel 0, blend weights
    ``(i + kernel // 2) % kernel / kernel``.
    """
    regions = -(-size // kernel)
    sources = reflect(np.arange(regions * kernel), size).reshape(regions, kernel)
    padded = np.arange(size) + kernel // 2
    block, offset = np.divmod(padded, kernel)
    weight = offset / kernel
    return GridAxis(size, kernel, regions, sources,
                    np.clip(block - 1, 0, regions - 1), np.clip(block, 0, regions - 1), weight, 1 - weight)


def opencv_axis(size: int, tiles: int, padded: bool) -> GridAxis:
    """OpenCV's grid: ``tiles`` regions over the size (padded up to the next multiple of ``tiles`` when ``padded``)."""
    length = (size + tiles - size % tiles if padded else size) // tiles
    sources = reflect(np.arange(tiles * length), size).reshape(tiles, length)
    position = np.arange(size, dtype=np.float32) * (np.float32(1) / np.float32(length)) - np.float32(0.5)
    floor = np.floor(position)
    weight = position - floor
    floor = floor.astype(np.intp)
    return GridAxis(size, length, tiles, sources, np.maximum(floor, 0), np.minimum(floor + 1, tiles - 1),
                    weight, np.float32(1) - weight)


def opencv_grid(shape, tile_grid) -> tuple[GridAxis, GridAxis]:
    """OpenCV pads the bottom and the right whenever either size does not divide by its tile count."""
    padded = any(size % tiles for size, tiles in zip(shape, tile_grid))
    return tuple(opencv_axis(size, tiles, padded) for size, tiles in zip(shape, tile_grid))


def _along(xp, values, axis: int, ndim: int):
    """``values`` as an array broadcasting along ``axis`` of an ``ndim``-D image."""
    return xp.asarray(values).reshape((1,) * axis + (-1,) + (1,) * (ndim - axis - 1))


def padded(position_lists):
    """Lists of positions of different lengths as one ``(lists, longest)`` array, -1 after each one's end."""
    out = np.full((len(position_lists), max(len(p) for p in position_lists)), -1, dtype=np.intp)
    for row, positions in zip(out, position_lists):
        row[: len(positions)] = positions
    return out


def region_counts(xp, bins, positions, nbins: int, counted=None):
    """Stage 1: the histogram of every region, int64 ``(regions, nbins)``, regions in C order.

    ``bins`` holds each pixel's bin; ``positions[d]`` lists, for each region
    along axis ``d``, the positions it reads (a grid's ``sources``; or, for a
    chunk, the chunk's positions of the regions it touches, repeats
    included). ``counted`` (bool, optional): the pixels that count (the
    mask, the finite values).
    """
    counts = []
    for parts in itertools.product(*positions):
        index = xp.ix_(*[xp.asarray(p) for p in parts])
        values = bins[index] if counted is None else bins[index][counted[index]]
        counts.append(xp.bincount(values.ravel(), minlength=nbins))
    return xp.stack(counts)


def blend_skimage(xp, bins, tables, grid):
    """Stage 3, scikit-image's arithmetic: the float64 weight products times each table, summed in float32.

    ``tables``: ``(regions_0, ..., regions_n, nbins)`` int64. The corners are
    visited in ``numpy.ndindex`` order and each term is rounded to float32
    before it is added, as ``skimage.exposure.equalize_adapthist`` does;
    the sum is truncated to uint16.
    """
    ndim = len(grid)
    result = xp.zeros(bins.shape, dtype=np.float32)
    for corner in np.ndindex(*(2,) * ndim):
        index = tuple(_along(xp, (axis.first, axis.second)[side], d, ndim) for d, (axis, side)
                      in enumerate(zip(grid, corner)))
        weight = None
        for d in reversed(range(ndim)):  # the last axis's weight first: the order of the products
            factor = _along(xp, (grid[d].inverse, grid[d].weight)[corner[d]], d, ndim)
            weight = factor if weight is None else weight * factor
        result += (tables[index + (bins,)] * weight).astype(np.float32)
    return result.astype(np.uint16)


def blend_opencv(xp, values, tables, grid, dtype):
    """Stage 3, OpenCV's arithmetic: bilinear in float32, rows blended last, rounded half to even."""
    (rows, cols) = grid
    first_y, second_y = _along(xp, rows.first, 0, 2), _along(xp, rows.second, 0, 2)
    first_x, second_x = _along(xp, cols.first, 1, 2), _along(xp, cols.second, 1, 2)
    weight_x, inverse_x = _along(xp, cols.weight, 1, 2), _along(xp, cols.inverse, 1, 2)
    values = values.astype(np.intp)

    def lut(ty, tx):
        return tables[ty, tx, values].astype(np.float32)

    top = lut(first_y, first_x) * inverse_x + lut(first_y, second_x) * weight_x
    bottom = lut(second_y, first_x) * inverse_x + lut(second_y, second_x) * weight_x
    blended = top * _along(xp, rows.inverse, 0, 2) + bottom * _along(xp, rows.weight, 0, 2)
    return xp.clip(xp.rint(blended), 0, np.iinfo(dtype).max).astype(dtype)
