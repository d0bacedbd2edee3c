"""napari layers in, napari layer data out: the plugin's model, without Qt.

These functions are what the widget runs in its worker thread, and what
scripts call directly::

    import napari, napari_histeq
    viewer = napari.Viewer()
    source = viewer.add_image(napari_histeq.dark_stack())
    napari_histeq.add_equalized(viewer, source, scope="plane")

napari is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import time

import numpy as np

from .._engine.backend import backend_info, is_lazy_array
from .._engine.validate import dtype_range
from .._operations.run import input_limits, run_levels
from .._operations.settings import Settings, scope_axis

METADATA_KEY = "napari_histeq"
#: Layer attributes the output copies from its source, so it lies exactly on top of it.
GEOMETRY = ("scale", "translate", "rotate", "shear", "units", "axis_labels")


def finest_level(layer):
    """The layer's data at full resolution: the first level of a multiscale layer, else the data."""
    return layer.data[0] if layer.multiscale else layer.data


def displayed_index(viewer, layer):
    """Where the viewer is in ``layer``: ``(index, displayed)``.

    ``index`` selects the displayed plane from the finest level (slices on
    the displayed axes, integers elsewhere); ``displayed`` lists those axes.
    """
    data = finest_level(layer)
    spatial_ndim = data.ndim - (1 if layer.rgb else 0)
    offset = viewer.dims.ndim - spatial_ndim
    displayed = [d - offset for d in viewer.dims.displayed[-2:] if d - offset >= 0]
    position = layer.world_to_data(viewer.dims.point)
    index = tuple(
        slice(None) if axis in displayed else int(np.clip(round(position[axis]), 0, data.shape[axis] - 1))
        for axis in range(spatial_ndim)
    )
    return index, displayed


def output_name(layer) -> str:
    return f"{layer.name} equalized"


def layer_mask(mask_layer, image_layer):
    """A boolean mask for ``image_layer`` from a Labels or Shapes layer (or None)."""
    if mask_layer is None:
        return None
    from napari.layers import Labels, Shapes

    spatial_shape = _spatial_shape(image_layer)
    if isinstance(mask_layer, Labels):
        return np.asarray(finest_level(mask_layer)) != 0
    if isinstance(mask_layer, Shapes):
        if len(mask_layer.data) == 0:
            raise ValueError(f"the shapes layer {mask_layer.name!r} holds no shape to use as a mask")
        ndim = min(mask_layer.ndim, len(spatial_shape))
        return mask_layer.to_labels(labels_shape=spatial_shape[-ndim:]) != 0
    raise TypeError(f"a mask must be a Labels or Shapes layer, got {type(mask_layer).__name__}")


def _spatial_shape(layer) -> tuple[int, ...]:
    shape = finest_level(layer).shape
    return tuple(shape[:-1]) if layer.rgb else tuple(shape)


