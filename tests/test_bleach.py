"""Bleach correction against independent oracles: Fiji's simple-ratio rules written out, scikit-image's
match_histograms per time point, and a series that bleaches along a known exponential.
"""

import math
import warnings

import numpy as np
import pytest

from napari_histeq import correct_bleaching

exposure = pytest.importorskip("skimage.exposure")


def bleaching_series(rng, shape=(8, 32, 24), dtype=np.uint16, rate=0.15):
    """Cells that fade: each time point scaled by 0.2 + 0.8 exp(-rate t), with noise."""
    base = rng.gamma(4.0, 500.0, shape[1:])
    decay = 0.2 + 0.8 * np.exp(-rate * np.arange(shape[0]))
    series = base[None] * decay[:, None, None] + rng.normal(0, 5, shape)
    return series.clip(0, np.iinfo(dtype).max if dtype != np.float64 else None).astype(dtype), decay


def fiji_simple_ratio(series, background):
    """BleachCorrection_SimpleRatio.java for a 2D+t stack, as written there, one frame at a time."""
    out = np.empty_like(series)
    info = np.iinfo(series.dtype)
    reference = None
    for t, frame in enumerate(series):
        subtracted = np.maximum(frame.astype(np.float64) - background, 0)  # ip.add(-baseline) clamps at 0
        mean = subtracted.mean()
        ratio = 1.0 if t == 0 else reference / mean
        if t == 0:
            reference = mean
        out[t] = np.clip(np.floor(subtracted * ratio + 0.5), info.min, info.max)  # Math.round, then clamp
    return out


@pytest.mark.parametrize("background", [0, 37])
def test_ratio_is_fijis_simple_ratio(rng, background):
    series, _ = bleaching_series(rng)
    kept = series.copy()
    np.testing.assert_array_equal(correct_bleaching(series, method="ratio", background=background),
                                  fiji_simple_ratio(series, background))
    np.testing.assert_array_equal(series, kept)


def test_histogram_method_matches_each_time_point_to_the_reference(rng):
    series, _ = bleaching_series(rng)
    for reference in (0, 3, -1):
        result = correct_bleaching(series, method="histogram", reference=reference)
        target = series[reference]
        for t in range(series.shape[0]):
            expected = np.rint(exposure.match_histograms(series[t].ravel(), target.ravel())).reshape(target.shape)
            np.testing.assert_array_equal(result[t], expected)


def test_histogram_method_to_the_previous_corrected_time_point(rng):
    series, _ = bleaching_series(rng, shape=(4, 20, 20))
    result = correct_bleaching(series, method="histogram", reference="previous")
    previous = series[0]
    np.testing.assert_array_equal(result[0], series[0])
    for t in range(1, 4):
        expected = np.rint(exposure.match_histograms(series[t].ravel(), previous.ravel())).reshape(previous.shape)
        np.testing.assert_array_equal(result[t], expected)
        previous = expected.astype(series.dtype)


def test_exponential_fit_restores_a_known_decay(rng):
    base = rng.gamma(4.0, 500.0, (24, 24))
    t = np.arange(10)
    decay = 300 * np.exp(-0.3 * t) + 100  # a * exp(-b t) + c, in units of the mean
    series = (base[None] * (decay / decay[0])[:, None, None]).astype(np.float64)
    result = correct_bleaching(series, method="exponential")
    np.testing.assert_allclose(result, np.broadcast_to(base, series.shape), rtol=1e-6)
    assert result.dtype == np.float64


def masked_match(frame, frame_mask, target, target_mask):
    """Each pixel's share of the frame's counted pixels at or below it, read off the target's counted pixels."""
    counted = np.sort(frame[frame_mask])
    shares = np.searchsorted(counted, frame, side="right") / counted.size
    values, counts = np.unique(target[target_mask], return_counts=True)
    return np.rint(np.interp(shares, np.cumsum(counts) / counts.sum(), values))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("reference", [0, 2, -1])
def test_histogram_method_with_a_mask_that_moves_in_time(rng, dtype, reference):
    top = np.iinfo(dtype).max
    decay = 0.3 + 0.7 * np.exp(-0.3 * np.arange(5))
    series = (rng.gamma(3.0, top / 12, (5, 18, 22)) * decay[:, None, None]).clip(0, top).astype(dtype)
    mask = rng.random(series.shape) > 0.6  # a different region at every time point
    moved, moved_mask = np.moveaxis(series, 0, 1), np.moveaxis(mask, 0, 1)  # y, t, x
    kept = moved.copy()
    result = np.moveaxis(correct_bleaching(moved, axis=1, mask=moved_mask, reference=reference), 1, 0)
    for t in range(series.shape[0]):
        expected = masked_match(series[t], mask[t], series[reference], mask[reference])
        np.testing.assert_array_equal(result[t], expected)
    np.testing.assert_array_equal(moved, kept)
    mask[reference] = False
    with pytest.raises(ValueError, match="mask selects no pixel in the reference"):
        correct_bleaching(series, mask=mask, reference=reference)


