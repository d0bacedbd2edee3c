"""Numba kernels for adaptive equalisation (CLAHE) on 2D and 3D images.

They implement the stages of ``_tiles`` (counting per region here, blending
between regions in ``clahe_blend``) and the clip loops of ``_clipping``, with the
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

from .clahe_blend import blend_opencv, blend_skimage, map_levels  # noqa: F401 -- stage 3, the same interface
from .threads import num_threads, run_parallel, split


@numba.njit(nogil=True, inline="always")
def _count_region(values, counted, lut, src_z, src_y, src_x, region, hist):
    """Add region ``region``'s pixels to ``hist``. ``counted``: None (every pixel), or a uint8 array of
    the values' shape (non-zero: count it). A source index of -1 ends a region's list early (a chunk
    holds part of a region).
    """
    regions_y, regions_x = src_y.shape[0], src_x.shape[0]
    length_z, length_y = src_z.shape[1], src_y.shape[1]
    jz = region // (regions_y * regions_x)
    jy = (region // regions_x) % regions_y
    jx = region % regions_x
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


@numba.njit(nogil=True, cache=True)
def _count_regions(values, counted, lut, src_z, src_y, src_x, first, stop, out):
    for region in range(first, stop):
        _count_region(values, counted, lut, src_z, src_y, src_x, region, out[region])


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


@numba.njit(nogil=True, inline="always")
def _opencv_table(hist, limit, pixels, row):
    """One region's table from its histogram (clipped in place), in OpenCV's steps."""
    nbins = hist.size
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
    scale = np.float32(nbins - 1) / np.float32(pixels)
    top = np.float32(nbins - 1)
    total = 0
    for i in range(nbins):
        total += hist[i]
        value = np.rint(np.float32(total) * scale)  # never below 0; saturate at the top as OpenCV does
        row[i] = min(top, value)


@numba.njit(nogil=True, cache=True)
def _opencv_tables(counts, limits, pixels, first, stop, out):
    for region in range(first, stop):
        _opencv_table(counts[region], limits[region], pixels[region], out[region])


@numba.njit(nogil=True, cache=True)
def _count_and_table_regions(values, lut, src_z, src_y, src_x, limit, pixels, first, stop, out):
    hist = np.empty(out.shape[1], np.int32)  # one region's counts at a time
    for region in range(first, stop):
        hist[:] = 0
        _count_region(values, None, lut, src_z, src_y, src_x, region, hist)
        _opencv_table(hist, limit, pixels, out[region])


def opencv_region_tables(values, lut, sources, nbins, limit, pixels, dtype):
    """OpenCV's table of every region of a 3D uint8/uint16 array with every pixel counted (no mask),
    counted and turned into its table one region at a time per thread: the tables' memory alone,
    as ``cv2.createCLAHE`` needs, instead of every region's counts besides.
    """
    src_z, src_y, src_x = (np.ascontiguousarray(s, dtype=np.intp) for s in sources)
    regions = src_z.shape[0] * src_y.shape[0] * src_x.shape[0]
    out = np.empty((regions, nbins), dtype=dtype)
    run_parallel(lambda first, stop: _count_and_table_regions(values, lut, src_z, src_y, src_x, limit, pixels,
                                                              first, stop, out),
                 split(regions, num_threads() * 4))
    return out


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
