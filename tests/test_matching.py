"""Histogram matching against scikit-image's match_histograms (the peer whose semantics it takes)."""

import numpy as np
import pytest

from napari_histeq import _kernels, histogram, match_histograms
from napari_histeq._engine.validate import dtype_range

exposure = pytest.importorskip("skimage.exposure")
from skimage import data

CHELSEA, ASTRONAUT = data.chelsea(), data.astronaut()


def skimage_rounded(image, reference):
    """scikit-image's result, rounded into the image's integer dtype (it returns float64 for integers).

    Both are raveled: scikit-image asks for equal ndim, and its matching reads the values alone.
    """
    matched = exposure.match_histograms(image.ravel(), reference.ravel()).reshape(image.shape)
    if image.dtype.kind == "f":
        return matched
    info = np.iinfo(image.dtype)
    return np.clip(np.rint(matched), info.min, info.max).astype(image.dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int8])
@pytest.mark.parametrize("shapes", [((37, 53), (41, 29)), ((5, 17, 9), (1, 101, 1)), ((1, 1), (3, 3))])
def test_integer_images_are_scikit_images_result_rounded(rng, dtype, shapes):
    info = np.iinfo(dtype)
    image = rng.integers(info.min, min(info.max, info.min + 300), shapes[0]).astype(dtype)
    reference = rng.gamma(3.0, 20.0, shapes[1]).clip(0, info.max).astype(dtype)
    kept = image.copy()
    np.testing.assert_array_equal(match_histograms(image, reference), skimage_rounded(image, reference))
    np.testing.assert_array_equal(image, kept)  # never modified


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint32])
def test_floats_and_wide_integers_use_exact_distinct_values(rng, dtype):
    image = (rng.normal(0, 1, (45, 61)) * (1000 if dtype in (np.int32, np.uint32) else 1))
    reference = rng.gamma(2.0, 1.0, (30, 33)) * (1000 if dtype in (np.int32, np.uint32) else 1)
    if dtype == np.uint32:
        image = np.abs(image)
    image, reference = image.astype(dtype), reference.astype(dtype)
    result = match_histograms(image, reference)
    expected = skimage_rounded(image, reference)
    assert result.dtype == expected.dtype
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-9 if dtype == np.float64 else 0)


def test_each_plane_alone_with_axis_and_each_channel_with_channel_axis(rng):
    stack = rng.integers(0, 200, (4, 30, 20)).astype(np.uint8)
    reference = rng.integers(50, 255, (25, 25)).astype(np.uint8)
    expected = np.stack([skimage_rounded(plane, reference) for plane in stack])
    np.testing.assert_array_equal(match_histograms(stack, reference, axis=(-2, -1)), expected)
    rgb, rgb_reference = stack[:3].transpose(1, 2, 0), rng.integers(0, 255, (10, 12, 3)).astype(np.uint8)
    result = match_histograms(rgb, rgb_reference, channel_axis=-1)
    for c in range(3):
        np.testing.assert_array_equal(result[..., c], skimage_rounded(rgb[..., c], rgb_reference[..., c]))
    first = match_histograms(stack[:3], rgb_reference.transpose(2, 0, 1), channel_axis=0)
    np.testing.assert_array_equal(first, result.transpose(2, 0, 1))


def test_masks_count_their_pixels_and_map_every_pixel(rng):
    image = rng.integers(0, 256, (40, 40)).astype(np.uint8)
    reference = rng.integers(0, 256, (30, 30)).astype(np.uint8)
    mask, reference_mask = image < 128, reference > 100
    result = match_histograms(image, reference, mask=mask, reference_mask=reference_mask)
    # the oracle: scikit-image on the selected pixels, then each level looked up
    roi = skimage_rounded(image[mask], reference[reference_mask])
    lookup = dict(zip(image[mask].tolist(), roi.tolist()))
    np.testing.assert_array_equal(result[mask], roi)
    assert (result[~mask] == max(lookup.values())).all()  # above every counted level: the top quantile


def test_a_reference_histogram_is_counted_once_and_reused(rng):
    reference = rng.integers(0, 4096, (64, 64)).astype(np.uint16)
    counted = histogram(reference)
    for seed in range(3):
        image = np.random.default_rng(seed).integers(0, 4096, (20, 30)).astype(np.uint16)
        np.testing.assert_array_equal(match_histograms(image, counted), skimage_rounded(image, reference))


def test_dask_and_zarr_stay_lazy_and_equal_the_eager_result(rng):
    da = pytest.importorskip("dask.array")
    stack = rng.integers(0, 4096, (6, 40, 30)).astype(np.uint16)
    reference = rng.integers(1000, 3000, (50, 50)).astype(np.uint16)
    lazy = match_histograms(da.from_array(stack, chunks=(2, 20, 15)), da.from_array(reference, chunks=25),
                            axis=(-2, -1))
    assert type(lazy).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.compute(), match_histograms(stack, reference, axis=(-2, -1)))