def test_each_channel_is_corrected_on_its_own(rng):
    decay = 0.3 + 0.7 * np.exp(-0.25 * np.arange(5))[:, None, None, None]
    rates = np.array([1.0, 0.5, 0.8])  # each colour fades at its own rate
    series = (rng.gamma(3.0, 20.0, (5, 12, 14, 3)) * decay ** rates).clip(0, 255).astype(np.uint8)
    kept = series.copy()
    result = correct_bleaching(series, channel_axis=-1)
    for c in range(3):
        for t in range(5):
            expected = np.rint(exposure.match_histograms(series[t, ..., c], series[0, ..., c]))
            np.testing.assert_array_equal(result[t, ..., c], expected)
    ratio = correct_bleaching(series, method="ratio", background=3, channel_axis=3)
    for c in range(3):
        np.testing.assert_array_equal(ratio[..., c], fiji_simple_ratio(series[..., c], 3))
    np.testing.assert_array_equal(series, kept)


def test_channels_first_with_masks_time_points_and_dask(rng):
    from napari_histeq._bleach.correct import correct_time_point

    series = rng.integers(50, 3000, (2, 6, 10, 12)).astype(np.uint16)  # c, t, y, x
    series[1] //= np.arange(1, 7, dtype=np.uint16)[:, None, None]
    shared = rng.random((10, 12)) > 0.3
    own = rng.random(series.shape) > 0.3
    for mask, per_channel in ((None, lambda c: None), (shared, lambda c: shared), (own, lambda c: own[c])):
        whole = correct_bleaching(series, axis=1, channel_axis=0, mask=mask, reference=2)
        for c in range(2):
            single = correct_bleaching(series[c], axis=0, mask=per_channel(c), reference=2)
            np.testing.assert_array_equal(whole[c], single)
        np.testing.assert_array_equal(correct_time_point(series, 4, axis=1, channel_axis=0, mask=mask, reference=2),
                                      whole[:, 4])
    da = pytest.importorskip("dask.array")
    lazy = correct_bleaching(da.from_array(series, chunks=(1, 2, 10, 12)), axis=1, channel_axis=0, method="ratio")
    assert type(lazy).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.compute(), correct_bleaching(series, axis=1, channel_axis=0, method="ratio"))
    with pytest.raises(ValueError, match="must differ"):
        correct_bleaching(series, axis=0, channel_axis=0)
    with pytest.raises(ValueError, match="channel_axis 4 is out of bounds"):
        correct_bleaching(series, channel_axis=4)
    with pytest.raises(TypeError, match="channel_axis must be None or an int"):
        correct_bleaching(series, channel_axis="C")


def test_3d_time_series_with_the_time_axis_elsewhere_and_a_mask(rng):
    series = rng.integers(100, 4000, (6, 3, 16, 16)).astype(np.uint16)  # t, z, y, x
    series = (series * np.linspace(1, 0.4, 6)[:, None, None, None]).astype(np.uint16)
    mask = np.zeros((3, 16, 16), bool)
    mask[:, 4:12, 4:12] = True
    moved = np.moveaxis(series, 0, 1)  # z, t, y, x
    by_axis = correct_bleaching(moved, method="ratio", axis=1, mask=mask[:, None].repeat(6, axis=1))
    means = np.array([frame[mask].mean() for frame in series.astype(np.float64)])
    expected = np.floor(series * (means[0] / means)[:, None, None, None] + 0.5).clip(0, 65535).astype(np.uint16)
    np.testing.assert_array_equal(np.moveaxis(by_axis, 1, 0), expected)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_ratio_means_leave_nan_and_infinities_out(rng, lazy):
    series, _ = bleaching_series(rng, dtype=np.float64)
    series[1, 3, 4], series[2, 0, :5], series[3, 7, 7] = np.nan, np.inf, -np.inf
    series[4, :, :] = np.where(rng.random(series.shape[1:]) < 0.5, np.nan, series[4])
    finite = np.isfinite(series)
    means = np.array([(frame - 20)[ok].mean() for frame, ok in zip(series, finite)])
    expected = (series - 20) * (means[0] / means)[:, None, None]  # NaN and +-inf stay what they are
    data = series
    if lazy:
        data = pytest.importorskip("dask.array").from_array(series, chunks=(3, 16, 12))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = np.asarray(correct_bleaching(data, method="ratio", background=20))
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    series[5] = np.nan
    with pytest.raises(ValueError, match="time point 5 has no finite pixel"):
        correct_bleaching(series, method="ratio")


