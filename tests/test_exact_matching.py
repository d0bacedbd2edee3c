"""Exact histogram matching of floats and 32/64-bit integers: the kernels (values dealt into
buckets, sorted bucket by bucket) against the formula written out here with NumPy's own
sort, and against scikit-image, bit for bit: duplicates, masks, NaN and infinities, skewed
and constant data, both ends of every dtype.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import napari_histeq as h
from napari_histeq._engine import accel as _accel
from napari_histeq._kernels import cpu_kernels

#: The route the kernels take; with NAPARI_HISTEQ_JIT=0 the reference runs and must agree all the same.
EXPECTED_ROUTE = "reference" if cpu_kernels() is None else "numba"

exposure = pytest.importorskip("skimage.exposure")


def matched_by_formula(image, reference, mask=None):
    """scikit-image's rule, with a mask: counted values' CDF interpolated onto the reference's
    quantiles; an uncounted pixel takes the result of the last counted value at or below it.
    """
    values = image.ravel()
    keep = np.isfinite(values.astype(np.float64))
    if mask is not None:
        keep &= mask.ravel()
    distinct, counts = np.unique(values[keep], return_counts=True)
    ref = reference.ravel()
    ref = ref[np.isfinite(ref.astype(np.float64))]
    ref_values, ref_counts = np.unique(ref, return_counts=True)
    results = np.interp(np.cumsum(counts) / counts.sum(), np.cumsum(ref_counts) / ref_counts.sum(),
                        ref_values.astype(np.float64))
    position = np.searchsorted(distinct, values, side="right") - 1
    low, high = float(ref_values[0]), float(ref_values[-1])
    out = np.where(position >= 0, results[np.maximum(position, 0)], low)
    if image.dtype.kind == "f":
        out = np.where(np.isnan(values), np.nan, np.where(values == np.inf, high, out))
        return out.astype(image.dtype).reshape(image.shape)
    info = np.iinfo(image.dtype)
    out = np.rint(out)
    clipped = [info.max if v >= float(info.max) else max(int(v), info.min) for v in out]
    return np.array(clipped, dtype=image.dtype).reshape(image.shape)


def images(rng):
    n = 1 << 15
    yield "uniform float32", rng.random(n, dtype=np.float32)
    yield "normal float64", rng.normal(size=n)
    yield "few levels", rng.integers(0, 7, n).astype(np.float32)
    yield "skewed", np.exp(rng.normal(scale=8, size=n))  # most values crowd a few buckets
    yield "constant", np.full(n, 3.5)
    specials = rng.normal(size=n)
    specials[rng.integers(0, n, 300)] = np.nan
    specials[rng.integers(0, n, 300)] = np.inf
    specials[rng.integers(0, n, 300)] = -np.inf
    yield "NaN and infinities", specials
    yield "float64 ends", np.concatenate([[-1e308, 1e308, 5e-324, -5e-324], rng.normal(scale=1e307, size=n)])
    for dtype in (np.int32, np.uint32, np.int64, np.uint64):
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        data[:4] = [info.min, info.min + 1, info.max - 1, info.max]
        yield f"{np.dtype(dtype).name} ends", data


@pytest.mark.parametrize("with_mask", [False, True])
def test_kernels_match_the_formula_bit_for_bit(rng, with_mask):
    reference = rng.normal(size=5000) * 100
    for name, image in images(rng):
        mask = rng.random(image.shape) > 0.3 if with_mask else None
        result = h.match_histograms(image, reference.astype(image.dtype) if image.dtype.kind in "iu" else reference,
                                    mask=mask)
        assert _accel.last_route("ranks").path == EXPECTED_ROUTE, name
        expected = matched_by_formula(image, reference.astype(image.dtype) if image.dtype.kind in "iu" else reference,
                                      mask)
        np.testing.assert_array_equal(result, expected, err_msg=name)


def test_kernels_equal_scikit_image(rng):
    image = rng.random((256, 300), dtype=np.float32)
    image[::7] = np.round(image[::7], 2)  # duplicates
    reference = rng.gamma(2.0, size=(100, 90))
    expected = exposure.match_histograms(image, reference)
    np.testing.assert_array_equal(h.match_histograms(image, reference), expected.astype(np.float32))


@given(image=arrays(np.float64, st.integers(1, 400), elements=st.floats(allow_nan=True, allow_infinity=True)),
       masked=st.booleans(), data=st.data())
@settings(max_examples=150, deadline=None)
def test_any_small_group_through_the_kernels(monkeypatch_kernels, image, masked, data):
    mask = data.draw(arrays(bool, image.shape)) if masked else None
    finite = np.isfinite(image) & (mask if mask is not None else True)
    reference = np.array([-3.0, 0.0, 1.0, 1.0, 7.5])
    if not finite.any():
        with pytest.raises(ValueError, match="nothing to build a histogram from"):
            h.match_histograms(image, reference, mask=mask)
        return
    result = h.match_histograms(image, reference, mask=mask)
    assert _accel.last_route("ranks").path == EXPECTED_ROUTE
    np.testing.assert_array_equal(result, matched_by_formula(image, reference, mask))


@given(image=arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e308, 1e308)),
       reference=arrays(np.float64, st.integers(1, 60), elements=st.floats(allow_nan=False, allow_infinity=False)))
@settings(max_examples=200, deadline=None)
def test_any_reference_through_the_kernels(monkeypatch_kernels, image, reference):
    # extreme references make NumPy's interpolation overflow (an infinite slope, inf - inf):
    # the kernels' interpolation must take NumPy's way out of every such case
    result = h.match_histograms(image, reference)
    assert _accel.last_route("ranks").path == EXPECTED_ROUTE
    np.testing.assert_array_equal(result, matched_by_formula(image, reference))


@pytest.fixture(scope="module")
def monkeypatch_kernels():
    """Every group through the kernels, however small (they serve groups of 16384 pixels and more)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_accel, "MIN_KERNEL_ROW", 1)
        yield
