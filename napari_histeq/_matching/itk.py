"""ITK's ``HistogramMatchingImageFilter``: matching at a few quantiles, the standard MRI normalisation.

Unlike scikit-image's matching (every quantile of the image onto the
reference's), ITK matches the two histograms only at ``match_points``
quantiles (1: the median) between a lower landmark and the maximum, and maps
linearly between those landmarks. The lower landmark is the mean intensity
(``threshold_at_mean``: the background of an MRI, below its mean, counts in
neither histogram) or the minimum. Each histogram has ``levels`` bins from
the lower landmark to the maximum, its first bin stretched down to the
image's minimum (ITK 5's ``ConstructHistogramFromIntensityRange``).

Everything is done as ITK 5.4 does it, in its own number types: the mean is
summed in double, pixel by pixel, and cast to the pixel type (truncated for
integers); the bin edges are computed in float32 and cast to the pixel type;
a value's bin is found by ITK's own binary search (with integer pixels
several bins can share an edge, and which of them counts the value depends
on the search's path); the quantiles are ITK's ``Histogram::Quantile``; and
the result is cast to the pixel type as C++ casts (truncation for integers).
SimpleITK's filter on the same data is the oracle (``tests/test_itk.py``).

An extension ITK does not have: ``mask`` and ``reference_mask`` choose the
pixels that the statistics and histograms count (all pixels are mapped).
"""

from __future__ import annotations

import numpy as np

from .._engine.backend import array_module, float_to_integer, is_lazy_array, to_backend
from .._engine.binning import nothing_to_count
from .._engine.groups import GroupLayout
from .._engine.validate import as_image, check_mask, normalize_axis

#: ITK's ``Math::AlmostEquals(x, 0.0)`` for doubles: within a tenth of double's epsilon.
_ALMOST_ZERO = 0.1 * np.finfo(np.float64).eps


def _as_measurement(value: float, dtype: np.dtype):
    """A C++ ``static_cast<PixelType>(double)``: truncation toward zero for integers, rounding for floats."""
    if dtype.kind == "f":
        return dtype.type(value)
    return dtype.type(int(np.trunc(value)))


def _statistics(values: np.ndarray):
    """ITK's ``ComputeMinMaxMean``: min, max and the mean summed in double in pixel order, as the pixel type."""
    total = np.cumsum(values, dtype=np.float64)[-1]  # a running sum, in order: ITK's rounding, not pairwise
    return values.min(), values.max(), _as_measurement(total / values.size, values.dtype)


def _bins(dtype: np.dtype, levels: int, lower, upper, true_min):
    """ITK's ``Histogram::Initialize`` over ``lower..upper`` in the pixel type, the first bin down to ``true_min``."""
    with np.errstate(over="ignore", invalid="ignore"):  # float64's ends overflow float32, to inf, as in ITK
        interval = np.float32((np.float32(upper) - np.float32(lower)) / np.float32(levels))
        steps = np.arange(levels + 1, dtype=np.float32) * interval  # float(j) * interval, in float32
        # lower + j * interval: float32 for integer and float32 pixels, double for double ones (C++'s promotions)
        edges = (np.float64(lower) + steps.astype(np.float64)) if dtype == np.float64 else (np.float32(lower) + steps)
    if dtype.kind == "f":
        edges = edges.astype(dtype)
    else:
        edges = float_to_integer(np.trunc(edges.astype(np.float64)), dtype)  # saturated where C++ is undefined
    mins, maxs = edges[:-1].copy(), edges[1:].copy()
    mins[0], maxs[-1] = true_min, upper
    return mins, maxs


