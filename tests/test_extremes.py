"""Hostile float ranges: subnormal and one-ulp spans, spans wider than the largest double.

The bin of every value is checked against exact rational arithmetic
(``fractions.Fraction``), and the kernels against the reference path.
"""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import textbook_equalize, textbook_table_from_counts, two_gigapixel_image

from napari_histeq import _kernels, equalize, fit_equalization, histogram

KERNEL_SIZE = 1 << 15  # at least the kernels' row threshold, so both paths run


def reference(monkeypatch, func, *args, **kwargs):
    with monkeypatch.context() as patch:
        patch.setenv(_kernels.ENV_VAR, "0")
        return func(*args, **kwargs)


def exact_bins(values, nbins):
    """floor((x - min) / (max - min) * nbins) in exact arithmetic, clipped to the last bin."""
    finite = [Fraction(float(v)) for v in values if np.isfinite(v)]
    low, high = min(finite), max(finite)
    if high == low:
        return {float(v): 0 for v in finite}
    return {float(v): min(int((Fraction(float(v)) - low) / (high - low) * nbins), nbins - 1) for v in finite}


@pytest.mark.parametrize("jit", ["1", "0"], ids=["kernels", "reference"])
def test_subnormal_span_counts_every_pixel(monkeypatch, jit):
    # The case: scale = nbins / 1e-310 overflowed, (x - start) * inf was NaN, and the
    # kernel's bin index left its table (counts.sum() == 35000, outputs of 1.8e308).
    monkeypatch.setenv(_kernels.ENV_VAR, jit)
    image = np.full(40000, 1e-310)
    image[-5000:] = 0.0
    counts, edges = histogram(image)
    assert counts.sum() == 40000 and counts[0] == 5000 and counts[-1] == 35000
    assert edges[0] == 0.0 and edges[-1] == 1e-310 and np.all(np.diff(edges) >= 0)
    out = equalize(image)
    assert set(np.unique(out)) == {0.125, 1.0}
    assert np.all(out[-5000:] == 0.125)


@pytest.mark.parametrize("jit", ["1", "0"], ids=["kernels", "reference"])
def test_span_wider_than_the_largest_double(monkeypatch, jit):
    monkeypatch.setenv(_kernels.ENV_VAR, jit)
    image = np.zeros(KERNEL_SIZE)
    image[:3] = [-1e308, 1e308, 0.0]
    image[3:1000] = 5e307
    counts, edges = histogram(image, nbins=4)
    assert list(counts) == [1, 0, KERNEL_SIZE - 999, 998]  # 0.0 sits on the middle edge
    assert edges[0] == -1e308 and edges[-1] == 1e308 and np.all(np.isfinite(edges))
    out = equalize(image, nbins=4)
    assert np.all((out >= 0) & (out <= 1)) and out[1] == 1.0 and out[0] == 1 / KERNEL_SIZE


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True),
            st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1.7976931348623157e308,
                             -1.7976931348623157e308, 1.0, np.nextafter(1.0, 2.0), np.nan, np.inf, -np.inf]),
        ),
        min_size=1, max_size=12,
    ),
    nbins=st.sampled_from([2, 3, 256, 1000]),
)
def test_extreme_floats_bin_like_exact_arithmetic(values, nbins):
    image = np.array(values, dtype=np.float64)
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        with pytest.raises(ValueError, match="finite"):
            histogram(image, nbins=nbins)
        return
    # repeated to kernel size, so that the kernels count it (the reference path bins it below)
    tiled = np.resize(image, max(KERNEL_SIZE, image.size))
    counts, edges = histogram(tiled, nbins=nbins)
    assert counts.sum() == np.isfinite(tiled).sum()
    assert np.all(np.isfinite(edges)) and np.all(np.diff(edges) >= 0)
    # each value's bin is the exact one, or a neighbour where rounding lands on an edge
    binning = fit_equalization(finite, nbins=nbins).binning
    bins = binning.indices(np, finite)[0]
    exact = exact_bins(finite, nbins)
    assert all(abs(int(b) - exact[float(v)]) <= 1 for v, b in zip(finite, bins))
    tiled_bins = binning.indices(np, tiled[np.isfinite(tiled)])[0]
    np.testing.assert_array_equal(counts, np.bincount(tiled_bins, minlength=nbins))
    out = equalize(tiled, nbins=nbins)
    ok = np.isfinite(tiled)
    assert np.all((out[ok] >= 0) & (out[ok] <= 1))
    assert np.all(np.isnan(out[np.isnan(tiled)]))
    order = np.argsort(tiled[ok], kind="stable")  # a monotone map: larger values never map lower
    assert np.all(np.diff(out[ok][order]) >= 0)


