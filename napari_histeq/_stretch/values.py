"""The stretch of floats and 32/64-bit integers in memory: each group's limits from its counted values,
then every value mapped between them.

The reference reads the limits as the peers do (``numpy.percentile``,
ImageJ's 256 bins over min..max, a window) and maps each group; float
percentiles go through the kernels when they run (two passes for the limits,
one for the map, the reference's values bit for bit).
"""

from __future__ import annotations

import numpy as np

from .._engine import accel as _accel
from .._engine.backend import array_module, float_to_integer, to_backend
from .._engine.groups import GroupLayout
from .._engine.validate import as_image, check_mask, check_out_range, dtype_range, normalize_axis, output_dtype
from .limits import imagej_bins, lerp, order_statistics, percentile_ranks
from .transfer import StretchTransfer, between, window_shares

#: ImageJ's histogram of a 32-bit image: 256 bins over its min..max.
IMAGEJ_FLOAT_BINS = 256


def stretch_values(image, transfer: StretchTransfer, *, axis, mask, out_range, out):
    """Floats and 32/64-bit integers in memory (``chunked`` stretches dask and zarr arrays)."""
    xp = array_module(image)
    image = as_image(image)
    host = to_backend(np, image)
    layout = GroupLayout(tuple(host.shape), normalize_axis(axis, host.ndim))
    mask = check_mask(None if mask is None else to_backend(np, mask), host.shape)
    out_dtype = output_dtype(host.dtype)
    stretched = None
    if transfer.variant == "percentile" and host.dtype.kind == "f":
        stretched = _percentile_stretch(host, layout, mask, transfer, out_range, out_dtype)
    if stretched is None:
        stretched = _stretch_rows(host, layout, mask, transfer, out_range, out_dtype)
    if out is not None:
        out[...] = to_backend(array_module(out), stretched)
        return out
    return to_backend(xp, stretched)


def each_group(image, mask, axes):
    """``(shape, groups)``: the grid of histogram groups (the axes outside ``axes``) and, in its C order,
    each group's pixels and mask, for NumPy and dask arrays alike.
    """
    front = [d for d in range(image.ndim) if d not in axes]  # one group per index of these
    moved = image.transpose(front + list(axes))
    moved_mask = None if mask is None else mask.transpose(front + list(axes))
    shape = tuple(image.shape[d] for d in front)
    return shape, ((index, moved[index], None if moved_mask is None else moved_mask[index])
                   for index in np.ndindex(*shape))


def _no_pixel_error(mask):
    return ValueError("the mask selects no pixel" if mask is not None else "there is no finite pixel")


def _stretch_rows(host, layout, mask, transfer, out_range, out_dtype):
    """The reference: each group's limits (NumPy's percentile, ImageJ's bins, a window), then every value."""
    counted = np.isfinite(host) if host.dtype.kind == "f" else np.ones(host.shape, bool)
    if mask is not None:
        counted &= mask
    lo, hi = _output_range(out_range, host, counted)
    rows, counted_rows = layout.to_rows(np, host), layout.to_rows(np, counted)
    result = np.empty(rows.shape, out_dtype)
    for g in range(rows.shape[0]):
        if not counted_rows[g].any():
            raise _no_pixel_error(mask)
        limits = _limits(_as_values(rows[g])[counted_rows[g]], transfer)
        result[g] = _mapped(rows[g], limits, transfer, lo, hi, out_dtype)
    return layout.from_rows(np, result)


def _as_values(row):
    """Integers as exact float64 (NumPy's percentile of int16 wraps); floats as they are."""
    return row.astype(np.float64) if row.dtype.kind in "iu" else row


def _limits(counted, transfer: StretchTransfer):
    """A group's limits from its counted values: ``(low, high)``, ImageJ's ``(minimum, None)`` when its limits
    meet (the group is left as it is), or the window's ``(centre, width)``.
    """
    if transfer.variant == "imagej":
        minimum, maximum = float(counted.min()), float(counted.max())
        if not maximum > minimum:
            return minimum, None
        return _imagej_limits(_imagej_counts(counted, minimum, maximum), minimum, maximum, transfer.saturated)
    if transfer.variant == "percentile":
        return tuple(np.percentile(counted, p) for p in transfer.percentiles)  # one at a time, as MONAI asks
    return transfer.window


