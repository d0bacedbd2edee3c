"""Adaptive equalisation (CLAHE) of one contextual block: the two peers' variants, in the engine's stages.

* histogram: the regions of the tile grid (``_tiles``), counted through the door (``_accel``);
* transfer: each region's table, clipped (``_clipping``);
* apply: every pixel blended between its nearest regions' tables.

``adapt_skimage`` works on any number of axes and returns scikit-image's
14-bit result before its final stretch; ``adapt_opencv`` on 2D uint8/uint16
and returns OpenCV's result. :func:`plan_for` checks one call's parameters
against the image, and :func:`adapt_block` takes one context from its
pixels to the output (the mask, NaN and output-range rules). The public
function is ``_adapthist.equalize_adapthist``; its dask path,
``_adapthist_lazy``, shares these pieces.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _accel
from ._backend import native
from ._clipping import SKIMAGE_LEVELS, OpenCVClip, SkimageClip
from ._tiles import opencv_grid, skimage_axis
from ._validate import check_out_range, dtype_range, normalize_axis, output_dtype

#: Elements quantised per step for floats and wide integers (bounds the float64 temporaries).
BLOCK = 1 << 20
VARIANTS = ("skimage", "opencv")
DEFAULT_CLIP = {"skimage": 0.01, "opencv": 40.0}


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
        low, high = counted_range(levels, counted)
    return levels, low, high


def adapt_opencv(xp, image, *, tile_grid, clip_limit, counted=None):
    """``cv2.createCLAHE(clip_limit, tile_grid[::-1]).apply(image)`` of a 2D uint8/uint16 image."""
    image = native(image)  # the kernels and their identity table take native byte order
    nbins = 1 << (8 * image.dtype.itemsize)
    grid = opencv_grid(image.shape, tile_grid)
    identity = np.arange(nbins, dtype=image.dtype)
    counts = _host(_accel.region_counts(xp, image, identity, grid, nbins, counted))
    full = None if counted is not None else grid[0].length * grid[1].length
    tables = _accel.clipped_tables(OpenCVClip(clip_limit), counts, full)
    return _accel.blend_opencv(xp, image, tables.reshape(tile_grid[0], tile_grid[1], nbins), grid)


# --- one call's parameters, and one context from input to output ------------------------------------


class Plan:
    """One call's checked parameters, for every block of it."""

    def __init__(self, variant, context, kernel, tile_grid, clip_limit, nbins, out_range, dtype, ndim):
        self.variant, self.context, self.kernel, self.tile_grid = variant, context, kernel, tile_grid
        self.clip_limit, self.nbins, self.out_range, self.dtype = clip_limit, nbins, out_range, dtype
        self.out_dtype = output_dtype(dtype)
        self.contexts_last = tuple(range(ndim - len(context), ndim))


def plan_for(shape, dtype, *, variant, kernel_size, clip_limit, nbins, tile_grid, axis, out_range, backend):
    """Check every parameter against the image's shape and dtype (clear errors naming the parameter)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    dtype = np.dtype(dtype)
    context = normalize_axis(axis, len(shape))
    sizes = tuple(shape[a] for a in context)
    clip_limit = DEFAULT_CLIP[variant] if clip_limit is None else clip_limit
    if isinstance(clip_limit, bool) or not isinstance(clip_limit, numbers.Real) or not math.isfinite(clip_limit):
        raise ValueError(f"clip_limit must be a finite number, got {clip_limit!r}")
    out_range = check_out_range(out_range, dtype)
    if variant == "opencv":
        if dtype.newbyteorder("=") not in (np.uint8, np.uint16):
            raise TypeError(f"variant='opencv' takes uint8 and uint16 images (as OpenCV), got {dtype}; "
                            "variant='skimage' takes every dtype")
        if len(sizes) != 2:
            raise ValueError(f"variant='opencv' equalises 2D planes, and axis={axis!r} makes {len(sizes)}D "
                             "contexts: pass axis=(-2, -1), or use variant='skimage' for volumes")
        if kernel_size is not None:
            raise ValueError("kernel_size is the skimage variant's; OpenCV's regions are set by tile_grid")
        if nbins != 256:
            raise ValueError("nbins is the skimage variant's; OpenCV uses one bin per level")
        if clip_limit < 0:
            raise ValueError(f"clip_limit (OpenCV's clipLimit) must be 0 or more, got {clip_limit!r}")
        if out_range != "dtype":
            raise ValueError("variant='opencv' gives OpenCV's values in the dtype's range: out_range must be 'dtype'")
        tiles = _per_axis("tile_grid", (8, 8) if tile_grid is None else tile_grid, sizes)
        return Plan(variant, context, None, tiles, float(clip_limit), 256, out_range, dtype, len(shape))
    if not 0 <= clip_limit <= 1:
        raise ValueError(f"clip_limit (scikit-image's, a fraction of a region) must be in [0, 1], got {clip_limit!r}")
    if isinstance(nbins, bool) or not isinstance(nbins, numbers.Integral) or not 2 <= nbins <= 65536:
        raise ValueError(f"nbins must be a whole number from 2 to 65536, got {nbins!r}")
    if kernel_size is not None and tile_grid is not None:
        raise ValueError("give kernel_size or tile_grid, not both")
    if tile_grid is not None:
        kernel = tuple(max(size // tiles, 1) for size, tiles in zip(sizes, _per_axis("tile_grid", tile_grid, sizes)))
    elif kernel_size is None:
        kernel = tuple(max(size // 8, 1) for size in sizes)
    else:
        kernel = _per_axis("kernel_size", kernel_size, sizes)
    return Plan(variant, context, kernel, None, float(clip_limit), int(nbins), out_range, dtype, len(shape))


def _per_axis(name, value, sizes):
    """An int or one int per context axis, each from 1 to that axis's size."""
    values = (value,) * len(sizes) if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != len(sizes):
        raise ValueError(f"Incorrect value of `{name}`: {value!r} needs one value per axis of the context "
                         f"({len(sizes)})")
    for v, size in zip(values, sizes):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} values must be whole numbers of at least 1, got {value!r}")
        if v > size:
            raise ValueError(f"{name} {value!r} is larger than the image's context {sizes}")
    return tuple(int(v) for v in values)


