"""Adaptive equalisation (CLAHE) of one contextual block: the two peers' variants, in the engine's stages.

* histogram: the regions of the tile grid (``_tiles``), counted through the door (``accel``);
* transfer: each region's table, clipped (``_clipping``);
* apply: every pixel blended between its nearest regions' tables.

:func:`plan_for` checks one call's parameters against the image;
:func:`stages_for` gives a context its variant's pieces (the tile grid, how
pixels become keys and bins, the clipped transfer); :func:`adapt_block`
takes one context from its pixels to the output: OpenCV's result on 2D
uint8/uint16, or scikit-image's 14-bit result (any number of axes) stretched
to the output range, with the mask and NaN rules. The public function is
``_adapthist.equalize_adapthist``; its dask path, ``_adapthist_lazy``, shares
these pieces.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._engine.backend import native
from .._engine.validate import check_out_range, dtype_range, normalize_axis, output_dtype
from . import accel as _region_door
from .clipping import SKIMAGE_LEVELS, OpenCVClip, SkimageClip
from .tiles import opencv_grid, skimage_axis

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


@dataclass(frozen=True)
class Stages:
    """One context's pieces for a variant: its tile grid, how pixels become keys, each key's bin, the transfer."""

    grid: tuple
    rule: LevelRule | None   # skimage: pixels to 14-bit keys; opencv: None, the pixels are their own keys
    bins: np.ndarray         # each key's histogram bin
    nbins: int
    transfer: object         # a ``_clipping`` transfer

    @property
    def positions(self):
        """For each axis, the (reflected) pixel positions each region reads."""
        return [axis.sources for axis in self.grid]

    def keys(self, xp, block):
        return native(block) if self.rule is None else self.rule.keys(xp, block)

    @property
    def region_pixels(self) -> int:
        return int(np.prod([axis.length for axis in self.grid]))

    def tables(self, counts, counted):
        """Every region's clipped table from its counts, ``(regions per axis..., nbins)``."""
        full = None if counted is not None else self.region_pixels
        return self._per_axis(_region_door.clipped_tables(self.transfer, counts, full))

    def region_tables(self, xp, keys, counted):
        """Every region's clipped table, counted from ``keys`` (``counted``: the pixels that count)."""
        full = None if counted is not None else self.region_pixels
        return self._per_axis(_region_door.region_tables(xp, keys, self.bins, self.positions, self.nbins, self.transfer,
                                                   counted, full))

    def _per_axis(self, tables):
        return tables.reshape(tuple(axis.regions for axis in self.grid) + (self.nbins,))


def stages_for(plan, dtype, shape, value_range=None) -> Stages:
    """The variant's stages for a context of ``shape``; the skimage variant's keys need the counted ``value_range``."""
    if plan.variant == "skimage":
        rule = LevelRule(dtype, *value_range)
        grid = tuple(skimage_axis(size, kernel) for size, kernel in zip(shape, plan.kernel))
        return Stages(grid, rule, skimage_bins(rule.lut, plan.nbins), plan.nbins, SkimageClip(plan.clip_limit))
    nbins = 1 << (8 * np.dtype(dtype).itemsize)
    identity = np.arange(nbins, dtype=np.dtype(dtype).newbyteorder("="))  # the kernels take native byte order
    return Stages(opencv_grid(shape, plan.tile_grid), None, identity, nbins, OpenCVClip(plan.clip_limit))


# --- one call's parameters, and one context from input to output ------------------------------------


@dataclass(frozen=True)
class Plan:
    """One call's checked parameters, for every context of it."""

    variant: str
    context: tuple       # the axes of one context
    kernel: tuple | None
    tile_grid: tuple | None
    clip_limit: float
    nbins: int
    out_range: object
    dtype: np.dtype
    ndim: int

    @property
    def out_dtype(self) -> np.dtype:
        return output_dtype(self.dtype)

    @property
    def contexts_last(self) -> tuple:
        """Where the context's axes go when every context is laid out last."""
        return tuple(range(self.ndim - len(self.context), self.ndim))


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
        # OpenCV pads an image smaller than its grid (the default 8x8 grid on a 4x5 image) by reflection
        tiles = _per_axis("tile_grid", (8, 8) if tile_grid is None else tile_grid, sizes, at_most_size=False)
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


def _per_axis(name, value, sizes, *, at_most_size=True):
    """An int or one int per context axis, each from 1 (to that axis's size, with ``at_most_size``)."""
    values = (value,) * len(sizes) if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != len(sizes):
        raise ValueError(f"Incorrect value of `{name}`: {value!r} needs one value per axis of the context "
                         f"({len(sizes)})")
    for v, size in zip(values, sizes):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} values must be whole numbers of at least 1, got {value!r}")
        if at_most_size and v > size:
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
    needs_range = plan.variant == "skimage" or plan.out_range == "image"
    value_range = counted_range(block, counted) if needs_range else None
    stages = stages_for(plan, block.dtype, block.shape, value_range)
    keys = stages.keys(xp, block)
    tables = stages.region_tables(xp, keys, counted)
    if plan.variant == "opencv":
        return _region_door.blend_opencv(xp, keys, tables, stages.grid)
    levels, low, high = _region_door.blend_skimage(xp, keys, stages.bins, tables, stages.grid)
    del tables
    if counted is not None:  # the kernels' range covers every pixel
        low, high = counted_range(levels, counted)
    lo, hi = output_limits(plan, value_range)
    table = stretch_table(low, high, lo, hi, plan.out_dtype)
    return finish(xp, levels, block, table, (lo, hi), block.dtype.kind == "f" and counted is not None,
                  in_place=True)


def finish(xp, levels, block, table, limits, non_finite, in_place=False):
    """The 14-bit levels through the stretch table; NaN stays NaN, +-inf go to the top and bottom.

    ``in_place``: ``levels`` may be overwritten (a uint16 output then takes its memory).
    """
    result = _region_door.map_levels(xp, levels, table, in_place)
    if non_finite:
        lo, hi = limits
        result = xp.where(xp.isnan(block), xp.nan, result)
        result = xp.where(block == xp.inf, hi, xp.where(block == -xp.inf, lo, result)).astype(table.dtype)
    return result


def output_limits(plan, value_range):
    """The output range: the dtype's, the counted pixels' own (``value_range``), or the one asked for."""
    if plan.out_range == "dtype":
        return dtype_range(plan.out_dtype)
    return value_range if plan.out_range == "image" else plan.out_range


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