def test_exponential_fit_of_a_series_that_does_not_decay_as_fiji_fits_it(rng):
    base = rng.gamma(4.0, 500.0, (16, 16))
    rise = 100 - 60 * np.exp(-0.4 * np.arange(6))  # a * exp(-b t) + c with a < 0: brightening
    series = base[None] * (rise / rise[0])[:, None, None]
    np.testing.assert_allclose(correct_bleaching(series, method="exponential"), np.broadcast_to(base, series.shape),
                               rtol=1e-6)
    noise = rng.random((5, 40, 40))  # no trend at all (napari-bleach-correct's own test data): gains near 1
    corrected = correct_bleaching(noise, method="exponential")
    assert corrected.shape == noise.shape and corrected.dtype == noise.dtype
    np.testing.assert_allclose(corrected, noise, rtol=0.05)


def test_exponential_fit_through_three_time_points_is_exact_and_quiet(rng):
    base = rng.gamma(4.0, 500.0, (16, 16))
    decay = 200 * np.exp(-0.5 * np.arange(3)) + 100
    series = base[None] * (decay / decay[0])[:, None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about the covariance of an exact fit
        result = correct_bleaching(series, method="exponential")
    np.testing.assert_allclose(result, np.broadcast_to(base, series.shape), rtol=1e-6)


@pytest.mark.parametrize("method", ["histogram", "ratio"])
def test_dask_series_stay_lazy_and_equal_the_eager_result(rng, method):
    da = pytest.importorskip("dask.array")
    series, _ = bleaching_series(rng)
    lazy = correct_bleaching(da.from_array(series, chunks=(2, 16, 24)), method=method)
    assert type(lazy).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.compute(), correct_bleaching(series, method=method))


def test_bad_input_is_a_clear_error(rng):
    series, _ = bleaching_series(rng, shape=(3, 8, 8))
    with pytest.raises(ValueError, match="method must be one of"):
        correct_bleaching(series, method="linear")
    with pytest.raises(ValueError, match="1 time point"):
        correct_bleaching(series[:1])
    with pytest.raises(ValueError, match="not a time point"):
        correct_bleaching(series, reference=3)
    with pytest.raises(ValueError, match="histogram method"):
        correct_bleaching(series, method="ratio", reference="previous")
    with pytest.raises(ValueError, match="needs at least 3 time points"):
        correct_bleaching(series[:2], method="exponential")
    flat = series * 0 + 5
    np.testing.assert_array_equal(correct_bleaching(flat, method="exponential"), flat)  # nothing to correct
    with pytest.raises(ValueError, match="time axis and at least one more"):
        correct_bleaching(np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="background must be a finite number"):
        correct_bleaching(series, method="ratio", background=float("nan"))
    with pytest.raises(ValueError, match="mask selects no pixel"):
        correct_bleaching(series, mask=np.zeros((8, 8), bool))
    assert math.isfinite(float(correct_bleaching(series.astype(np.float32), method="ratio").mean()))


@pytest.mark.parametrize("method, reference", [("histogram", 2), ("histogram", "previous"), ("ratio", -1),
                                               ("exponential", 0)])
def test_one_time_point_equals_that_time_point_of_the_whole_correction(rng, method, reference):
    from napari_histeq._bleach.correct import correct_time_point

    decay = 0.2 + 0.8 * np.exp(-0.2 * np.arange(7))
    series = (rng.gamma(4.0, 500.0, (7, 20, 3, 16)) * decay[:, None, None, None]).astype(np.uint16)  # t, y, z, x
    moved = np.moveaxis(series, 0, 2)  # y, z, t, x
    mask = np.zeros((20, 3, 16), bool)
    mask[4:16] = True
    options = {"method": method, "axis": 2, "reference": reference, "background": 10.0}
    whole = correct_bleaching(moved, mask=mask, **options)
    for t in (0, 3, 6):
        np.testing.assert_array_equal(correct_time_point(moved, t, mask=mask, **options), whole[:, :, t])