@settings(max_examples=60, deadline=None)
@given(
    low=st.floats(-1e308, 1e308),
    width=st.sampled_from([5e-324, 1e-310, 1e-300, 1e-10, 1.0, 1e300, 1.7e308]),
    seed=st.integers(0, 2**32 - 1),
)
def test_kernels_equal_the_reference_on_extreme_spans(low, width, seed):
    high = low + width
    if not np.isfinite(high) or high == low:
        return
    rng = np.random.default_rng(seed)
    image = low + rng.random(KERNEL_SIZE) * (high - low)
    image[:2] = low, high
    with pytest.MonkeyPatch.context() as patch:
        expected = reference(patch, equalize, image, nbins=300)
        expected_counts = reference(patch, histogram, image, nbins=300).counts
    np.testing.assert_array_equal(equalize(image, nbins=300), expected)
    np.testing.assert_array_equal(histogram(image, nbins=300).counts, expected_counts)


@pytest.mark.parametrize("jit", ["1", "0"], ids=["kernels", "reference"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
def test_masked_pixels_below_the_roi_map_to_the_bottom(monkeypatch, jit, dtype):
    # One rule for every dtype: a pixel below every counted pixel has a cumulative share of 0.
    monkeypatch.setenv(_kernels.ENV_VAR, jit)
    rng = np.random.default_rng(0)
    image = (rng.random((200, 200)) * 100 + 50).astype(dtype)
    image[:20] = 10  # darker than the whole region of interest
    image[-20:] = 200  # brighter than it
    roi = np.zeros(image.shape, bool)
    roi[50:150, 50:150] = True
    out = equalize(image, mask=roi)
    lo, hi = (0, 1) if np.dtype(dtype).kind == "f" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    assert np.all(out[:20] == lo)
    # above: the whole share, 1 (a float sum of the pdf may land one ulp short of it)
    np.testing.assert_allclose(out[-20:].astype(float), hi, rtol=1e-12)


@pytest.mark.parametrize("bad", [(np.nan, 1), (0, np.inf), (-np.inf, 0), (0.0, float("nan"))])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_non_finite_out_range_is_a_clear_error(bad, dtype):
    with pytest.raises(ValueError, match="out_range"):
        equalize(np.arange(16, dtype=dtype).reshape(4, 4), out_range=bad)


def test_out_range_beyond_the_output_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match=r"out_range .* float32"):
        equalize(np.arange(16, dtype=np.float32), out_range=(0, 1e39))
    with pytest.raises(ValueError, match="out_range"):
        equalize(np.arange(16, dtype=np.float64), out_range=(0, 10**400))


@pytest.mark.parametrize("jit", ["1", "0"], ids=["kernels", "reference"])
def test_the_widest_float_out_range_does_not_overflow(monkeypatch, jit):
    monkeypatch.setenv(_kernels.ENV_VAR, jit)
    image = np.linspace(0, 1, KERNEL_SIZE)
    out = equalize(image, out_range=(-1e308, 1e308))
    assert np.all(np.isfinite(out)) and out.max() == 1e308 and out.min() > -1e308
    unit = equalize(image)
    # the same curve, stretched: lo + unit * (hi - lo) computed without overflow
    np.testing.assert_allclose(out / 1e308 / 2 + 0.5, unit, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [">u2", ">i2", ">u1"])
def test_in_place_on_big_endian(dtype):
    rng = np.random.default_rng(4)
    image = (rng.gamma(2.0, 30.0, (130, 140))).astype(dtype)
    expected = textbook_equalize(image.astype(image.dtype.newbyteorder("=")))
    result = equalize(image, out=image)
    assert result is image and image.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(image, expected)


def test_more_than_2_31_pixels():
    # past 2**31 pixels (2 GiB of uint8) no count, sum or index may wrap around in 32 bits
    image, rows, counts = two_gigapixel_image()
    table = textbook_table_from_counts(counts, 255)
    lut = np.array([table[level] for level in range(256)], np.uint8)
    observed, _ = histogram(image)
    np.testing.assert_array_equal(observed, [counts[level] for level in range(256)])
    out = equalize(image)
    del image
    for k in range(16):
        assert (out[k::16] == lut[rows[k]]).all(), f"rows {k}, {k + 16}, ... were mapped wrongly"
