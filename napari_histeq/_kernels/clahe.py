"""Numba kernels for adaptive equalisation (CLAHE) on 2D and 3D images.

They implement the stages of ``_tiles`` (counting per region, blending
between regions) and scikit-image's clip loop of ``_clipping``, with the
same integer and float steps in the same order, so their results are bit
for bit the reference's (tests/test_clahe.py checks it). The counting
kernel sees a 2D image as one plane of a volume; the blends have a 2D and
a 3D version.

Like the other kernels they are single-threaded and release the GIL; the
callers split the work with :func:`.threads.run_parallel`.
"""

from __future__ import annotations

import numba
import numpy as np

from .threads import num_threads, run_parallel, split


@numba.njit(nogil=True, cache=True)
def _count_regions(values, counted, lut, src_z, src_y, src_x, first, stop, out):
    """``counted``: None (every pixel), or a uint8 array of the values' shape (non-zero: count it).

    A source index of -1 ends a region's list early (a chunk holds part of a region).
    """
    regions_y, regions_x = src_y.shape[0], src_x.shape[0]
    length_z, length_y = src_z.shape[1], src_y.shape[1]
    for region in range(first, stop):
        jz = region // (regions_y * regions_x)
        jy = (region // regions_x) % regions_y
        jx = region % regions_x
        hist = out[region]
        x0 = src_x[jx, 0]
        length_x = 0
        while length_x < src_x.shape[1] and src_x[jx, length_x] >= 0:
            length_x += 1
        contiguous = True
        for c in range(length_x):
            if src_x[jx, c] != x0 + c:
                contiguous = False
        for a in range(length_z):
            z = src_z[jz, a]
            if z < 0:
                break
            for b in range(length_y):
                y = src_y[jy, b]
                if y < 0:
                    break
                row = values[z, y]
                if counted is None:
                    if contiguous:
                        segment = row[x0:x0 + length_x]
                        for c in range(length_x):
                            hist[lut[segment[c]]] += 1
                    else:
                        for c in range(length_x):
                            hist[lut[row[src_x[jx, c]]]] += 1
                else:
                    keep = counted[z, y]
                    for c in range(length_x):
                        x = src_x[jx, c]
                        if keep[x]:
                            hist[lut[row[x]]] += 1


def region_counts(values, lut, sources, nbins, counted=None):
    """``(regions, nbins)`` counts of a 3D uint8/uint16 array, each pixel's bin ``lut[value]``.

    ``sources``: per axis, each region's positions (-1 after a shorter list's
    end). ``counted`` (uint8, the values' shape): only its non-zero pixels
    count. int32 (a region holds far fewer than 2**31 pixels): half the
    memory of int64, so 65536-bin histograms stay in the cache.
    """
    src_z, src_y, src_x = (np.ascontiguousarray(s, dtype=np.intp) for s in sources)
    regions = src_z.shape[0] * src_y.shape[0] * src_x.shape[0]
    out = np.zeros((regions, nbins), dtype=np.int32)
    run_parallel(lambda first, stop: _count_regions(values, counted, lut, src_z, src_y, src_x, first, stop, out),
                 split(regions, num_threads() * 4))
    return out


@numba.njit(nogil=True, cache=True)
def _clip_at(hist, limit):
    """Clip ``hist`` at ``limit`` in place; return how much was cut."""
    excess = 0
    for i in range(hist.shape[0]):
        if hist[i] > limit:
            excess += hist[i] - limit
            hist[i] = limit
    return excess


@numba.njit(nogil=True, cache=True)
def _clip_skimage(counts, limits):
    nbins = counts.shape[1]
    for region in range(counts.shape[0]):
        hist = counts[region]
        limit = limits[region]
        excess = _clip_at(hist, limit)
        step = excess // nbins
        upper = limit - step
        for i in range(nbins):
            if hist[i] < upper:
                hist[i] += step
                excess -= step
        for i in range(nbins):
            if upper <= hist[i] < limit:
                excess -= limit - hist[i]
                hist[i] = limit
        under = 0
        for i in range(nbins):
            if hist[i] < limit:
                under += 1
        while excess > 0:
            before = excess
            for start in range(nbins):
                stride = max(1, under // excess)
                for j in range(start, nbins, stride):
                    if hist[j] < limit:
                        hist[j] += 1
                        excess -= 1
                        if hist[j] == limit:
                            under -= 1
                if excess <= 0:
                    break
            if excess == before:
                break


@numba.njit(nogil=True, cache=True)
def _map_skimage(counts, pixels, top, out):
    for region in range(counts.shape[0]):
        scale = top / pixels[region]
        total = 0
        for i in range(counts.shape[1]):
            total += counts[region, i]
            out[region, i] = int(min(total * scale, top))


@numba.njit(nogil=True, cache=True)
def _opencv_tables(counts, limits, pixels, first, stop, out):
    nbins = counts.shape[1]
    for region in range(first, stop):
        hist = counts[region]
        limit = limits[region]
        if limit > 0:
            clipped = _clip_at(hist, limit)
            batch = clipped // nbins
            residual = clipped - batch * nbins
            if batch:
                for i in range(nbins):
                    hist[i] += batch
            if residual > 0:
                step = max(nbins // residual, 1)
                i = 0
                while i < nbins and residual > 0:
                    hist[i] += 1
                    i += step
                    residual -= 1
        scale = np.float32(nbins - 1) / np.float32(pixels[region])
        top = np.float32(nbins - 1)
        row = out[region]
        total = 0
        for i in range(nbins):
            total += hist[i]
            value = np.rint(np.float32(total) * scale)  # never below 0; saturate at the top as OpenCV does
            row[i] = min(top, value)


def opencv_tables(counts, limits, pixels, dtype):
    """``_clipping.OpenCVClip.tables`` in ``dtype`` for counts with no empty region; clips ``counts`` in place."""
    out = np.empty(counts.shape, dtype=dtype)
    limits, pixels = np.asarray(limits, dtype=np.int64), np.asarray(pixels, dtype=np.int64)
    run_parallel(lambda first, stop: _opencv_tables(counts, limits, pixels, first, stop, out),
                 split(counts.shape[0], num_threads() * 2))
    return out


def skimage_tables(counts, limits, pixels, top):
    """``_clipping.SkimageClip.tables`` for counts whose empty regions are already filled; clips ``counts`` in place."""
    _clip_skimage(counts, np.asarray(limits, dtype=np.int64))
    out = np.empty(counts.shape, dtype=np.int64)
    _map_skimage(counts, np.asarray(pixels, dtype=np.int64), float(top), out)
    return out


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