@pytest.mark.parametrize("method", ["histogram", "ratio", "exponential"])
def test_zarr_series_on_disk_in_little_memory(tmp_path, rng, method):
    zarr = pytest.importorskip("zarr")
    da = pytest.importorskip("dask.array")
    import tracemalloc

    shape, chunks = (128, 256, 256), (2, 256, 256)  # 16 MiB of uint16 in 256 KiB chunks
    source = zarr.create_array(store=str(tmp_path / "in.zarr"), shape=shape, chunks=chunks, dtype="uint16")
    for start in range(0, shape[0], 16):
        source[start:start + 16] = bleaching_series(rng, (16,) + shape[1:])[0] // (1 + start // 16)
    correct_bleaching(da.from_array(source, chunks=chunks)[:4], method=method).compute()  # kernels, codecs
    tracemalloc.start()
    da.to_zarr(correct_bleaching(source, method=method), str(tmp_path / "out.zarr"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = np.prod(shape) * 2
    # measured: about 5 MiB for every method, for an 8 MiB series as for this one (bounded by chunks)
    assert peak < size / 2, f"peak {peak / 2**20:.1f} MiB for an {size / 2**20:.0f} MiB series"
    written = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    np.testing.assert_array_equal(written[:], correct_bleaching(source[:], method=method))


def test_ratio_and_exponential_work_one_time_point_at_a_time(rng):
    import tracemalloc

    series, _ = bleaching_series(rng, (40, 128, 128))
    for method in ("ratio", "exponential"):
        correct_bleaching(series, method=method)
        tracemalloc.start()
        correct_bleaching(series, method=method)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 1.6 * series.nbytes, f"{method}: peak {peak / series.nbytes:.2f}x the series"  # was 16x


def fiji_matching_table(frame_counts, reference_counts):
    """HistogramMatcher.matchHistograms (Fiji's CorrectBleach) as written there: a scan down from the top."""
    levels = frame_counts.size
    frame_cdf = np.cumsum(frame_counts) / frame_counts.sum()  # Util.Cdf: (double) c / n
    reference_cdf = np.cumsum(reference_counts) / reference_counts.sum()
    table = np.empty(levels, np.int64)
    for a in range(levels):
        j = levels - 1
        while True:
            table[a] = j
            j -= 1
            if not (j >= 0 and frame_cdf[a] <= reference_cdf[j]):
                break
    return table


def test_fiji_variant_is_fijis_histogram_matching(rng):
    from napari_histeq import match_histograms

    series, _ = bleaching_series(rng, (6, 30, 40), dtype=np.uint8, rate=0.3)
    reference_counts = np.bincount(series[0].ravel(), minlength=256)
    expected = [series[0]] + [fiji_matching_table(np.bincount(f.ravel(), minlength=256), reference_counts)[f]
                              for f in series[1:]]  # the reference frame is left as it is
    result = correct_bleaching(series, variant="fiji")
    np.testing.assert_array_equal(result, np.stack(expected).astype(np.uint8))
    # uint16: the same rule as a search up the reference's cumulative shares (the loop is O(levels^2))
    wide, _ = bleaching_series(rng, (3, 30, 40), rate=0.3)
    counts = [np.bincount(f.ravel(), minlength=65536) for f in wide]
    frame_cdf, reference_cdf = (np.cumsum(c) / c.sum() for c in (counts[2], counts[0]))
    table = np.array([np.argmax(reference_cdf >= share) for share in frame_cdf])
    np.testing.assert_array_equal(match_histograms(wide[2], wide[0], variant="fiji"), table[wide[2]])
    with pytest.raises(TypeError, match="uint8 and uint16"):
        match_histograms(wide.astype(np.float32), wide[0].astype(np.float32), variant="fiji")
    with pytest.raises(ValueError, match="histogram method"):
        correct_bleaching(series, method="ratio", variant="fiji")
    da = pytest.importorskip("dask.array")
    np.testing.assert_array_equal(correct_bleaching(da.from_array(series, chunks=(2, 30, 20)), variant="fiji"),
                                  result)


def test_fiji_matching_of_any_uint8_images_is_the_java_loop():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from napari_histeq import match_histograms

    @settings(max_examples=60, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 400), spread=st.integers(1, 255),
           reference_spread=st.integers(1, 255))
    def check(seed, size, spread, reference_spread):
        rng = np.random.default_rng(seed)
        image = rng.integers(0, spread, size, endpoint=True).astype(np.uint8)
        reference = rng.integers(255 - reference_spread, 255, size + 7, endpoint=True).astype(np.uint8)
        table = fiji_matching_table(np.bincount(image, minlength=256), np.bincount(reference, minlength=256))
        np.testing.assert_array_equal(match_histograms(image, reference, variant="fiji"), table[image])

    check()


def test_a_long_16_bit_series_is_corrected_in_blocks_of_time_points(rng):
    # 5000 time points of uint16: counted at once, 2.4 GiB of counters, once refused for a 160 KiB series.
    series = (rng.integers(200, 4000, (5000, 4, 4)) * np.linspace(1, 0.2, 5000)[:, None, None]).astype(np.uint16)
    corrected = correct_bleaching(series)
    for t in (0, 1, 2499, 4999):
        np.testing.assert_array_equal(corrected[t], exposure.match_histograms(series[t], series[0]).astype(np.uint16))
