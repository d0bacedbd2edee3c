"""``equalize_adapthist``: contrast-limited adaptive equalisation (CLAHE), the second operation.

The public function: its parameters checked once (``_clahe.plan_for``), the
axis rule (each context alone), colour as scikit-image decides it, then
``_clahe`` for each context; dask and zarr go to ``_adapthist_lazy``.
"""

from __future__ import annotations

import numpy as np

from .._engine.backend import array_module, float_to_integer, is_lazy_array, module_of, resolve_backend, to_backend
from .._engine.validate import as_image, check_mask, check_out, check_out_range, dtype_range, normalize_axis
from .._engine.wrapped import array_contract
from .clahe import adapt_block, plan_for
from .lazy import equalize_adapthist_lazy


@array_contract
def equalize_adapthist(image, *, variant="skimage", kernel_size=None, clip_limit=None, nbins=256, tile_grid=None,
                       mask=None, axis=None, out_range="dtype", backend="auto", out=None, kernel_size_mm=None,
                       spacing=None):
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
    kernel_size_mm : float or sequence of float, optional
        The region's size in physical units instead of voxels (millimetres for CT, or whatever
        unit ``spacing`` is in: micrometres for a confocal stack), one for every axis of the
        context or one per axis: each becomes ``round(size / spacing)`` voxels (at least 1), so
        that an anisotropic volume (0.7 x 0.7 x 2.5 mm) gets regions that are cubes in space.
        The skimage variant only; not with ``kernel_size``.
    spacing : sequence of float, optional
        The voxel size along each axis of ``image`` (a napari layer's ``scale``, a
        :class:`~napari_histeq.Volume`'s ``spacing``); needed by ``kernel_size_mm``.

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
    >>> volume = np.random.default_rng(0).integers(-1000, 1000, (10, 60, 60)).astype(np.int16)
    >>> same = equalize_adapthist(volume, kernel_size=(4, 14, 14))
    >>> np.array_equal(equalize_adapthist(volume, kernel_size_mm=10, spacing=(2.5, 0.7, 0.7)), same)
    True
    """
    if kernel_size_mm is not None:
        kernel_size = kernel_in_voxels(kernel_size_mm, spacing, image, variant=variant, kernel_size=kernel_size,
                                       axis=axis)
    options = {"variant": variant, "kernel_size": kernel_size, "clip_limit": clip_limit, "nbins": nbins,
               "tile_grid": tile_grid, "axis": axis, "out_range": out_range, "backend": backend}
    if variant == "skimage" and axis is None and len(getattr(image, "shape", ())) == 3 and image.shape[-1] in (3, 4):
        return _colour(image, mask, out, options)
    if is_lazy_array(image):
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


def kernel_in_voxels(size, spacing, image, *, variant, kernel_size, axis):
    """``kernel_size_mm`` as voxels per axis of the context: ``round(size / spacing)``, at least 1."""
    if kernel_size is not None:
        raise ValueError("give kernel_size (voxels) or kernel_size_mm (physical units), not both")
    if variant != "skimage":
        raise ValueError(f"kernel_size_mm sizes the skimage variant's regions; the {variant} variant takes tile_grid")
    if spacing is None:
        raise ValueError("kernel_size_mm needs spacing: the voxel size along each axis (a layer's scale)")
    ndim = len(image.shape)
    spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if spacing.size != ndim or not (np.isfinite(spacing).all() and (spacing > 0).all()):
        raise ValueError(f"spacing must be {ndim} positive numbers, one per axis of the image, got {spacing.tolist()}")
    context = tuple(range(ndim)) if axis is None else normalize_axis(axis, ndim)
    size = np.broadcast_to(np.asarray(size, dtype=np.float64).reshape(-1), (len(context),))
    if not (np.isfinite(size).all() and (size > 0).all()):
        raise ValueError(f"kernel_size_mm must be positive, got {size.tolist()}")
    return tuple(max(1, round(float(s) / float(spacing[a]))) for s, a in zip(size, context))


def _colour(image, mask, out, options):
    """scikit-image's rule: a last axis of 3 or 4 is RGB(A), equalised on its brightness (hue kept).

    Integer colour is equalised as scikit-image does it, in float (each
    channel over its dtype's top), and rounded once at the end: the other
    channels' gains come from the unrounded brightness.
    """
    from .._equalization.colour import equalize_rgb

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
        xp = module_of(shares)
        colour = float_to_integer(lo + xp.rint(shares * float(hi - lo)), data.dtype)
        result = colour if data.shape[-1] == 3 else xp.concatenate([colour, data[..., 3:]], axis=-1)
    if out is None:
        return result
    check_out(out, image, result.dtype)
    out[...] = result
    return out
