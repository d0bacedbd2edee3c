"""Bleach correction of time series: histogram matching, simple ratio, exponential fit.

The three methods of Fiji's Bleach Correction (Miura, F1000Research 2020,
9:1494). Corrected intensities are for segmentation and display, not for
quantification: every method rescales each time point by a rule fitted to
the whole series.

* ``"histogram"``: each time point matched to a reference time point
  (:func:`match_histograms`, scikit-image's semantics), or to the previous
  corrected one.
* ``"ratio"``: Fiji's simple ratio. The background is subtracted (integers
  stop at 0), and each time point is scaled by ``mean(reference) /
  mean(time point)``, the means taken after the subtraction.
* ``"exponential"``: the mean intensity is fitted with ``a * exp(-b t) + c``
  (Fiji's "exponential with offset", here with scipy), and each time point
  is scaled by ``f(t_reference) / f(t)``.

Integer results are rounded half up, as ImageJ's multiply does, and clipped
to the dtype. The ratio and exponential gains are in ``_bleach_gains``.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._engine.backend import array_module, as_dask, is_lazy_array, module_of
from .._engine.validate import (
    as_image,
    check_image_dtype,
    check_image_shape,
    check_mask,
    is_level_dtype,
    normalize_axis,
)
from .._engine.wrapped import array_contract
from .._matching.match import QUANTILE_VARIANTS, match_by_groups, match_histograms, match_to_group, reference_of
from .gains import frame_mask, gains, scaled, time_point

METHODS = ("histogram", "ratio", "exponential")


@array_contract
def correct_bleaching(series, *, method="histogram", axis=0, reference=0, mask=None, background=0.0,
                      channel_axis=None, variant="skimage", backend="auto"):
    """Correct the photobleaching of a time series.

    Parameters
    ----------
    series : array
        2D+t or 3D+t, integer or float (NumPy, CuPy, dask or zarr); it is
        never modified.
    method : {"histogram", "ratio", "exponential"}
    axis : int
        The time axis.
    reference : int or "previous"
        The time point the others are corrected to (negative counts from
        the end). ``"previous"`` (histogram method only) matches each time
        point to the previous corrected one, as Fiji's option does.
    mask : array of bool, optional
        The region whose histogram or mean intensity is measured (a time
        point's shape, or the series'); every pixel is corrected.
    background : float
        Subtracted before the ratio method's scaling (Fiji's background).
    channel_axis : int, optional
        Correct each channel (each fluorophore bleaches at its own rate, an
        RGB image's colours are separate) along this axis on its own; None
        counts all pixels together. A mask without this axis serves every
        channel; one with it gives each channel its own region.
    variant : {"skimage", "fiji"}
        The histogram method's matching (:func:`match_histograms`):
        scikit-image's interpolation, or Fiji's discrete lookup (uint8 and
        uint16), which leaves the reference time point as it is.
    backend : {"auto", "numpy", "cupy"}
        For the histogram method.

    Returns
    -------
    corrected : array
        Same shape and dtype as ``series`` (float16 gives float32).

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import correct_bleaching
    >>> series = np.array([[[100, 200]], [[50, 100]]], dtype=np.uint16)
    >>> correct_bleaching(series, method="ratio")[:, 0]
    array([[100, 200],
           [100, 200]], dtype=uint16)
    >>> colours = np.stack([series, series // 2], axis=-1)  # t, y, x, channel
    >>> correct_bleaching(colours, method="ratio", channel_axis=-1)[1, 0]
    array([[100,  50],
           [200, 100]], dtype=uint16)
    """
    if channel_axis is not None:
        return _each_channel(correct_bleaching, series, channel_axis, axis, mask, method=method, reference=reference,
                             background=background, variant=variant, backend=backend)
    data, time_axis, spatial, reference, mask = _checked(series, method, axis, reference, mask, background, variant)
    if method == "histogram":
        return _by_histograms(data, time_axis, spatial, reference, mask, backend, variant)
    return scaled(data, time_axis, gains(data, time_axis, spatial, method, reference, mask, background),
                   background if method == "ratio" else 0.0)


def correct_time_point(series, t, *, method="histogram", axis=0, reference=0, mask=None, background=0.0,
                       channel_axis=None, variant="skimage", backend="auto"):
    """Time point ``t`` of :func:`correct_bleaching`'s result, computing no more than that needs.

    The same parameters, and the same values as ``correct_bleaching(...)[t]``
    along ``axis``: the histogram and ratio methods read two time points
    (all up to ``t`` for ``reference="previous"``), the exponential one the
    means of all. The widget's live preview uses it.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import bleaching_series, correct_bleaching
    >>> from napari_histeq._bleach.correct import correct_time_point
    >>> series = bleaching_series((5, 16, 16))
    >>> bool((correct_time_point(series, 3) == correct_bleaching(series)[3]).all())
    True
    """
    if channel_axis is not None:
        return _each_channel(correct_time_point, series, channel_axis, axis, mask, t, method=method,
                             reference=reference, background=background, variant=variant, backend=backend)
    data, time_axis, spatial, reference, mask = _checked(series, method, axis, reference, mask, background, variant)
    frames = data.shape[time_axis]
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not -frames <= t < frames:
        raise ValueError(f"t={t!r} is not a time point of a series of {frames}")
    t = int(t) % frames
    if method == "histogram":
        if reference == "previous":
            head = data[(slice(None),) * time_axis + (slice(0, t + 1),)]
            corrected = _by_histograms(head, time_axis, spatial, reference, mask, backend, variant)
            return time_point(corrected, time_axis, t)
        frame_axes = tuple(range(data.ndim - 1))
        return match_histograms(time_point(data, time_axis, t), time_point(data, time_axis, reference),
                                axis=frame_axes, mask=frame_mask(mask, time_axis, t),
                                reference_mask=frame_mask(mask, time_axis, reference), variant=variant,
                                backend=backend)
    factors = gains(data, time_axis, spatial, method, reference, mask, background, only=(reference, t))
    frame = time_point(data, time_axis, t)
    return scaled(frame[None], 0, factors[t : t + 1], background if method == "ratio" else 0.0)[0]


def _each_channel(correct, series, channel_axis, axis, mask, *t, **options):
    """``correct`` (the series, or its time point ``t``) run on each channel alone, the results stacked back."""
    data = as_dask(series) if is_lazy_array(series) else as_image(series)
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, numbers.Integral):
        raise TypeError(f"channel_axis must be None or an int, got {channel_axis!r}")
    if not -data.ndim <= channel_axis < data.ndim:
        raise ValueError(f"channel_axis {channel_axis} is out of bounds for a series with {data.ndim} dimensions")
    channel = int(channel_axis) % data.ndim
    (time_axis,) = normalize_axis(axis, data.ndim)
    if channel == time_axis:
        raise ValueError(f"channel_axis and the time axis are both axis {channel}: they must differ")
    own_masks = mask is not None and np.ndim(mask) == data.ndim  # one region per channel (or one for all)

    def one(array, c):
        return array[(slice(None),) * channel + (c,)]

    corrected = [correct(one(data, c), *t, axis=time_axis - (channel < time_axis),
                         mask=one(mask, c if mask.shape[channel] > 1 else 0) if own_masks else mask, **options)
                 for c in range(data.shape[channel])]
    stacked_at = channel - (bool(t) and time_axis < channel)  # a time point has no time axis
    return module_of(data).stack(corrected, axis=stacked_at)


def _checked(series, method, axis, reference, mask, background, variant):
    """The checked series, its time axis and other axes, the reference time point and the mask."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if variant not in QUANTILE_VARIANTS:
        raise ValueError(f"bleach correction matches with variant {' or '.join(QUANTILE_VARIANTS)}, got {variant!r} "
                         "(ITK's matches a few quantiles of one image to another)")
    if variant != "skimage" and method != "histogram":
        raise ValueError(f"variant={variant!r} is a variant of the histogram method's matching, not of {method!r}")
    if isinstance(background, bool) or not isinstance(background, numbers.Real) or not np.isfinite(background):
        raise ValueError(f"background must be a finite number, got {background!r}")
    data = as_dask(series) if is_lazy_array(series) else as_image(series)
    check_image_dtype(data.dtype)
    check_image_shape(data.shape)
    if data.ndim < 2:
        raise ValueError(f"a time series needs a time axis and at least one more, got shape {data.shape}")
    (time_axis,) = normalize_axis(axis, data.ndim)
    frames = data.shape[time_axis]
    if frames < 2:
        raise ValueError(f"the time axis (axis={axis}) has {frames} time point: nothing to correct")
    if reference == "previous":
        if method != "histogram":
            raise ValueError("reference='previous' applies to the histogram method")
    elif isinstance(reference, bool) or not isinstance(reference, numbers.Integral):
        raise TypeError(f"reference must be a time point (int) or 'previous', got {reference!r}")
    elif not -frames <= reference < frames:
        raise ValueError(f"reference {reference} is not a time point of a series of {frames}")
    else:
        reference = int(reference) % frames
    spatial = tuple(ax for ax in range(data.ndim) if ax != time_axis)
    if mask is not None and np.ndim(mask) == data.ndim:
        mask = check_mask(mask, data.shape)
    elif mask is not None:  # a time point's shape: the same region at every time point
        spatial_shape = tuple(data.shape[ax] for ax in spatial)
        mask = check_mask(mask, spatial_shape)
        xp = array_module(mask)
        mask = xp.expand_dims(xp.broadcast_to(mask, spatial_shape), time_axis)
    return data, time_axis, spatial, reference, mask


#: Histogram bleach correction counts this many bytes of counters at most at once: a long series
#: (10**4-10**5 time points of 16-bit data) is matched a block of time points at a time.
BLEACH_COUNTER_BYTES = 1 << 28


def _by_histograms_in_blocks(data, time_axis, spatial, reference, mask, backend, variant, per_block):
    """Blocks of ``per_block`` time points, each matched to the reference time point's distribution."""
    target = reference_of(time_point(data, time_axis, reference), frame_mask(mask, time_axis, reference))
    out = array_module(data).empty(data.shape, dtype=data.dtype)
    for start in range(0, data.shape[time_axis], per_block):
        block = (slice(None),) * time_axis + (slice(start, start + per_block),)
        out[block] = match_histograms(data[block], target, axis=spatial, mask=None if mask is None else mask[block],
                                      variant=variant, backend=backend)
    return out


def _by_histograms(data, time_axis, spatial, reference, mask, backend, variant):
    if reference == "previous":
        corrected = [time_point(data, time_axis, 0)]
        for t in range(1, data.shape[time_axis]):
            corrected.append(match_histograms(time_point(data, time_axis, t), corrected[-1],
                                              mask=frame_mask(mask, time_axis, t), variant=variant,
                                              backend=backend))
        return module_of(data).stack(corrected, axis=time_axis)
    if is_lazy_array(data):  # each block of whole time points matched in its task: nothing fitted up front
        target = reference_of(time_point(data, time_axis, reference).compute(), frame_mask(mask, time_axis, reference))
        return match_by_groups(data, target, axis=spatial, mask=mask, variant=variant)
    if mask is not None:
        mask = array_module(mask).broadcast_to(mask, data.shape)
    if is_level_dtype(data.dtype):
        per_block = max(1, BLEACH_COUNTER_BYTES // (8 << (8 * data.dtype.itemsize)))
        if data.shape[time_axis] <= per_block:  # the reference time point is counted with the others, once
            return match_to_group(data, reference, axis=spatial, mask=mask, variant=variant, backend=backend)
        return _by_histograms_in_blocks(data, time_axis, spatial, reference, mask, backend, variant, per_block)
    return match_histograms(data, time_point(data, time_axis, reference), axis=spatial, mask=mask,
                            reference_mask=frame_mask(mask, time_axis, reference), variant=variant, backend=backend)