@pytest.mark.parametrize("axis", [None, (-2, -1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_dask_floats_and_wide_integers_are_matched_group_by_group(rng, dtype, axis):
    da = pytest.importorskip("dask.array")
    stack = (rng.gamma(2.0, 300.0, (6, 40, 30))).astype(dtype)
    stack[1, 2, 3] = np.nan if np.dtype(dtype).kind == "f" else stack[1, 2, 3]
    reference = rng.uniform(100, 900, (1, 25, 25)).astype(dtype)
    mask = rng.random((40, 30)) > 0.2
    lazy = match_histograms(da.from_array(stack, chunks=(2, 20, 15)), reference, axis=axis, mask=mask)
    assert type(lazy).__module__.startswith("dask") and lazy.chunks == ((2, 2, 2), (20, 20), (15, 15))
    np.testing.assert_array_equal(lazy.compute(), match_histograms(stack, reference, axis=axis, mask=mask))


def test_nan_and_infinities_follow_the_float_rules(rng):
    image = rng.normal(0, 1, (20, 20))
    image[0, :3] = [np.nan, np.inf, -np.inf]
    reference = rng.uniform(5, 9, (10, 10))
    result = match_histograms(image, reference)
    assert np.isnan(result[0, 0]) and result[0, 1] == reference.max() and result[0, 2] == reference.min()
    finite = np.isfinite(image)
    np.testing.assert_allclose(result[finite], skimage_rounded(image[finite], reference), atol=1e-12)


def test_bad_input_is_a_clear_error(rng):
    image = rng.integers(0, 256, (10, 10)).astype(np.uint8)
    with pytest.raises(TypeError, match="both be integer or both float"):
        match_histograms(image, rng.random((5, 5)))
    with pytest.raises(ValueError, match="mask selects no pixel"):
        match_histograms(image, image, mask=np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="mask selects no pixel"):
        match_histograms(image.astype(np.float32), image.astype(np.float32), reference_mask=np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="channels"):
        match_histograms(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 2), np.uint8), channel_axis=-1)
    with pytest.raises(TypeError, match="bool"):
        match_histograms(np.zeros((4, 4), bool), image)
    with pytest.raises(ValueError, match="reference: image is empty"):
        match_histograms(image, np.zeros((0,), np.uint8))
    with pytest.raises(TypeError, match="reference: image is complex"):
        match_histograms(image, np.ones(3, complex))
    np.testing.assert_array_equal(match_histograms([[0, 1], [2, 3]], [[5, 6, 7, 8]]), [[5, 6], [7, 8]])  # lists work


@pytest.mark.parametrize("image, reference", [(CHELSEA, ASTRONAUT[..., 0]), (CHELSEA[..., 0], ASTRONAUT)])
def test_an_image_and_a_reference_of_different_dimensions_are_refused_as_in_scikit_image(image, reference):
    with pytest.raises(ValueError, match="same number of channels"):
        exposure.match_histograms(image, reference)  # the peer refuses them
    with pytest.raises(ValueError, match="same number of dimensions"):
        match_histograms(image, reference)
    stack = np.stack([image] * 2) if image.ndim == 2 else image
    by_plane = match_histograms(stack, reference, axis=(0, 1) if image.ndim == 3 else (-2, -1))  # explicit groups
    assert by_plane.shape == stack.shape
    np.testing.assert_array_equal(match_histograms(image, histogram(reference)),  # a histogram: any shape
                                  match_histograms(image, reference.reshape((1,) * (image.ndim - 1) + (-1,))))


@pytest.mark.parametrize("array, reference, expected", [
    (np.arange(10), np.arange(100), np.arange(9, 100, 10)),  # scikit-image's own cases
    (np.random.default_rng(0).random(4), np.ones(3), np.ones(4)),
])
def test_scikit_images_array_cases(array, reference, expected):
    np.testing.assert_array_equal(match_histograms(array, reference), expected)


def test_plot_histograms_draws_the_reference(rng):
    from napari_histeq import plot_histograms

    image, reference = rng.integers(0, 100, (20, 20)).astype(np.uint8), rng.integers(100, 255, (9, 9)).astype(np.uint8)
    figure = plot_histograms(image, match_histograms(image, reference), reference=reference)
    assert "reference" in [line.get_label() for line in figure.axes[1].lines]


def test_numba_matching_tables_are_the_reference_bit_for_bit():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from napari_histeq._engine import accel as _accel
    from napari_histeq._engine import transfer as _transfer
    from napari_histeq._engine.binning import binning_for
    from napari_histeq._matching.transfer import MatchTransfer

    if _kernels.cpu_kernels() is None:
        pytest.skip("numba kernels unavailable or off (NAPARI_HISTEQ_JIT)")

    @settings(max_examples=80, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 5), dtype=st.sampled_from([np.uint8, np.int16]),
           occupied=st.floats(0.001, 1.0), reference_levels=st.integers(1, 300))
    def check(seed, groups, dtype, occupied, reference_levels):
        rng = np.random.default_rng(seed)
        binning = binning_for(np.dtype(dtype), None, None)
        counts = rng.integers(1, 50, (groups, binning.nbins)) * (rng.random((groups, binning.nbins)) < occupied)
        counts[np.arange(groups), rng.integers(0, binning.nbins, groups)] += 1  # the pipeline refuses empty groups
        lo, hi = (int(v) for v in dtype_range(dtype))
        values = np.unique(rng.integers(lo, hi, reference_levels, endpoint=True)).astype(np.float64)
        shares = np.cumsum(rng.integers(1, 9, values.size)).astype(np.float64)
        transfer = MatchTransfer(values, shares / shares[-1], lo=float(lo))
        reference = _transfer.tables_from_counts(counts, binning, transfer, lo, hi, np.dtype(dtype))
        for kind in (np.int64, np.int32):  # int32: the counts of planes counted one task each
            fast = _accel.tables_from_counts(counts.astype(kind), binning, transfer, lo, hi, np.dtype(dtype))
            assert _accel.last_route("transfer").path == "numba"
            np.testing.assert_array_equal(fast, reference)

    check()