def counted_pixels(xp, block, mask):
    """The pixels the histograms count: the mask's, without NaN and inf; None for all of them."""
    counted = mask
    if block.dtype.kind == "f":
        finite = xp.isfinite(block)
        if not bool(finite.all()):
            counted = finite if counted is None else counted & finite
    return counted


def adapt_block(xp, block, mask, plan):
    """One context: OpenCV's result, or scikit-image's stretched to the output range."""
    counted = counted_pixels(xp, block, mask)
    if plan.variant == "opencv":
        return adapt_opencv(xp, block, tile_grid=plan.tile_grid, clip_limit=plan.clip_limit, counted=counted)
    levels, low, high = adapt_skimage(xp, block, kernel_size=plan.kernel, clip_limit=plan.clip_limit,
                                             nbins=plan.nbins, counted=counted)
    lo, hi = output_limits(xp, block, counted, plan)
    table = stretch_table(low, high, lo, hi, plan.out_dtype)
    return finish(xp, levels, block, table, (lo, hi), block.dtype.kind == "f" and counted is not None,
                  in_place=True)


def finish(xp, levels, block, table, limits, non_finite, in_place=False):
    """The 14-bit levels through the stretch table; NaN stays NaN, +-inf go to the top and bottom.

    ``in_place``: ``levels`` may be overwritten (a uint16 output then takes its memory).
    """
    result = _accel.map_levels(xp, levels, table, in_place)
    if non_finite:
        lo, hi = limits
        result = xp.where(xp.isnan(block), xp.nan, result)
        result = xp.where(block == xp.inf, hi, xp.where(block == -xp.inf, lo, result)).astype(table.dtype)
    return result


def output_limits(xp, block, counted, plan):
    if plan.out_range == "dtype":
        return dtype_range(plan.out_dtype)
    if plan.out_range == "image":
        return counted_range(block, counted)
    return plan.out_range


def stretch_table(low, high, lo, hi, out_dtype):
    """scikit-image's final ``rescale_intensity`` of the 14-bit result, then the output range, per level.

    In float32 for float32 output, as scikit-image computes it; levels
    outside the counted ``low .. high`` (a mask) clip to the ends.
    """
    out_dtype = np.dtype(out_dtype)
    work = np.float32 if out_dtype == np.float32 else np.float64
    levels = np.arange(SKIMAGE_LEVELS).astype(work)
    if low != high:
        share = np.clip((levels - work(low)) / work(high - low), 0, 1)
    else:
        share = np.clip(levels, 0, 1)
    if out_dtype.kind == "f":
        return share if (lo, hi) == (0.0, 1.0) else (lo + share.astype(np.float64) * (hi - lo)).astype(out_dtype)
    steps = np.rint(share.astype(np.float64) * float(hi - lo))
    if out_dtype.itemsize < 8:  # float64 holds every 32-bit level exactly
        return np.clip(lo + steps, lo, hi).astype(out_dtype)
    return np.array([min(lo + int(step), hi) for step in steps], dtype=out_dtype)  # 64-bit: exact integers
