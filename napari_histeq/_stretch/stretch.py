"""``stretch_contrast``: a linear map between two limits, found in the histogram or given as a CT window.

8- and 16-bit images run through the engine (one counting pass, a table per
histogram group, one gather; dask and zarr lazily, CuPy on the GPU); floats
and 32/64-bit integers are mapped value by value from each group's limits,
in memory.
"""

from __future__ import annotations

import numpy as np

from .._engine import pipeline as _pipeline
from .._engine.backend import array_module, float_to_integer, is_lazy_array, to_backend
from .._engine.groups import GroupLayout
from .._engine.lazy import apply_lazy, fit_lazy
from .._engine.request import request_for
from .._engine.validate import (
    as_image,
    check_mask,
    check_out_range,
    dtype_range,
    is_level_dtype,
    normalize_axis,
    output_dtype,
)
from .._engine.wrapped import array_contract
from .._equalization.equalize import Equalization
from .limits import imagej_bins, window_of
from .transfer import StretchTransfer, between, window_shares

VARIANTS = ("imagej", "percentile", "window", "window-exact")
#: Where each variant takes its limits from (the first variant of each source is its default).
LIMITS_OF = {"imagej": "saturated", "percentile": "percentiles", "window": "window", "window-exact": "window"}
#: ImageJ's histogram of a 32-bit image: 256 bins over its min..max.
IMAGEJ_FLOAT_BINS = 256


def stretch_transfer(*, saturated=None, percentiles=None, window=None, variant=None, clip=True) -> StretchTransfer:
    """The checked transfer of one stretch: exactly one of ``saturated``, ``percentiles``, ``window``."""
    given = [name for name, value in (("saturated", saturated), ("percentiles", percentiles), ("window", window))
             if value is not None]
    if len(given) > 1:
        raise ValueError(f"give one of saturated, percentiles or window, not {' and '.join(given)}")
    family = given[0] if given else "saturated"
    if variant is None:
        variant = next(name for name in VARIANTS if LIMITS_OF[name] == family)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if LIMITS_OF[variant] != family:
        raise ValueError(f"variant {variant!r} takes its limits from {LIMITS_OF[variant]}, not {family}")
    if family == "saturated":
        saturated = 0.35 if saturated is None else float(saturated)
        if not 0.0 <= saturated < 100.0:
            raise ValueError(f"saturated is the percent of pixels saturated, in [0, 100), got {saturated!r}")
        return StretchTransfer("imagej", saturated=saturated)
    if family == "percentiles":
        try:
            low, high = (float(p) for p in percentiles)
        except (TypeError, ValueError):
            raise ValueError(f"percentiles must be (low, high), got {percentiles!r}") from None
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"percentiles must be 0 <= low < high <= 100, got {percentiles!r}")
        return StretchTransfer("percentile", percentiles=(low, high), clip=bool(clip))
    centre, width = window_of(window)
    if variant == "window" and width < 1:
        raise ValueError(f"a linear window's width is at least 1 (DICOM), got {width!r}; window-exact takes less")
    return StretchTransfer(variant, window=(centre, width))


