"""``equalize_adapthist``: contrast-limited adaptive equalisation (CLAHE), the second operation.

Validation, the axis, mask and output-range rules shared with
:func:`equalize`, then ``_clahe`` for each contextual block (a whole
volume, or each plane with ``axis=(-2, -1)``); dask and zarr go to
``_adapthist_lazy``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _accel, _clahe
from ._backend import array_module, is_lazy_array, resolve_backend, to_backend
from ._clipping import SKIMAGE_LEVELS
from ._validate import as_image, check_mask, check_out, check_out_range, dtype_range, normalize_axis, output_dtype
from ._wrapped import check_no_out_for_lazy, check_no_out_for_wrapped, unwrap

VARIANTS = ("skimage", "opencv")
DEFAULT_CLIP = {"skimage": 0.01, "opencv": 40.0}


def equalize_adapthist(image, *, variant="skimage", kernel_size=None, clip_limit=None, nbins=256, tile_grid=None,
                       mask=None, axis=None, out_range="dtype", backend="auto", out=None):
    """Contrast-limited adaptive histogram equalisation (CLAHE).

    Each contextual region gets its own histogram, clipped so that no level
    holds more than ``clip_limit`` of it (the excess is spread over all
    levels), and each pixel is mapped through the tables of its nearest
    regions, blended (bi/trilinearly) by its distance to their centres.

    Parameters
    ----------
    image : array
        2D, 3D or nD image (NumPy, CuPy, dask or zarr); never modified.
    variant : {"skimage", "opencv"}
        ``"skimage"``: ``skimage.exposure.equalize_adapthist``, in any
        number of dimensions (a volume is contextual along every axis).
        ``"opencv"``: ``cv2.createCLAHE(clip_limit, tile_grid).apply``, bit
        for bit, on 2D uint8 and uint16 planes.
    kernel_size : int or sequence of int, optional
        scikit-image's region shape, per axis of the context; default 1/8 of
        each size. The skimage variant only.
    clip_limit : float, optional
        In each variant's own units: scikit-image's fraction of a region's
        pixels, in [0, 1] (default 0.01); OpenCV's clipLimit, >= 0 (default
        40). 0 turns clipping off (plain adaptive equalisation).
    nbins : int
        scikit-image's number of histogram bins (2 .. 65536, default 256).
        OpenCV uses one bin per level.
    tile_grid : (int, int), optional
        Regions along each axis. OpenCV's tileGridSize in (rows, columns)
        order, default (8, 8); with the skimage variant an alternative to
        ``kernel_size`` (``size // tiles`` per axis).
    mask : array of bool, optional
        Count only these pixels (each region's histogram, clip and scale use
        its own count; a region with none takes all regions' pooled
        histogram); every pixel is mapped.
    axis : None, int or tuple of int, optional
        The axes of one context: None, every axis; ``(-2, -1)``, each plane
        alone (as the peers applied slice by slice).
    out_range : "dtype", "image" or (lo, hi)
        As in :func:`equalize` (the skimage variant; OpenCV's is its dtype).
    backend : {"auto", "numpy", "cupy"}
    out : array, optional
        Where to write the result (the image's shape, the output dtype).

    Returns
    -------
    out : array
        Same shape and array type as ``image``. As in scikit-image, a 3D
        image whose last axis holds 3 or 4 values is colour (RGB, RGBA) for
        the skimage variant with ``axis=None``: its brightness is equalised
        and hue and saturation kept (alpha too; see :func:`equalize_rgb` for
        each channel alone). Pass ``axis=(0, 1, 2)`` for a volume of 3 or
        4 planes. Integer images keep their
        dtype; floats give float32 (float64 for float64 input) in [0, 1].
        With the skimage variant, float64 input gives scikit-image's result
        to the bit; integer input its result mapped to the dtype's range and
        rounded. NaN stays NaN; +inf and -inf go to the top and bottom.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import equalize_adapthist
    >>> image = np.add.outer(np.arange(8), np.arange(8)).astype(np.uint8)
    >>> equalize_adapthist(image, kernel_size=4)[0]
    array([  0,  34,  68,  76,  85, 110, 119, 136], dtype=uint8)
    >>> equalize_adapthist(image, variant="opencv", tile_grid=(2, 2), clip_limit=2)[0]
    array([32, 48, 64, 64, 64, 64, 64, 80], dtype=uint8)
    """
    image, mask, wrap = unwrap(image, mask)
    options = {"variant": variant, "kernel_size": kernel_size, "clip_limit": clip_limit, "nbins": nbins,
               "tile_grid": tile_grid, "axis": axis, "out_range": out_range, "backend": backend}
    if wrap is not None:
        check_no_out_for_wrapped(out)
        return wrap(equalize_adapthist(image, mask=mask, **options))
    if variant == "skimage" and axis is None and len(getattr(image, "shape", ())) == 3 and image.shape[-1] in (3, 4):
        return _colour(image, mask, out, options)
    if is_lazy_array(image):
        check_no_out_for_lazy(out)
        from ._adapthist_lazy import equalize_adapthist_lazy

        return equalize_adapthist_lazy(image, mask=mask, **options)
    image = as_image(image)
    plan = plan_for(image.shape, image.dtype, **options)
    result_xp = array_module(image)
    xp = resolve_backend(backend, image)
    data = to_backend(xp, image)
    mask = check_mask(mask, image.shape)
    if mask is not None:
        mask = xp.broadcast_to(to_backend(xp, mask), image.shape)
    if out is not None:
        check_out(out, image, plan.out_dtype)
    if len(plan.context) == image.ndim:  # one context: its result is the result, no copy
        result = adapt_block(xp, data, mask, plan)
    else:
        result = xp.empty(image.shape, dtype=plan.out_dtype)
        moved = plan.contexts_last
        blocks = xp.moveaxis(data, plan.context, moved)
        targets = xp.moveaxis(result, plan.context, moved)
        masks = None if mask is None else xp.moveaxis(mask, plan.context, moved)
        for index in np.ndindex(blocks.shape[: blocks.ndim - len(plan.context)]):
            targets[index] = adapt_block(xp, blocks[index], None if masks is None else masks[index], plan)
    result = to_backend(result_xp, result)
    if out is None:
        return result
    out[...] = result
    return out


def _colour(image, mask, out, options):
    """scikit-image's rule: a last axis of 3 or 4 is RGB(A), equalised on its brightness (hue kept).

    Integer colour is equalised as scikit-image does it, in float (each
    channel over its dtype's top), and rounded once at the end: the other
    channels' gains come from the unrounded brightness.
    """
    from ._rgb import equalize_rgb

    options = {**options, "axis": None}
    data = as_image(image) if not is_lazy_array(image) else image
    if np.dtype(data.dtype).kind not in "ui":
        result = equalize_rgb(data, mode="value", operation=equalize_adapthist, mask=mask, **options)
    else:
        top = float(np.iinfo(data.dtype).max)
        out_range = check_out_range(options.pop("out_range"), data.dtype)
        shares = equalize_rgb(data[..., :3] * (1.0 / top), mode="value", operation=equalize_adapthist, mask=mask,
                              out_range="dtype", **options)
        if out_range == "dtype":
            lo, hi = dtype_range(data.dtype)
        elif out_range == "image":
            lo, hi = data[..., :3].min().item(), data[..., :3].max().item()
        else:
            lo, hi = out_range
        xp = array_module(shares) if not is_lazy_array(shares) else __import__("dask.array").array
        colour = (lo + xp.rint(shares * float(hi - lo))).astype(data.dtype)
        result = colour if data.shape[-1] == 3 else xp.concatenate([colour, data[..., 3:]], axis=-1)
    if out is None:
        return result
    check_out(out, image, result.dtype)
    out[...] = result
    return out


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
        if dtype not in (np.uint8, np.uint16):
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
        return _clahe.adapt_opencv(xp, block, tile_grid=plan.tile_grid, clip_limit=plan.clip_limit, counted=counted)
    levels, low, high = _clahe.adapt_skimage(xp, block, kernel_size=plan.kernel, clip_limit=plan.clip_limit,
                                             nbins=plan.nbins, counted=counted)
    lo, hi = output_limits(xp, block, counted, plan)
    table = stretch_table(low, high, lo, hi, plan.out_dtype)
    return finish(xp, levels, block, table, (lo, hi), block.dtype.kind == "f" and counted is not None)


def finish(xp, levels, block, table, limits, non_finite):
    """The 14-bit levels through the stretch table; NaN stays NaN, +-inf go to the top and bottom."""
    result = _accel.map_levels(xp, levels, table)
    if non_finite:
        lo, hi = limits
        result = xp.where(xp.isnan(block), xp.nan, result)
        result = xp.where(block == xp.inf, hi, xp.where(block == -xp.inf, lo, result)).astype(table.dtype)
    return result


def output_limits(xp, block, counted, plan):
    if plan.out_range == "dtype":
        return dtype_range(plan.out_dtype)
    if plan.out_range == "image":
        chosen = block if counted is None else block[counted]
        return chosen.min().item(), chosen.max().item()
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
