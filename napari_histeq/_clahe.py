"""Adaptive equalisation (CLAHE) of one contextual block: the two peers' variants, in the engine's stages.

* histogram: the regions of the tile grid (``_tiles``), counted through the door (``_accel``);
* transfer: each region's table, clipped (``_clipping``);
* apply: every pixel blended between its nearest regions' tables.

``adapt_skimage`` works on any number of axes and returns scikit-image's
14-bit result before its final stretch; ``adapt_opencv`` on 2D uint8/uint16
and returns OpenCV's result. The public function, with its axis, mask, RGB,
lazy and output-range rules, is ``_adapthist.equalize_adapthist``.
"""

from __future__ import annotations

import numpy as np

from . import _accel
from ._clipping import SKIMAGE_LEVELS, OpenCVClip, SkimageClip
from ._tiles import opencv_grid, skimage_axis

#: Elements quantised per step for floats and wide integers (bounds the float64 temporaries).
BLOCK = 1 << 20


def skimage_uint16(levels):
    """``skimage.util.img_as_uint`` of 8/16-bit integer levels, as int64 (negative levels become 0)."""
    levels = np.asarray(levels)
    bits = levels.dtype.itemsize * 8
    wide = levels.astype(np.int64)
    if levels.dtype.kind == "u":
        return wide * ((1 << 16) - 1) // ((1 << bits) - 1)
    n = bits - 1  # scikit-image scales n bits up to a multiple of n past 16, then down to 16
    o = (16 // n + 1) * n
    return np.maximum(wide * (((1 << o) - 1) // ((1 << n) - 1)) // (1 << (o - 16)), 0)


def quantise(xp, u, low, high):
    """scikit-image's 14-bit working levels: ``round((u - low) / (high - low) * 16383)`` in float64."""
    u = xp.asarray(u, dtype=np.float64)
    if low == high:
        return xp.clip(u, 0, SKIMAGE_LEVELS - 1).astype(np.uint16)
    u = xp.clip(u, low, high)
    return xp.round((u - low) / (high - low) * float(SKIMAGE_LEVELS - 1)).astype(np.uint16)


class LevelRule:
    """How pixels become scikit-image's 14-bit working levels, fixed by the counted pixels' ``low .. high``.

    ``keys(xp, block)`` gives each pixel a uint8/uint16 key and ``lut`` each
    key's level. 8/16-bit images are their own keys (signed ones seen as
    unsigned), mapped through a table of every level (scikit-image's
    ``img_as_uint``, then its stretch to 14 bits); floats and wider integers
    are quantised pixel by pixel and their keys are the levels themselves.
    """

    def __init__(self, dtype, low, high):
        self.dtype = dtype = np.dtype(dtype)
        if dtype.kind in "ui" and dtype.itemsize <= 2:
            self.unsigned = np.dtype(f"u{dtype.itemsize}")
            u = skimage_uint16(np.arange(1 << (8 * dtype.itemsize), dtype=self.unsigned).view(dtype))
            self.lut = quantise(np, u, *skimage_uint16(np.array([low, high], dtype=dtype)))
            return
        self.unsigned = None
        self.lut = np.arange(SKIMAGE_LEVELS, dtype=np.uint16)
        # scikit-image's img_as_uint for floats in [-1, 1]; the data's own range for what it refuses
        # (floats outside [-1, 1]) or converts by the data (32/64-bit integers)
        self.unit = dtype.kind == "f" and -1 <= low and high <= 1
        self.low, self.high = (self._levels(np, np.array([v], dtype=dtype))[0].item() for v in (low, high))

    def _levels(self, xp, block):
        if not self.unit:
            return block
        work = np.float32 if self.dtype == np.float16 else self.dtype.type  # scikit-image multiplies in this type
        return xp.clip(xp.rint(xp.multiply(block, 65535, dtype=work)), 0, 65535)

    def keys(self, xp, block):
        if self.unsigned is not None:
            return block.view(self.unsigned)
        flat = block.reshape(-1)
        keys = xp.empty(flat.shape, dtype=np.uint16)
        for start in range(0, flat.size, BLOCK):
            part = flat[start:start + BLOCK]
            if self.dtype.kind == "f":  # placeholders: non-finite pixels are never counted
                part = xp.where(xp.isfinite(part), part, self.dtype.type(0))
            keys[start:start + BLOCK] = quantise(xp, self._levels(xp, part), self.low, self.high)
        return keys.reshape(block.shape)


def counted_range(image, counted):
    """Min and max of the counted pixels, as Python numbers."""
    chosen = image if counted is None else image[counted]
    if chosen.size == 0:
        raise ValueError("no pixel to count: the mask selects none, or every value is NaN or infinite")
    return chosen.min().item(), chosen.max().item()


def skimage_bins(lut, nbins):
    """Each key's histogram bin: scikit-image's ``level // (1 + 16384 // nbins)``."""
    return (lut // (1 + SKIMAGE_LEVELS // nbins)).astype(np.uint16)


def _host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def adapt_skimage(xp, image, *, kernel_size, clip_limit, nbins, counted=None):
    """scikit-image's CLAHE of ``image`` before its final stretch: ``(levels, low, high)``.

    ``levels``: uint16 in ``0 .. 16383``; ``low`` and ``high``: their min and
    max over the counted pixels (the final stretch's range).
    """
    rule = LevelRule(image.dtype, *counted_range(image, counted))
    values, bins = rule.keys(xp, image), skimage_bins(rule.lut, nbins)
    grid = tuple(skimage_axis(size, kernel) for size, kernel in zip(image.shape, kernel_size))
    counts = _host(_accel.region_counts(xp, values, bins, grid, nbins, counted))
    full = None if counted is not None else int(np.prod(kernel_size))
    tables = _accel.clipped_tables(SkimageClip(clip_limit), counts, full)
    tables = tables.reshape(tuple(axis.regions for axis in grid) + (nbins,))
    levels, low, high = _accel.blend_skimage(xp, values, bins, tables, grid)
    if counted is not None:  # the kernels' range covers every pixel
        chosen = levels[counted]
        low, high = int(chosen.min()), int(chosen.max())
    return levels, low, high


def adapt_opencv(xp, image, *, tile_grid, clip_limit, counted=None):
    """``cv2.createCLAHE(clip_limit, tile_grid[::-1]).apply(image)`` of a 2D uint8/uint16 image."""
    nbins = 1 << (8 * image.dtype.itemsize)
    grid = opencv_grid(image.shape, tile_grid)
    identity = np.arange(nbins, dtype=image.dtype)
    counts = _host(_accel.region_counts(xp, image, identity, grid, nbins, counted))
    full = None if counted is not None else grid[0].length * grid[1].length
    tables = _accel.clipped_tables(OpenCVClip(clip_limit), counts, full)
    return _accel.blend_opencv(xp, image, tables.reshape(tile_grid[0], tile_grid[1], nbins), grid)
