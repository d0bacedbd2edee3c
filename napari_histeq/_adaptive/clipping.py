"""Adaptive equalisation's transfer: each region's histogram clipped, its excess spread, its sum scaled.

Stage 2 of CLAHE, one class per peer, each turning ``(regions, nbins)``
counts into ``(regions, nbins)`` tables with its peer's integer and float
steps. The clip limit and the scale use each region's own count of pixels:
without a mask that is the region's size, as in both peers; a mask or NaN
pixels make it smaller. A region with nothing counted takes the table of all
regions' counts together.

This is the reference (plain NumPy, on the host: the tables are tiny). Each
class also names the numba kernels that build its tables (``tables_kernel``),
and OpenCV's the one that counts a region and makes its table at once
(``region_tables_kernel``); the kernels are checked against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: scikit-image's working levels (14 bits)
SKIMAGE_LEVELS = 1 << 14


def pixels_per_region(counts):
    """Each region's counted pixels, and the counts with empty regions replaced by the pooled histogram."""
    pixels = counts.sum(axis=1)
    empty = pixels == 0
    if empty.any():
        counts = counts.copy()
        counts[empty] = counts.sum(axis=0)
        pixels = counts.sum(axis=1)
    return counts, pixels


@dataclass(frozen=True)
class SkimageClip:
    """``skimage.exposure.equalize_adapthist``'s tables: ``clip_histogram`` then ``map_histogram`` to 14 bits."""

    clip_limit: float    # 0: no clipping; else the share of a region's pixels one bin may hold
    name: str = "clahe-skimage"

    def limit(self, pixels: int) -> int:
        return max(int(self.clip_limit * pixels), 1) if self.clip_limit > 0 else int(pixels)

    def tables(self, counts) -> np.ndarray:
        counts, pixels = pixels_per_region(np.asarray(counts, dtype=np.int64))
        out = np.empty(counts.shape, dtype=np.int64)
        for region, (hist, n) in enumerate(zip(counts, pixels)):
            clipped = clip_skimage(hist, self.limit(int(n)))
            scaled = np.cumsum(clipped).astype(np.float64) * ((SKIMAGE_LEVELS - 1) / int(n))
            out[region] = np.minimum(scaled, SKIMAGE_LEVELS - 1).astype(np.int64)
        return out

    def tables_kernel(self, kernels, counts, pixels) -> np.ndarray:
        """:meth:`tables` by the kernels, for counts with no empty region; clips ``counts`` in place."""
        return kernels.skimage_tables(counts, [self.limit(int(n)) for n in pixels], pixels, SKIMAGE_LEVELS - 1)

    region_tables_kernel = None  # the scikit-image variant counts every region first


def clip_skimage(hist, limit: int) -> np.ndarray:
    """scikit-image's ``clip_histogram``: clip at ``limit``, add the excess evenly, then in strided passes."""
    hist = np.array(hist, dtype=np.int64)
    over = hist > limit
    excess = int((hist[over] - limit).sum())
    hist[over] = limit
    step = excess // hist.size
    upper = limit - step
    low = hist < upper
    excess -= step * int(np.count_nonzero(low))
    hist[low] += step
    nearly = (hist >= upper) & (hist < limit)  # bins the even share brought close to the limit are filled up
    excess -= int((limit - hist[nearly]).sum())
    hist[nearly] = limit
    while excess > 0:
        before = excess
        for start in range(hist.size):
            stride = max(1, int(np.count_nonzero(hist < limit)) // excess)
            strided = hist[start::stride]
            below = strided < limit
            strided[below] += 1
            excess -= int(np.count_nonzero(below))
            if excess <= 0:
                break
        if excess == before:
            break
    return hist


@dataclass(frozen=True)
class OpenCVClip:
    """``cv2.createCLAHE``'s tables: clip, spread the excess (the residual one per step), scale in float32."""

    clip_limit: float    # OpenCV's clipLimit; 0: no clipping
    name: str = "clahe-opencv"

    def limit(self, pixels: int, nbins: int) -> int:
        # OpenCV's own cast: (clipLimit * tileSizeTotal) / histSize in double, truncated, at least 1
        return max(int(self.clip_limit * pixels / nbins), 1) if self.clip_limit > 0 else 0

    def tables(self, counts) -> np.ndarray:
        counts, pixels = pixels_per_region(np.asarray(counts, dtype=np.int64))
        nbins = counts.shape[1]
        out = np.empty(counts.shape, dtype=np.int64)
        for region, (hist, n) in enumerate(zip(counts, pixels)):
            hist = hist.copy()
            limit = self.limit(int(n), nbins)
            if limit > 0:
                clipped = int(np.maximum(hist - limit, 0).sum())
                np.minimum(hist, limit, out=hist)
                hist += clipped // nbins
                residual = clipped % nbins
                if residual:
                    hist[:: max(nbins // residual, 1)][:residual] += 1
            scale = np.float32(nbins - 1) / np.float32(n)
            sums = np.cumsum(hist).astype(np.float32) * scale
            out[region] = np.clip(np.rint(sums), 0, nbins - 1).astype(np.int64)
        return out

    def tables_kernel(self, kernels, counts, pixels) -> np.ndarray:
        """:meth:`tables` by the kernels, for counts with no empty region; clips ``counts`` in place."""
        nbins = counts.shape[1]
        limits = [self.limit(int(n), nbins) for n in pixels]
        return kernels.opencv_tables(counts, limits, pixels, np.uint8 if nbins == 256 else np.uint16)

    def region_tables_kernel(self, kernels, values, lut, sources, nbins, pixels) -> np.ndarray:
        """Every region's table, each counted and made into its table at once (every pixel counted,
        each region ``pixels`` in size): the memory of the tables alone, as ``cv2.createCLAHE`` needs.
        """
        return kernels.opencv_region_tables(values, lut, sources, nbins, self.limit(pixels, nbins), pixels,
                                            np.uint8 if nbins == 256 else np.uint16)
