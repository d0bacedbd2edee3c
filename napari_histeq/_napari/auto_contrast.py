"""Auto-contrast: napari's contrast limits of image layers set from a contrast stretch's limits, data unchanged.

The case of a multichannel image opened as one layer per channel (napari's
``channel_axis``): each channel's display limits from its own percentiles
(or ImageJ's saturated pixels, or a CT window) in one click, without a new
layer. Multiscale layers are read at their coarsest level, as napari reads
them for its own contrast limits.
"""

from __future__ import annotations

from .._stretch.stretch import stretch_limits


def channel_layers(viewer, chosen):
    """The layers one click sets: the selected image layers when several are, else every image layer of
    ``chosen``'s shape (the channels napari made of one image).
    """
    from napari.layers import Image

    selected = [layer for layer in viewer.layers.selection if isinstance(layer, Image) and not layer.rgb]
    if len(selected) > 1:
        return selected
    if chosen is None:
        return selected
    shape = chosen.level_shapes[0] if chosen.multiscale else chosen.data.shape
    return [layer for layer in viewer.layers if isinstance(layer, Image) and not layer.rgb
            and (layer.level_shapes[0] if layer.multiscale else layer.data.shape) == shape]


def auto_contrast(layers, *, saturated=None, percentiles=None, window=None, variant=None, **_ignored):
    """Set each layer's contrast limits where a contrast stretch would start and end, without changing data.

    Parameters
    ----------
    layers : iterable of napari.layers.Image
        Grey image layers (one per channel, say).
    saturated, percentiles, window, variant
        As for :func:`napari_histeq.stretch_contrast` (ImageJ's 0.35 % saturated by default).

    Returns
    -------
    limits : dict
        Each layer's name and the ``(low, high)`` it was set to.

    Examples
    --------
    >>> import napari, numpy as np
    >>> from napari_histeq._napari.auto_contrast import auto_contrast
    >>> layer = napari.layers.Image(np.arange(1000, dtype=np.uint16).reshape(20, 50), name="c0")
    >>> auto_contrast([layer], percentiles=(1, 99))
    {'c0': (9.99, 989.01)}
    >>> layer.contrast_limits
    [9.99, 989.01]
    """
    found = {}
    for layer in layers:
        data = layer.data[-1] if layer.multiscale else layer.data
        low, high = stretch_limits(data, saturated=saturated, percentiles=percentiles, window=window,
                                   variant=variant)
        shown = (low, high) if high > low else (low, low + 1.0)  # napari needs a span
        current = layer.contrast_limits_range
        layer.contrast_limits_range = (min(current[0], shown[0]), max(current[1], shown[1]))
        layer.contrast_limits = shown
        found[layer.name] = (low, high)
    return found