def equalize_layer(
    layer,
    *,
    method="global",
    variant=None,
    scope="layer",
    nbins=None,
    mask=None,
    out_range="dtype",
    backend="auto",
    rgb_mode="channels",
    fit_level=0,
    clip_limit=None,
    kernel_size=None,
    tile_grid=None,
    **parameters,
):
    """Equalise an image layer; return a napari layer data tuple for the result.

    Parameters
    ----------
    layer : napari.layers.Image
        The source; it is never modified. dask and zarr data stay lazy: the
        histogram is computed once, and napari computes the planes it shows.
    method : {"global", "adaptive"}
        One table (:func:`napari_histeq.equalize`) or CLAHE
        (:func:`napari_histeq.equalize_adapthist`).
    variant, nbins, out_range, backend
        As for those functions; ``variant`` None is the method's default
        ("standard", "skimage").
    scope : {"layer", "plane", "volume"}
        What one histogram spans: the whole layer, each 2D plane, or each
        3D volume of a time series.
    mask : napari.layers.Labels, napari.layers.Shapes or array, optional
        Build the histogram from these pixels (Labels: non-zero; Shapes:
        inside any shape).
    rgb_mode : {"channels", "value"}
        For RGB layers: each channel, or the brightness only (hue kept).
    fit_level : int
        Multiscale layers: the level whose histogram defines the table
        (0, the finest, by default; a coarser one is faster); every level
        is mapped with it and the output is multiscale too. Adaptive
        equalisation computes every level on its own.
    clip_limit, kernel_size, tile_grid
        Adaptive only: as for :func:`napari_histeq.equalize_adapthist` (``kernel_size_mm``: scale units).
    **parameters
        The parameters of another method in the registry, by name.

    Returns
    -------
    layer_data : tuple
        ``(data, kwargs, "image")``: named ``"<source> equalized"``, with the
        source's scale, translate, rotate, shear, affine, units, axis labels
        and colormap, contrast limits set to the output range, and
        ``metadata["napari_histeq"]`` recording the parameters, the backend
        and the seconds taken.

    Examples
    --------
    >>> import napari, numpy as np
    >>> from napari_histeq import equalize_layer
    >>> layer = napari.layers.Image(np.eye(4, dtype=np.uint8), scale=(2, 2))
    >>> data, kwargs, kind = equalize_layer(layer)
    >>> kwargs["name"], kwargs["scale"].tolist(), kind
    ('Image equalized', [2.0, 2.0], 'image')
    """
    settings = equalizing_settings(method, variant, scope=scope, nbins=nbins, out_range=out_range, backend=backend,
                                   rgb_mode=rgb_mode, clip_limit=clip_limit, kernel_size=kernel_size,
                                   tile_grid=tile_grid, **parameters)  # checked at the door
    start = time.perf_counter()
    mask_array = mask if mask is None or isinstance(mask, np.ndarray) else layer_mask(mask, layer)
    results, limits = _equalized_levels(layer, settings, mask_array, fit_level)
    axis = scope_axis(settings.scope, len(_spatial_shape(layer)))
    record = {
        "source": layer.name,
        **settings.record(),
        "mask": getattr(mask, "name", None if mask is None else "array"),
        "out_range": out_range,
        "rgb_mode": rgb_mode if layer.rgb else None,
        "backend": backend if backend != "auto" else backend_info().name,
        "fit_level": fit_level if layer.multiscale and settings.spec.fit is not None and not layer.rgb else None,
        "lazy": any(is_lazy_array(level) for level in results),
        "seconds": time.perf_counter() - start,
        "input_limits": None if layer.rgb else input_limits(settings, finest_level(layer), axis=axis, mask=mask_array),
    }
    return (results if layer.multiscale else results[0], output_kwargs(layer, record, limits=limits), "image")


SHARED = ("scope", "nbins", "out_range", "backend", "rgb_mode")


def equalizing_settings(method, variant, **keywords) -> Settings:
    """The settings of :func:`equalize_layer`'s keywords: the shared ones, and the method's parameters
    (given only when set).
    """
    shared = {name: keywords.pop(name) for name in SHARED if name in keywords}
    return Settings(operation=method, variant=variant, **shared,
                    parameters={name: value for name, value in keywords.items() if value is not None})


def _equalized_levels(layer, settings: Settings, mask, fit_level):
    """The result of every level (one for most layers) and its contrast limits (the same rules as the
    command line's, ``run_levels``).
    """
    axis = scope_axis(settings.scope, len(_spatial_shape(layer)))
    levels = list(layer.data) if layer.multiscale else [layer.data]
    results, fitted_range = run_levels(settings, levels, axis=axis, colour=layer.rgb, mask=mask, fit_level=fit_level,
                                       spacing=tuple(layer.scale))
    if fitted_range is not None:
        return results, fitted_range
    if layer.rgb:
        return results, _contrast_limits(settings.out_range, results[0], levels[0][..., :3])
    return results, _contrast_limits(settings.out_range, results[0], levels[0], mask)


def output_kwargs(layer, record, *, name=None, limits=None, multiscale=None) -> dict:
    """An output layer's keyword arguments: the source's geometry and look, the record of what was done.

    ``name`` defaults to ``"<source> equalized"``; without ``limits`` napari
    sets the contrast limits from the data.
    """
    kwargs = {attr: getattr(layer, attr) for attr in GEOMETRY}
    kwargs.update(
        name=output_name(layer) if name is None else name,
        affine=layer.affine.affine_matrix,
        rgb=layer.rgb,
        multiscale=layer.multiscale if multiscale is None else multiscale,
        blending=layer.blending,
        metadata={**dict(layer.metadata), METADATA_KEY: record},
    )
    if limits is not None:
        kwargs["contrast_limits"] = limits if limits[1] > limits[0] else (limits[0], limits[0] + 1)
    if not layer.rgb:
        kwargs["colormap"] = layer.colormap
    return kwargs