@array_contract
def stretch_contrast(image, *, saturated=None, percentiles=None, window=None, variant=None, clip=True, axis=None,
                     mask=None, out_range="dtype", backend="auto", out=None):
    """Stretch the contrast of ``image`` linearly between two limits.

    The limits are one of: the levels that leave ``saturated`` percent of the
    pixels outside, half at each end (ImageJ's *Process > Enhance Contrast*
    with *Normalize*, the default with 0.35 %); two ``percentiles`` (MONAI's
    ``ScaleIntensityRangePercentiles``); or a CT ``window``.

    Parameters
    ----------
    image : array
        Integer or float image of any shape (NumPy, CuPy, dask or zarr for 8/16-bit); never modified.
    saturated : float, optional
        Percent of the pixels saturated, in [0, 100): ImageJ's threshold ``int(n * saturated / 200)``
        from each end of its histogram (each level for 8/16-bit images, 256 bins over min..max
        for others), and its table: 0 at or below the low limit, the top at or above the high one,
        truncated between; floats into [0, 1]. An image whose limits meet is returned unchanged,
        as ImageJ leaves it.
    percentiles : (float, float), optional
        ``(low, high)``: the limits are ``numpy.percentile`` of the counted pixels (linear
        method), mapped to ``out_range``: ``(x - low) / (high - low)`` then clipped (``clip``)
        and scaled; integer outputs are rounded half to even.
    window : (float, float) or str, optional
        ``(centre, width)`` or a preset of :data:`CT_WINDOWS` (``"brain"``, ``"lung"``, ...):
        DICOM's VOI function (PS3.3 C.11.2.1.2), ``LINEAR`` or, with ``variant="window-exact"``,
        ``LINEAR_EXACT``, onto ``out_range``.
    variant : {"imagej", "percentile", "window", "window-exact"}, optional
        Follows from the limits given; ``"window-exact"`` must be asked for.
    clip : bool
        Percentiles: clip values beyond the limits (always, for integer outputs).
    axis, mask, out_range, backend, out
        As for :func:`napari_histeq.equalize`: the axes one histogram (and so one pair of
        limits) spans, the pixels it counts (every pixel is mapped), the output's range, the
        array library, an array to write into.

    Returns
    -------
    stretched : array
        The input's shape; its dtype for integers, float32 or float64 for floats.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import stretch_contrast
    >>> image = np.array([[10, 20], [30, 250]], dtype=np.uint8)
    >>> stretch_contrast(image, percentiles=(0, 50))  # 10 and 25 are the limits
    array([[  0, 170],
           [255, 255]], dtype=uint8)
    >>> stretch_contrast(np.array([-1000, 40, 80], dtype=np.int16), window="brain", out_range=(0, 255))
    array([  0, 129, 255], dtype=int16)
    """
    transfer = stretch_transfer(saturated=saturated, percentiles=percentiles, window=window, variant=variant,
                                clip=clip)
    if is_level_dtype(np.dtype(image.dtype)):
        request = request_for(image, mask=mask, axis=axis, backend=backend, transfer=transfer, out_range=out_range)
        if request.lazy:
            return apply_lazy(Equalization._of(fit_lazy(request)), request.image)
        return _pipeline.fit_and_apply(request, out)
    return _stretch_values(image, transfer, axis=axis, mask=mask, out_range=out_range, out=out)


def fit_stretch(image, *, saturated=None, percentiles=None, window=None, variant=None, clip=True, axis=None,
                mask=None, out_range="dtype", backend="auto") -> Equalization:
    """Fit the stretch of an 8/16-bit ``image`` (its limits, as a table) to apply to others.

    The parameters are those of :func:`stretch_contrast`; apply the result with
    ``fitted.apply(other)``: every time point of a series with the limits of the first, say.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import fit_stretch
    >>> fitted = fit_stretch(np.array([0, 50, 100], dtype=np.uint8), percentiles=(0, 100))
    >>> fitted.apply(np.array([25, 100, 200], dtype=np.uint8))
    array([ 64, 255, 255], dtype=uint8)
    """
    transfer = stretch_transfer(saturated=saturated, percentiles=percentiles, window=window, variant=variant,
                                clip=clip)
    if not is_level_dtype(np.dtype(image.dtype)):
        raise TypeError(f"fit_stretch fits 8/16-bit images (a table per level), got {np.dtype(image.dtype)}; "
                        "stretch_contrast stretches the others")
    request = request_for(image, mask=mask, axis=axis, backend=backend, transfer=transfer, out_range=out_range)
    return Equalization._of(fit_lazy(request) if request.lazy else _pipeline.fit(request))