def _bin_of(values: np.ndarray, mins: np.ndarray, maxs: np.ndarray) -> np.ndarray:
    """ITK's ``Histogram::GetIndex`` for values within ``mins[0]..maxs[-1]``: its binary search, path and all,
    run on every value at once.
    """
    last = mins.size - 1
    index = np.full(values.shape, -1, np.int64)
    index[values >= maxs[last]] = last  # the top value belongs to the last bin
    searching = index < 0
    begin = np.zeros(values.shape, np.int64)
    end = np.full(values.shape, last, np.int64)
    mid = np.full(values.shape, (last + 1) // 2, np.int64)
    for _ in range(4 * (int(mins.size).bit_length() + 2)):
        if not searching.any():
            break
        median = mins[mid]
        below = searching & (values < median)
        above = searching & (values > median)
        found = searching & (values == median) | above & (values < maxs[mid]) & (values >= mins[mid])
        index[found] = mid[found]
        searching &= ~found
        end = np.where(below, mid - 1, end)
        begin = np.where(above & searching, mid + 1, begin)
        span = end - begin
        half = np.where(span >= 0, span // 2, -(-span // 2))  # C++'s division: toward zero
        mid = np.clip(np.where(searching, begin + half, mid), 0, last)
    if searching.any():  # ITK's search ends for every value inside the bins; nothing else is counted
        raise RuntimeError("ITK's bin search did not end")
    return index


def _quantile(counts: np.ndarray, mins: np.ndarray, maxs: np.ndarray, p: float) -> float:
    """ITK's ``Histogram::Quantile``: from the bottom below the median, from the top at and above it."""
    size, total = counts.size, float(counts.sum())
    cumulated, f_n, p_n_prev = 0.0, np.nan, np.nan
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty bin at the quantile: ITK's inf or NaN
        if p < 0.5:
            n, p_n = 0, 0.0
            while True:
                f_n = float(counts[n])
                cumulated += f_n
                p_n_prev, p_n = p_n, cumulated / total
                n += 1
                if not (n < size and p_n < p):
                    break
            low, high = float(mins[n - 1]), float(maxs[n - 1])
            return float(low + np.float64(p - p_n_prev) / np.float64(f_n / total) * (high - low))
        n, m, p_n = size - 1, 0, 1.0
        while True:
            f_n = float(counts[n])
            cumulated += f_n
            p_n_prev, p_n = p_n, 1.0 - cumulated / total
            n -= 1
            m += 1
            if not (m < size and p_n > p):
                break
        low, high = float(mins[n + 1]), float(maxs[n + 1])
        return float(high - np.float64(p_n_prev - p) / np.float64(f_n / total) * (high - low))


def _landmarks(values: np.ndarray, levels: int, match_points: int, threshold_at_mean: bool):
    """``(minimum, landmarks, maximum)``: the lower landmark, the quantiles and the maximum, as ITK fills
    a row of its quantile table.
    """
    low, high, mean = _statistics(values)
    threshold = mean if threshold_at_mean else low
    mins, maxs = _bins(values.dtype, levels, threshold, high, low)
    as_double = values.astype(np.float64)
    counted = values[(as_double >= float(threshold)) & (as_double <= float(high))]
    counts = np.bincount(_bin_of(counted, mins, maxs), minlength=levels)
    delta = 1.0 / (float(match_points) + 1.0)
    quantiles = [_quantile(counts, mins, maxs, float(j) * delta) for j in range(1, match_points + 1)]
    return float(low), np.array([float(threshold), *quantiles, float(high)]), float(high)


def _gradient(rise: float, run: float) -> float:
    return rise / run if abs(run) > _ALMOST_ZERO else 0.0


def itk_match(values: np.ndarray, counted: np.ndarray, reference, *, levels: int, match_points: int,
              threshold_at_mean: bool) -> np.ndarray:
    """``values`` (1D, one histogram group) matched as ITK does, in ``values``' dtype, to ``reference``: the
    reference's pixels (1D), or their ``_landmarks`` found once for many groups.

    ``counted`` is the part of ``values`` whose statistics and histogram
    are matched (all of them, for ITK's own result).
    """
    source_min, source, source_max = _landmarks(counted, levels, match_points, threshold_at_mean)
    if isinstance(reference, np.ndarray):
        reference = _landmarks(reference, levels, match_points, threshold_at_mean)
    reference_min, target, reference_max = reference
    gradients = np.array([_gradient(target[j + 1] - target[j], source[j + 1] - source[j])
                          for j in range(match_points + 1)])
    lower = _gradient(target[0] - reference_min, source[0] - source_min)
    upper = _gradient(target[-1] - reference_max, source[-1] - source_max)
    x = values.astype(np.float64)
    segment = np.full(x.shape, match_points + 2, np.int64)  # the first landmark above x, as ITK's loop finds it
    for j in range(match_points + 1, -1, -1):
        segment[x < source[j]] = j
    inner = np.clip(segment - 1, 0, match_points)
    with np.errstate(over="ignore", invalid="ignore"):  # float64's ends: IEEE's inf and NaN, as ITK's doubles
        mapped = target[inner] + (x - source[inner]) * gradients[inner]
        mapped = np.where(segment == 0, reference_min + (x - source_min) * lower, mapped)
        mapped = np.where(segment == match_points + 2, reference_max + (x - source_max) * upper, mapped)
    if values.dtype.kind == "f":
        return mapped.astype(values.dtype)
    return float_to_integer(np.trunc(mapped), values.dtype)


def match_itk(image, reference, *, axis, mask, reference_mask, levels, match_points, threshold_at_mean):
    """:func:`napari_histeq.match_histograms`'s ``variant="itk"``: each histogram group of an in-memory
    image matched to the reference's counted pixels.
    """
    if is_lazy_array(image) or is_lazy_array(reference):
        raise TypeError("variant='itk' reads the whole image, as ITK's filter does: give it in memory "
                        "(a dask or zarr image: .compute() a part that fits), or use variant='skimage'")
    if levels < 1 or match_points < 1:
        raise ValueError(f"levels and match_points must be at least 1, got {levels} and {match_points}")
    xp = array_module(image)
    host = to_backend(np, image)
    dtype = host.dtype
    ref = to_backend(np, as_image(reference))
    ref_values = ref.ravel()
    keep = np.isfinite(ref_values) if ref.dtype.kind == "f" else np.ones(ref_values.shape, bool)
    if reference_mask is not None:
        keep &= np.broadcast_to(to_backend(np, check_mask(reference_mask, ref.shape)), ref.shape).ravel()
    ref_values = ref_values[keep]
    if ref_values.size == 0:
        raise nothing_to_count(reference_mask is not None, " in the reference")
    if ref.dtype != dtype:  # ITK's filter takes one pixel type for both images
        converted = ref_values.astype(dtype)
        if not np.array_equal(converted.astype(ref.dtype), ref_values):
            raise TypeError(f"variant='itk' matches images of one pixel type, as ITK; the {ref.dtype} reference "
                            f"does not fit the image's {dtype}")
        ref_values = converted
    layout = GroupLayout(tuple(host.shape), normalize_axis(axis, host.ndim))
    mask = check_mask(mask, host.shape)
    rows = layout.to_rows(np, host)
    mask_rows = layout.mask_rows(np, None if mask is None else to_backend(np, mask))
    out = np.empty(rows.shape, dtype)
    target = _landmarks(ref_values, levels, match_points, threshold_at_mean)  # once for every group
    for g, row in enumerate(rows):
        counted = np.isfinite(row) if dtype.kind == "f" else np.ones(row.shape, bool)
        if mask_rows is not None:
            counted &= mask_rows[g]
        if not counted.any():
            raise nothing_to_count(mask is not None)
        out[g] = itk_match(row, row[counted], target, levels=levels, match_points=match_points,
                           threshold_at_mean=threshold_at_mean)
    return to_backend(xp, layout.from_rows(np, out))