def _imagej_counts(values, minimum, maximum):
    """ImageJ's histogram of a 32-bit image: 256 bins over min..max, ``(int)(scale * (v - min))``."""
    scale = IMAGEJ_FLOAT_BINS / (maximum - minimum)
    bins = np.minimum((scale * (values.astype(np.float64) - minimum)).astype(np.int64), IMAGEJ_FLOAT_BINS - 1)
    return np.bincount(bins, minlength=IMAGEJ_FLOAT_BINS)


def _imagej_limits(counts, minimum, maximum, saturated):
    low, high = imagej_bins(counts, saturated)
    if high <= low:
        return minimum, None
    size = (maximum - minimum) / IMAGEJ_FLOAT_BINS
    return minimum + low * size, minimum + high * size


def _mapped(row, limits, transfer, lo, hi, out_dtype):
    """Every value of ``row`` between its group's ``limits``, onto ``lo..hi`` as ``out_dtype``."""
    values = _as_values(row)
    if transfer.variant == "imagej":
        low, high = limits
        if high is None:
            return row.astype(out_dtype)  # ImageJ leaves the image as it is
        scale = 1.0 / (high - low)  # ContrastEnhancer.normalizeFloat, in double as Java computes it
        shares = np.minimum(np.maximum(values.astype(np.float64, copy=False) - low, 0.0) * scale, 1.0)
    elif transfer.variant == "percentile":
        shares = between(values.astype(np.float64, copy=False), *limits)
        if transfer.clip or out_dtype.kind in "iu":
            shares = np.clip(shares, 0.0, 1.0)
    else:
        shares = window_shares(values, *limits, exact=transfer.variant == "window-exact")
        shares = np.where(np.isnan(values), np.nan, shares)
    return _into(shares, lo, hi, out_dtype, truncate=transfer.variant == "imagej")


def _into(shares, lo, hi, out_dtype, *, truncate):
    """Shares of the output range as ``out_dtype``: integers by ImageJ's ``(int)`` cast of the share of the
    span (``truncate``), else ``rint`` of the float result.
    """
    if out_dtype.kind == "f":
        return (lo + shares * (float(hi) - float(lo))).astype(out_dtype)
    product = shares * (float(hi) - float(lo))
    values = np.trunc(product) + float(lo) if truncate else np.rint(product + float(lo))
    return float_to_integer(np.nan_to_num(values, nan=float(lo)), out_dtype)


def _output_range(out_range, image, counted):
    """``(lo, hi)``: as given, the output dtype's, or the counted pixels' own (as ``equalize`` takes it)."""
    checked = check_out_range(out_range, image.dtype)
    if isinstance(checked, tuple):
        return checked
    if checked == "dtype":
        return dtype_range(output_dtype(image.dtype))
    return image[counted].min(), image[counted].max()


# -- float percentiles in the kernels --------------------------------------------------------------------
def _percentile_stretch(host, layout, mask, transfer, out_range, out_dtype):
    """Percentiles of float groups by the kernels (two passes, no copy or sort of the pixels), then one
    pass of the linear map; the reference's results, bit for bit. None where the kernels do not run.
    """
    rows = layout.to_rows(np, host)
    mask_rows = None if mask is None else layout.to_rows(np, np.broadcast_to(mask, host.shape))
    result = np.empty(rows.shape, out_dtype)
    checked = check_out_range(out_range, host.dtype)
    if checked == "image":
        counted = np.isfinite(host) if mask is None else np.isfinite(host) & mask
        lo, hi = _output_range(out_range, host, counted)
    else:
        lo, hi = _output_range(out_range, host, None)
    for g in range(rows.shape[0]):
        ranks = _PercentileRanks(transfer.percentiles)
        keys = _accel.key_counts(rows[g], None if mask_rows is None else mask_rows[g])
        if keys is None:
            return None
        statistics, n = order_statistics(keys.counts, ranks, keys.copy_wanted)
        if n == 0:
            raise _no_pixel_error(mask)
        if not _accel.linear_map(rows[g], *ranks.limits(statistics), lo, hi, transfer.clip, result[g]):
            return None
    return layout.from_rows(np, result)


class _PercentileRanks:
    """``ranks(n)``: the order statistics the percentiles read among ``n`` values (two each), kept with the
    share between them; ``limits(statistics)``: NumPy's values from them.
    """

    def __init__(self, percentiles):
        self.percentiles = percentiles
        self.found = []

    def __call__(self, n):
        self.found = [percentile_ranks(n, p) for p in self.percentiles]
        return [rank for previous, following, _ in self.found for rank in (previous, following)]

    def limits(self, statistics):
        return [lerp(statistics[2 * i], statistics[2 * i + 1], gamma) for i, (_, _, gamma) in enumerate(self.found)]
