"""``stretch_contrast``: a linear map between two limits, found in the histogram or given as a CT window.

8- and 16-bit images run through the engine (one counting pass, a table per
histogram group, one gather; dask and zarr lazily, CuPy on the GPU); floats
and 32/64-bit integers are mapped value by value from each group's limits
(``values``: in memory, or lazily in passes over the chunks).
"""

from __future__ import annotations

import numpy as np

from .._engine import pipeline as _pipeline
from .._engine.backend import as_dask, is_lazy_array
from .._engine.lazy import apply_lazy, fit_lazy
from .._engine.request import request_for
from .._engine.validate import is_level_dtype, normalize_axis
from .._engine.wrapped import array_contract
from .._equalization.equalize import Equalization
from .._equalization.model import pooled_counts
from .chunked import stretch_chunked
from .group_limits import group_limits
from .limits import window_of
from .transfer import StretchTransfer
from .values import stretch_values

VARIANTS = ("imagej", "percentile", "window", "window-exact")
#: Where each variant takes its limits from (the first variant of each source is its default).
LIMITS_OF = {"imagej": "saturated", "percentile": "percentiles", "window": "window", "window-exact": "window"}


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
        Integer or float image of any shape (NumPy, CuPy, dask or zarr); never modified.
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
    result = _pipeline.fit_and_apply_plain(image, transfer, out, mask=mask, axis=axis, out_range=out_range,
                                           backend=backend)
    if result is not None:
        return result
    if is_level_dtype(np.dtype(image.dtype)):
        request = request_for(image, mask=mask, axis=axis, backend=backend, transfer=transfer, out_range=out_range)
        if request.lazy:
            return apply_lazy(Equalization._of(fit_lazy(request)), request.image)
        return _pipeline.fit_and_apply(request, out)
    if is_lazy_array(image):
        if out is not None:
            raise ValueError("out= takes in-memory images; a dask or zarr image gives a lazy result to store")
        return stretch_chunked(as_dask(image), transfer, axis=axis, mask=mask, out_range=out_range)
    return stretch_values(image, transfer, axis=axis, mask=mask, out_range=out_range, out=out)


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


def fit_stretch_pooled(images, *, saturated=None, percentiles=None, window=None, variant=None, clip=True,
                       masks=None, out_range="dtype", backend="auto") -> Equalization:
    """Fit one stretch on many 8/16-bit images: its limits from all their pixels at once (a study's).

    The parameters are those of :func:`fit_stretch`, ``masks`` one per image (None: the whole
    image). The limits are those of the images' pixels pooled, as if they were one image.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import fit_stretch_pooled
    >>> fitted = fit_stretch_pooled([np.uint8([0, 50]), np.uint8([100])], percentiles=(0, 100))
    >>> fitted.apply(np.uint8([25, 100, 200]))
    array([ 64, 255, 255], dtype=uint8)
    """
    transfer = stretch_transfer(saturated=saturated, percentiles=percentiles, window=window, variant=variant,
                                clip=clip)
    images = list(images)
    for image in images:
        if not is_level_dtype(np.dtype(image.dtype)):
            raise TypeError(f"fit_stretch_pooled fits 8/16-bit images (a table per level), got "
                            f"{np.dtype(image.dtype)}")
    counts, binning, requests = pooled_counts(images, transfer=transfer, masks=masks, out_range=out_range,
                                              backend=backend)
    return Equalization._of(_pipeline.fit_from_counts(counts, binning, requests[0], transfer))


def stretch_limits(image, *, saturated=None, percentiles=None, window=None, variant=None, axis=None, mask=None):
    """Where :func:`stretch_contrast` starts and ends: the values it maps to the bottom and the top.

    Nothing is mapped: set napari's contrast limits of a layer from them (display only), draw them
    on a histogram, or compare channels. The parameters are those of :func:`stretch_contrast`.

    Returns
    -------
    limits : (float, float) or ndarray
        ``(low, high)`` for one histogram (``axis=None``); with ``axis``, an array of shape
        ``(*other_axes, 2)``: a pair for each histogram group (each plane, say). Where ImageJ's
        limits meet (it then leaves the image unchanged) the image's own minimum and maximum.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import stretch_limits
    >>> image = np.arange(1000, dtype=np.uint16)
    >>> stretch_limits(image, percentiles=(1, 99))
    (9.99, 989.01)
    >>> stretch_limits(np.int16([-1000, 40, 80]), window="brain")
    (0.0, 79.0)
    """
    transfer = stretch_transfer(saturated=saturated, percentiles=percentiles, window=window, variant=variant)
    limits = group_limits(image, transfer, axis=axis, mask=mask)
    axes = normalize_axis(axis, len(image.shape))
    if len(axes) == len(image.shape):
        return limits[0]
    return np.array(limits, np.float64).reshape(*[n for d, n in enumerate(image.shape) if d not in axes], 2)
