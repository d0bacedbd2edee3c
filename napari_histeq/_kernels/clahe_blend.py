"""Numba kernels of adaptive equalisation's stage 3: every pixel blended between its regions' tables.

2D and 3D versions of ``_tiles.blend_skimage`` and ``_tiles.blend_opencv``, with the same
float steps in the same order (bit for bit the reference's), and the final stretch of
scikit-image's variant. Single-threaded and GIL-free; split with :func:`.threads.run_parallel`.
"""

from __future__ import annotations

import numba
import numpy as np

from .threads import num_threads, run_parallel, split


@numba.njit(nogil=True, cache=True)
def _blend_skimage_2d(values, lut, tables, ys, xs, first, stop, out):
    (fy, sy, wy, iy), (fx, sx, wx, ix) = ys, xs
    low, high = 65535, 0
    for y in range(first, stop):
        upper, lower = tables[fy[y]], tables[sy[y]]
        cy0, cy1 = iy[y], wy[y]
        row, target = values[y], out[y]
        for x in range(row.shape[0]):
            b = lut[row[x]]
            tx0, tx1, cx0, cx1 = fx[x], sx[x], ix[x], wx[x]
            acc = np.float32(upper[tx0, b] * (cx0 * cy0))
            acc += np.float32(upper[tx1, b] * (cx1 * cy0))
            acc += np.float32(lower[tx0, b] * (cx0 * cy1))
            acc += np.float32(lower[tx1, b] * (cx1 * cy1))
            level = np.uint16(acc)
            target[x] = level
            low, high = min(low, level), max(high, level)
    return low, high


@numba.njit(nogil=True, cache=True)
def _blend_skimage_3d(values, lut, tables, zs, ys, xs, first, stop, out):
    (fz, sz, wz, iz), (fy, sy, wy, iy), (fx, sx, wx, ix) = zs, ys, xs
    rows = values.shape[1]
    low, high = 65535, 0
    for r in range(first, stop):  # rows of every plane, numbered plane by plane
        z, y = r // rows, r % rows
        t00, t01 = tables[fz[z], fy[y]], tables[fz[z], sy[y]]
        t10, t11 = tables[sz[z], fy[y]], tables[sz[z], sy[y]]
        cz0, cz1, cy0, cy1 = iz[z], wz[z], iy[y], wy[y]
        row, target = values[z, y], out[z, y]
        for x in range(row.shape[0]):
            b = lut[row[x]]
            tx0, tx1, cx0, cx1 = fx[x], sx[x], ix[x], wx[x]
            acc = np.float32(t00[tx0, b] * ((cx0 * cy0) * cz0))  # corners in numpy.ndindex order
            acc += np.float32(t00[tx1, b] * ((cx1 * cy0) * cz0))
            acc += np.float32(t01[tx0, b] * ((cx0 * cy1) * cz0))
            acc += np.float32(t01[tx1, b] * ((cx1 * cy1) * cz0))
            acc += np.float32(t10[tx0, b] * ((cx0 * cy0) * cz1))
            acc += np.float32(t10[tx1, b] * ((cx1 * cy0) * cz1))
            acc += np.float32(t11[tx0, b] * ((cx0 * cy1) * cz1))
            acc += np.float32(t11[tx1, b] * ((cx1 * cy1) * cz1))
            level = np.uint16(acc)
            target[x] = level
            low, high = min(low, level), max(high, level)
    return low, high


def blend_skimage(values, lut, tables, axes):
    """uint16 blend of a 2D or 3D image, and its min and max.

    ``tables``: float64 ``(regions..., nbins)``; ``axes``: per axis (first, second, weight, inverse).
    """
    out = np.empty(values.shape, dtype=np.uint16)
    axes = tuple(tuple(np.ascontiguousarray(a) for a in axis) for axis in axes)
    kernel = _blend_skimage_2d if values.ndim == 2 else _blend_skimage_3d
    rows = values.shape[0] * (values.shape[1] if values.ndim == 3 else 1)
    ranges = run_parallel(lambda first, stop: kernel(values, lut, tables, *axes, first, stop, out),
                          split(rows, num_threads() * 4))
    return out, int(min(low for low, _ in ranges)), int(max(high for _, high in ranges))


@numba.njit(nogil=True, cache=True)
def _map_levels(levels, table, out):
    for i in range(levels.shape[0]):
        out[i] = table[levels[i]]


def map_levels(levels, table, in_place=False):
    """``table[levels]`` for a C-contiguous uint16 array, on the package's threads.

    ``in_place``: a uint16 table maps the levels where they are.
    """
    reuse = in_place and table.dtype == levels.dtype
    out = levels if reuse else np.empty(levels.shape, dtype=table.dtype)
    flat_levels, flat_out = levels.reshape(-1), out.reshape(-1)
    run_parallel(lambda first, stop: _map_levels(flat_levels[first:stop], table, flat_out[first:stop]),
                 split(flat_levels.size, num_threads() * 2))
    return out


@numba.njit(nogil=True, cache=True)
def _blend_opencv(values, tables, ys, xs, stripes, top, first, stop, out):
    (fy, sy, wy, iy), (fx, sx, wx, ix) = ys, xs
    for k in range(stripes.shape[0] - 1):  # columns between two tile centres read only four tables:
        x0, x1 = stripes[k], stripes[k + 1]  # one stripe at a time keeps them in the cache
        left, right = fx[x0], sx[x0]         # the same two tile columns all along the stripe
        weight, inverse = wx[x0:x1], ix[x0:x1]
        for y in range(first, stop):
            upper_left, upper_right = tables[fy[y], left], tables[fy[y], right]
            lower_left, lower_right = tables[sy[y], left], tables[sy[y], right]
            ya, ya1 = wy[y], iy[y]
            row, target = values[y, x0:x1], out[y, x0:x1]
            for x in range(row.shape[0]):  # indexed from 0: no negative-index checks in the loop
                v = row[x]
                res = ((np.float32(upper_left[v]) * inverse[x] + np.float32(upper_right[v]) * weight[x]) * ya1
                       + (np.float32(lower_left[v]) * inverse[x] + np.float32(lower_right[v]) * weight[x]) * ya)
                target[x] = min(max(np.rint(res), np.float32(0.0)), top)


def blend_opencv(values, tables, axes):
    """OpenCV's bilinear blend of a 2D uint8/uint16 image; ``tables`` ``(ry, rx, nbins)``."""
    out = np.empty(values.shape, dtype=values.dtype)
    axes = [tuple(np.ascontiguousarray(a) for a in axis) for axis in axes]
    first_x, second_x = axes[1][0], axes[1][1]
    changes = (first_x[1:] != first_x[:-1]) | (second_x[1:] != second_x[:-1])
    stripes = np.flatnonzero(np.r_[True, changes, True])  # runs of columns with the same two tiles
    top = np.float32(np.iinfo(values.dtype).max)
    run_parallel(lambda first, stop: _blend_opencv(values, tables, axes[0], axes[1], stripes, top, first, stop, out),
                 split(values.shape[0], num_threads() * 4))
    return out