def equalize_plane(plane, *, rgb=False, rgb_mode="channels", method="global", variant=None, nbins=None,
                   out_range="dtype", backend="auto", spacing=None, **parameters):
    """Equalise one plane for the live preview: the result and its contrast limits (no napari, any thread).

    The same options and outcome as :func:`equalize_layer` on a layer holding
    just ``plane`` (whole-plane histogram, no mask); ``spacing`` is its pixel size.
    """
    settings = equalizing_settings(method, variant, nbins=nbins, out_range=out_range, backend=backend,
                                   rgb_mode=rgb_mode, **parameters)
    results, fitted_range = run_levels(settings, [plane], colour=rgb, spacing=spacing)
    result = results[0]
    low, high = fitted_range or _contrast_limits(out_range, result, plane[..., :3] if rgb else plane)
    return result, (low, high) if high > low else (low, low + 1)


def _contrast_limits(out_range, result, source, mask=None):
    """The output range of a result, as contrast limits: ``"image"`` is the counted pixels' own range
    (within ``mask``, broadcast to the source), as the operations take it.
    """
    if isinstance(out_range, tuple):
        return tuple(float(v) for v in out_range)
    if out_range == "dtype":
        return tuple(float(v) for v in dtype_range(result.dtype))
    if mask is not None:
        source = source[np.broadcast_to(np.asarray(mask, dtype=bool), source.shape)]
    if is_lazy_array(source):
        import dask

        low, high = dask.compute(source.min(), source.max())
        return float(low), float(high)
    finite = source[np.isfinite(source)] if np.dtype(source.dtype).kind == "f" else source
    return float(finite.min()), float(finite.max())


def add_equalized(viewer, layer, **options):
    """Equalise ``layer`` and show the result in ``viewer``; return the output layer.

    Re-running on the same source updates its output layer instead of
    adding another. Options are those of :func:`equalize_layer`.
    """
    data, kwargs, _ = equalize_layer(layer, **options)
    return show_result(viewer, data, kwargs)


def show_result(viewer, data, kwargs, *, by_name=False):
    """Add the output layer, or update the one made earlier from the same source (``by_name``: of the same name)."""
    if by_name:
        existing = next((layer for layer in viewer.layers
                         if layer.name == kwargs["name"] and METADATA_KEY in getattr(layer, "metadata", {})), None)
    else:
        existing = find_output_layer(viewer, kwargs["metadata"][METADATA_KEY]["source"])
    if existing is None or existing.rgb != kwargs["rgb"] or existing.multiscale != kwargs["multiscale"]:
        if existing is not None:
            viewer.layers.remove(existing)
        return viewer.add_image(data, **kwargs)
    existing.data = data
    for attr in GEOMETRY + ("affine", "contrast_limits", "metadata", "blending"):
        if attr in kwargs:
            setattr(existing, attr, kwargs[attr])
    if "colormap" in kwargs:
        existing.colormap = kwargs["colormap"]
    return existing


def find_output_layer(viewer, source_name: str):
    """The layer made earlier from the source named ``source_name``, or None."""
    for candidate in viewer.layers:
        record = candidate.metadata.get(METADATA_KEY) if hasattr(candidate, "metadata") else None
        if record and record.get("source") == source_name and candidate.name.startswith(source_name):
            return candidate
    return None


def show_preview(viewer, layer, displayed, plane, contrast_limits, key: str, suffix: str):
    """Show ``plane`` (the displayed plane of ``layer``, processed) as a 2D preview layer marked ``key``.

    The preview lies on the source's displayed axes, with its look; an
    earlier preview of the same shape is updated in place.
    """
    kwargs = {
        "name": f"{layer.name}{suffix}",
        "metadata": {key: True},
        "scale": [layer.scale[a] for a in displayed],
        "translate": [layer.translate[a] for a in displayed],
        "units": [layer.units[a] for a in displayed],  # napari warns when layers' units differ
        "contrast_limits": contrast_limits,
        "rgb": layer.rgb,
        "blending": layer.blending,
    }
    if not layer.rgb:
        kwargs["colormap"] = layer.colormap
    preview = find_preview(viewer, key)
    if preview is not None and preview.data.shape == plane.shape and preview.rgb == layer.rgb:
        preview.data = plane
        preview.contrast_limits = contrast_limits
        return preview
    if preview is not None:
        viewer.layers.remove(preview)
    return viewer.add_image(plane, **kwargs)


def find_preview(viewer, key: str):
    """The preview layer marked ``key``, or None."""
    return next((layer for layer in viewer.layers if layer.metadata.get(key)), None)