def _stretch_values(image, transfer: StretchTransfer, *, axis, mask, out_range, out):
    """Floats and 32/64-bit integers, in memory: each group's limits, then every value mapped."""
    if is_lazy_array(image):
        raise TypeError("stretch_contrast of dask or zarr arrays takes 8/16-bit images; compute a float or "
                        "32/64-bit one first (np.asarray), or stretch it in blocks")
    xp = array_module(image)
    image = as_image(image)
    host = to_backend(np, image)
    layout = GroupLayout(tuple(host.shape), normalize_axis(axis, host.ndim))
    mask = check_mask(None if mask is None else to_backend(np, mask), host.shape)
    out_dtype = output_dtype(host.dtype)
    counted = np.isfinite(host) if host.dtype.kind == "f" else np.ones(host.shape, bool)
    if mask is not None:
        counted &= mask
    lo, hi = _output_range(out_range, host, counted)
    rows, counted_rows = layout.to_rows(np, host), layout.to_rows(np, counted)
    result = np.empty(rows.shape, out_dtype)
    for g in range(rows.shape[0]):
        # integers as exact float64 (NumPy's percentile of int16 wraps); floats as they are
        row = rows[g].astype(np.float64) if host.dtype.kind in "iu" else rows[g]
        if not counted_rows[g].any():
            raise ValueError("the mask selects no pixel" if mask is not None else "there is no finite pixel")
        shares = _shares(row, row[counted_rows[g]], transfer, out_dtype)
        result[g] = _into(shares, lo, hi, out_dtype, rows[g], truncate=transfer.variant == "imagej")
    stretched = layout.from_rows(np, result)
    if out is not None:
        out[...] = to_backend(array_module(out), stretched)
        return out
    return to_backend(xp, stretched)


def _shares(row, counted, transfer: StretchTransfer, out_dtype):
    """Each value's place between the group's limits (NaN stays NaN)."""
    if transfer.variant == "imagej":
        low, high = _imagej_float_limits(counted, transfer.saturated)
        if high is None:
            return None  # ImageJ leaves the image as it is
        scale = 1.0 / (high - low)  # ContrastEnhancer.normalizeFloat, in double as Java computes it
        return np.minimum(np.maximum(row.astype(np.float64, copy=False) - low, 0.0) * scale, 1.0)
    if transfer.variant == "percentile":
        low, high = (np.percentile(counted, p) for p in transfer.percentiles)  # one at a time, as MONAI asks:
        # together NumPy returns float32 limits for float32 pixels, alone float64
        shares = between(row.astype(np.float64, copy=False), low, high)
        return np.clip(shares, 0.0, 1.0) if transfer.clip or out_dtype.kind in "iu" else shares
    centre, width = transfer.window
    shares = window_shares(row, centre, width, exact=transfer.variant == "window-exact")
    return np.where(np.isnan(row), np.nan, shares)


def _imagej_float_limits(values, saturated):
    """ImageJ's limits of a 32-bit image: 256 bins over min..max, ``(int)(scale * (v - min))``."""
    minimum, maximum = float(values.min()), float(values.max())
    if not maximum > minimum:
        return minimum, None
    scale = IMAGEJ_FLOAT_BINS / (maximum - minimum)
    bins = np.minimum((scale * (values.astype(np.float64) - minimum)).astype(np.int64), IMAGEJ_FLOAT_BINS - 1)
    counts = np.bincount(bins, minlength=IMAGEJ_FLOAT_BINS)
    low, high = imagej_bins(counts, saturated)
    if high <= low:
        return minimum, None
    size = (maximum - minimum) / IMAGEJ_FLOAT_BINS
    return minimum + low * size, minimum + high * size


def _output_range(out_range, image, counted):
    """``(lo, hi)``: as given, the output dtype's, or the counted pixels' own (as ``equalize`` takes it)."""
    checked = check_out_range(out_range, image.dtype)
    if isinstance(checked, tuple):
        return checked
    if checked == "dtype":
        return dtype_range(output_dtype(image.dtype))
    return image[counted].min(), image[counted].max()


def _into(shares, lo, hi, out_dtype, row, *, truncate):
    """Shares of the output range as ``out_dtype`` (``None``: the row unchanged, as ImageJ leaves it): integers
    by ImageJ's ``(int)`` cast of the share of the span (``truncate``), else ``rint`` of the float result.
    """
    if shares is None:
        return row.astype(out_dtype)
    if out_dtype.kind == "f":
        return (lo + shares * (float(hi) - float(lo))).astype(out_dtype)
    product = shares * (float(hi) - float(lo))
    values = np.trunc(product) + float(lo) if truncate else np.rint(product + float(lo))
    return float_to_integer(np.nan_to_num(values, nan=float(lo)), out_dtype)
