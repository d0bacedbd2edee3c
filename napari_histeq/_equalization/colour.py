"""Colour images: equalise each channel, or the brightness alone."""

from __future__ import annotations

import numpy as np

from .._engine.backend import array_module, as_dask, float_to_integer, is_lazy_array, to_backend
from .._engine.validate import as_image, check_image_dtype, check_mask, normalize_axis
from .._engine.wrapped import array_contract
from .equalize import equalize

#: How a colour image is equalised: each channel alone, or its brightness with hue kept.
RGB_MODES = ("channels", "value")


@array_contract(colour_samples=True)
def equalize_rgb(image, *, mode="channels", axis=None, operation=equalize, **options):
    """Equalise an RGB(A) image whose last axis holds the channels.

    Parameters
    ----------
    image : array, shape ``(..., 3)`` or ``(..., 4)``
        Integer or float colour image; an alpha channel is kept as it is.
    mode : {"channels", "value"}
        ``"channels"``: each colour channel gets its own histogram (colours
        shift). ``"value"``: only the brightness (HSV value, the largest
        channel) is equalised and every pixel's channels are scaled by the
        same factor, so hue and saturation are kept.
    axis : None or tuple of int
        The spatial axes one histogram spans, counted without the channel
        axis (``(-2, -1)``: each plane). None: every spatial axis.
    operation : callable
        :func:`equalize` (the default) or :func:`equalize_adapthist`.
    **options
        The operation's own options (``variant``, ``nbins``, ``mask``,
        ``out_range``, ``backend``, ...). A mask covers the spatial axes (the image's shape
        without the channel axis, or its trailing axes) and applies to
        every channel.

    Returns
    -------
    out : array
        Same shape and array type as ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import equalize_rgb
    >>> rgb = np.array([[[10, 5, 0], [20, 10, 0]]], dtype=np.uint8)
    >>> equalize_rgb(rgb, mode="value")
    array([[[128,  64,   0],
            [255, 128,   0]]], dtype=uint8)
    """
    data = as_dask(image) if is_lazy_array(image) else as_image(image)  # dask and zarr stay lazy
    check_image_dtype(data.dtype)
    if data.ndim < 3 or data.shape[-1] not in (3, 4):
        raise ValueError(f"an RGB(A) image needs a last axis of 3 or 4 channels, got shape {data.shape}")
    if mode not in RGB_MODES:
        raise ValueError(f"mode must be one of {RGB_MODES}, got {mode!r}")
    spatial_ndim = data.ndim - 1
    spatial_axes = _spatial_axes(axis, spatial_ndim)
    colour = data[..., :3]
    mask = check_mask(options.pop("mask", None), data.shape[:-1])
    if mode == "channels":
        if mask is not None:  # the same region of interest in every channel
            mask = array_module(mask).broadcast_to(mask[..., None], mask.shape + (3,))
        result = operation(colour, axis=spatial_axes, mask=mask, **options)
    else:
        result = _equalize_value(colour, spatial_axes, operation, {**options, "mask": mask})
    if data.shape[-1] == 3:
        return result
    xp = array_module(result)
    alpha = data[..., 3:] if is_lazy_array(data) else to_backend(xp, data[..., 3:])
    return xp.concatenate([result, alpha.astype(result.dtype)], axis=-1)


def _spatial_axes(axis, spatial_ndim):
    """Spatial axes as negative indices into the image *with* its channel axis."""
    return tuple(ax - spatial_ndim - 1 for ax in normalize_axis(axis, spatial_ndim))


def _equalize_value(colour, spatial_axes, operation, options):
    xp = array_module(colour)
    value = colour.max(axis=-1)
    equalized = operation(value, axis=tuple(a + 1 for a in spatial_axes), **options)
    value_f = value.astype(np.float64)
    gain = equalized.astype(np.float64) / xp.where(value_f > 0, value_f, 1.0)
    scaled = colour.astype(np.float64) * gain[..., None]
    # black pixels have no hue: they become grey at their new brightness
    scaled = xp.where((value_f > 0)[..., None], scaled, equalized.astype(np.float64)[..., None])
    out_dtype = equalized.dtype
    if out_dtype.kind in "ui":
        return float_to_integer(xp.round(scaled), out_dtype)
    return scaled.astype(out_dtype)
