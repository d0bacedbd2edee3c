"""Bleach correction's scaling methods: each time point's gain, and the series scaled by it.

Fiji's simple ratio (``mean(reference) / mean(t)``, after the background)
and its exponential fit of the mean intensity (``a * exp(-b t) + c``, with
scipy), both one time point at a time in memory: the float64 temporaries
are a time point's, not the series'. Integer results are rounded half up,
as ImageJ's multiply does, and clipped to the dtype.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._engine.backend import array_module, float_to_integer, is_lazy_array, module_of


def gains(data, time_axis, spatial, method, reference, mask, background, only=None):
    """Each time point's scale factor (ratio or exponential); ``only``: the ratio needs just those time points."""
    frames = data.shape[time_axis]
    if method == "ratio":
        picked = sorted(set(only)) if only is not None else list(range(frames))
        subset = data[(slice(None),) * time_axis + (picked,)] if only is not None else data
        shared = mask is None or mask.shape[time_axis] == 1
        subset_mask = mask if shared else mask[(slice(None),) * time_axis + (picked,)]
        means = np.full(frames, np.nan)
        means[picked] = _means(subset, time_axis, spatial, subset_mask, background)
        return means[reference] / means
    curve = _exponential_fit(_means(data, time_axis, spatial, mask, None))
    return curve(reference) / curve(np.arange(frames))


def time_point(data, time_axis, t):
    return data[(slice(None),) * time_axis + (t,)]


def frame_mask(mask, time_axis, t):
    """The mask of one time point (the same for all when it was given with a time point's shape)."""
    if mask is None:
        return None
    return time_point(mask, time_axis, 0 if mask.shape[time_axis] == 1 else t)


def _means(data, time_axis, spatial, mask, background):
    """The mean intensity of each time point (within the mask; after the background, for the ratio method).

    Only finite pixels count (NaN and +-inf are left out, as ImageJ's
    statistics leave NaN out). In memory, one time point at a time: the
    float64 temporaries are a time point's, not the series'. dask arrays
    reduce chunk by chunk.
    """
    floats = data.dtype.kind == "f"
    if is_lazy_array(data):
        weights = None if mask is None else np.broadcast_to(np.asarray(mask), data.shape)
        means = np.asarray(_mean(_frame_values(data, background), weights, floats, spatial).compute(), np.float64)
    else:
        means = np.empty(data.shape[time_axis])
        for t in range(means.size):
            values = _frame_values(time_point(data, time_axis, t), background)
            weights = None if mask is None else array_module(values).broadcast_to(frame_mask(mask, time_axis, t),
                                                                                  values.shape)
            means[t] = float(_mean(values, weights, floats))
    if np.isnan(means).any():
        raise ValueError(f"time point {int(np.flatnonzero(np.isnan(means))[0])} has no finite pixel"
                         f"{' in the mask' if mask is not None else ''} to measure its intensity")
    if not np.all(means > 0):
        raise ValueError(f"time point {int(np.flatnonzero(means <= 0)[0])} has no intensity above the background "
                         "(mean <= 0): nothing to scale")
    return means


def _mean(values, weights, floats, axis=None):
    """The mean of the finite ``values`` where ``weights`` (all where None) along ``axis``; NaN where none counts."""
    xp = module_of(values)
    if floats:
        finite = xp.isfinite(values)
        weights = finite if weights is None else weights & finite
        values = xp.where(finite, values, 0.0)
    if weights is None:
        return values.mean(axis=axis)
    counted = weights.sum(axis=axis)
    return xp.where(counted > 0, (values * weights).sum(axis=axis) / xp.maximum(counted, 1), np.nan)


def _frame_values(data, background):
    """float64 intensities, minus the background (integers stop at 0, as ImageJ's subtract)."""
    values = data.astype(np.float64)
    if background is None:
        return values
    values = values - background
    return values.clip(0, None) if data.dtype.kind in "ui" else values


def _exponential_fit(means):
    """``f(t) = a * exp(-b t) + c`` fitted to the mean intensities (scipy's curve_fit)."""
    from scipy.optimize import OptimizeWarning, curve_fit

    if means.size < 3:
        raise ValueError(f"the exponential fit has three parameters (a, b, c) and needs at least 3 time points, "
                         f"got {means.size}; the ratio method needs 2")
    t = np.arange(means.size, dtype=np.float64)
    drop = means[0] - means[-1]
    if np.all(means == means[0]):  # nothing bleached: a flat curve, every gain 1 (the fit would be degenerate)
        return lambda x: np.full(np.shape(x), means[0])

    # A series that does not decay is fitted all the same, as Fiji does: a rising curve (a < 0), or a nearly
    # flat one whose gains stay near 1.
    def decay(x, a, b, c):
        return a * np.exp(-b * x) + c

    with warnings.catch_warnings():  # the covariance of an exact fit (3 points) is unknown, and unused here
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            params, _ = curve_fit(decay, t, means, p0=(drop, 1.0 / means.size, means[-1]), maxfev=20000)
        except RuntimeError as error:  # scipy gave up
            raise ValueError(f"the exponential fit did not converge ({error}); try method='ratio'") from None
    fitted = decay(t, *params)
    if not np.all(np.isfinite(fitted) & (fitted > 0)):
        raise ValueError("the fitted exponential is not positive at every time point: nothing to scale by; "
                         "try method='ratio'")
    return lambda x: decay(np.asarray(x, dtype=np.float64), *params)


def scaled(data, time_axis, gains, background):
    """Each time point minus the background, times its gain, in the input's dtype (one time point at a time)."""
    floats = np.float32 if data.dtype.itemsize < 8 else data.dtype
    out_dtype = data.dtype if data.dtype.kind in "ui" else np.dtype(floats)
    if is_lazy_array(data):
        shape = [1] * data.ndim
        shape[time_axis] = gains.size
        return _scaled_frame(data, gains.reshape(shape), background, out_dtype)
    out = array_module(data).empty(data.shape, dtype=out_dtype)
    for t in range(gains.size):
        index = (slice(None),) * time_axis + (t,)
        out[index] = _scaled_frame(data[index], gains[t], background, out_dtype)
    return out


def _scaled_frame(frame, gain, background, out_dtype):
    values = _frame_values(frame, background)
    if frame.dtype.kind in "ui":
        return float_to_integer((values * gain + 0.5) // 1, out_dtype)  # ImageJ rounds half up
    return (values * gain).astype(out_dtype)
