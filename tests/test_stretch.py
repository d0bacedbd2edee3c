"""stretch_contrast against its peers: ImageJ's own outputs, MONAI's formula written out, pydicom's windowing."""

import numpy as np
import pytest

from napari_histeq import CT_WINDOWS, fit_stretch, stretch_contrast

REFERENCE = np.load(__import__("pathlib").Path(__file__).parent / "data" / "imagej" / "imagej_stretch.npz")
CASES = [key for key in REFERENCE.files if "/" in key and not key.endswith("/input")]


@pytest.mark.parametrize("key", CASES)
def test_imagej_enhance_contrast_normalize_bit_for_bit(key):
    """ImageJ 1.53t's Process > Enhance Contrast with Normalize (tests/data/imagej/stretch.ijm): 8-bit,
    16-bit and 32-bit images, three saturated percentages; stacks slice by slice ("process all") and with
    the stack histogram ("use stack histogram").
    """
    name, what = key.split("/")
    image, expected = REFERENCE[f"{name}/input"], REFERENCE[key]
    if what.startswith("saturated="):
        result = stretch_contrast(image, saturated=float(what.split("=")[1]))
    else:
        result = stretch_contrast(image, axis=(-2, -1) if what == "slices" else None)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)


def _monai(image, low, high, b_min, b_max, clip=True):
    """MONAI's ScaleIntensityRangePercentiles, written out: np.percentile, then ScaleIntensityRange."""
    a_min, a_max = np.percentile(image, low), np.percentile(image, high)
    scaled = (image.astype(np.float64) - a_min) / (a_max - a_min)
    scaled = scaled * (b_max - b_min) + b_min
    return np.clip(scaled, b_min, b_max) if clip else scaled


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("percentiles", [(1, 99), (0, 100), (2.5, 97.5), (10, 11)])
def test_percentiles_are_monai_formula(rng, dtype, percentiles):
    image = (rng.gamma(2.0, 300.0, (40, 50)) - (500 if np.dtype(dtype).kind in "if" else 0)).astype(dtype)
    result = stretch_contrast(image, percentiles=percentiles)
    if np.dtype(dtype).kind == "f":
        expected = _monai(image, *percentiles, 0.0, 1.0).astype(dtype)
    else:
        info = np.iinfo(dtype)
        expected = np.rint(_monai(image, *percentiles, float(info.min), float(info.max)) - info.min) + info.min
        expected = expected.astype(dtype)
    assert result.dtype == image.dtype
    np.testing.assert_array_equal(result, expected)


def test_percentiles_per_plane_with_a_mask_and_unclipped(rng):
    stack = rng.gamma(2.0, 3.0, (3, 20, 30)).astype(np.float32)
    mask = np.zeros((20, 30), bool)
    mask[5:15, 5:25] = True
    result = stretch_contrast(stack, percentiles=(5, 95), axis=(-2, -1), mask=mask, clip=False)
    for plane, got in zip(stack, result):
        a_min, a_max = np.percentile(plane[mask], 5), np.percentile(plane[mask], 95)  # one at a time, as MONAI
        np.testing.assert_array_equal(got, ((plane.astype(np.float64) - a_min) / (a_max - a_min)).astype(np.float32))
    assert result.min() < 0 and result.max() > 1  # unclipped: beyond the limits


def _dicom(centre, width, function, bits=16, signed=True):
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = centre, width, function
    ds.BitsStored, ds.PixelRepresentation = bits, int(signed)
    return ds


@pytest.mark.parametrize("variant", ["window", "window-exact"])
@pytest.mark.parametrize("preset", ["brain", "lung", "bone", (40.5, 1.0), (0.0, 2.0)])
def test_ct_windows_are_pydicom_apply_windowing(rng, variant, preset):
    pixels = pytest.importorskip("pydicom.pixels")
    centre, width = CT_WINDOWS[preset] if isinstance(preset, str) else preset
    hounsfield = rng.integers(-1100, 1900, (30, 40)).astype(np.int16)
    hounsfield[0, :6] = [-32768, 32767, int(centre), int(centre) - 1, int(centre) + 1, 0]
    ds = _dicom(centre, width, "LINEAR" if variant == "window" else "LINEAR_EXACT")
    expected = pixels.apply_windowing(hounsfield.copy(), ds)  # float64 over -32768..32767
    as_float = stretch_contrast(hounsfield.astype(np.float64), window=preset, variant=variant,
                                out_range=(-32768.0, 32767.0))
    np.testing.assert_array_equal(as_float, expected)
    kept_signed = stretch_contrast(hounsfield, window=preset, variant=variant, out_range=(-32768, 32767))
    assert kept_signed.dtype == np.int16
    np.testing.assert_array_equal(kept_signed, np.rint(expected).astype(np.int16))


def _imagej_table_16bit(image, saturated):
    """ContrastEnhancer's getMinAndMax and normalize for a 16-bit image, as plain loops."""
    histogram = np.bincount(image.ravel(), minlength=65536)
    threshold = int(image.size * saturated / 200.0)
    i, count = -1, 0
    while True:
        i += 1
        count += histogram[i]
        if count > threshold or i >= 65535:
            break
    low = i
    i, count = 65536, 0
    while True:
        i -= 1
        count += histogram[i]
        if count > threshold or i <= 0:
            break
    high = i
    table = np.empty(65536, np.int64)
    for level in range(65536):
        table[level] = 0 if level <= low else 65535 if level >= high else int((level - low) / (high - low) * 65535)
    return table


def test_fit_once_apply_to_another_time_point(rng):
    series = rng.gamma(2.0, 400.0, (4, 32, 32)).astype(np.uint16)
    fitted = fit_stretch(series[0], saturated=1.0)
    table = _imagej_table_16bit(series[0], 1.0)  # the first time point's limits ...
    np.testing.assert_array_equal(fitted.apply(series[3]), table[series[3]])  # ... on the last one
    np.testing.assert_array_equal(fitted.apply(series[0]), stretch_contrast(series[0], saturated=1.0))
    with pytest.raises(TypeError, match="8/16-bit"):
        fit_stretch(series.astype(np.float32))


def test_dask_zarr_and_the_gpu_path_give_the_in_memory_result(rng):
    da = pytest.importorskip("dask.array")
    image = rng.gamma(2.0, 400.0, (4, 64, 64)).astype(np.uint16)
    lazy = stretch_contrast(da.from_array(image, chunks=(1, 32, 32)), saturated=0.5, axis=(-2, -1))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), stretch_contrast(image, saturated=0.5, axis=(-2, -1)))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"saturated": 100}, "in \\[0, 100\\)"),
    ({"saturated": -1}, "in \\[0, 100\\)"),
    ({"percentiles": (60, 40)}, "low < high"),
    ({"percentiles": (1, 99, 5)}, "\\(low, high\\)"),
    ({"window": (40, 0)}, "width"),
    ({"window": (40, 0.5)}, "at least 1"),
    ({"window": "spleen"}, "brain"),
    ({"saturated": 1, "percentiles": (1, 99)}, "not saturated and percentiles"),
    ({"percentiles": (1, 99), "variant": "imagej"}, "takes its limits from saturated"),
    ({"variant": "sigmoid"}, "variant must be one of"),
])
def test_bad_input_is_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stretch_contrast(np.arange(16, dtype=np.uint8).reshape(4, 4), **kwargs)


def test_an_empty_roi_is_the_one_error(rng):
    for image in (rng.integers(0, 255, (8, 8)).astype(np.uint8), rng.random((8, 8))):
        with pytest.raises(ValueError, match="the mask selects no pixel"):
            stretch_contrast(image, mask=np.zeros((8, 8), bool))


def test_constant_images_are_left_as_imagej_leaves_them():
    image = np.full((8, 8), 77, np.uint8)
    np.testing.assert_array_equal(stretch_contrast(image), image)
    np.testing.assert_array_equal(stretch_contrast(image.astype(np.float32)), image.astype(np.float32))


def test_the_command_line_stretches_as_the_function_does(tmp_path, rng):
    iio = pytest.importorskip("imageio.v3")
    from napari_histeq._cli import main

    image = rng.gamma(2.0, 10.0, (40, 50)).clip(0, 255).astype(np.uint8)
    iio.imwrite(tmp_path / "scan.png", image)
    assert main(["batch", str(tmp_path / "scan.png"), "-o", str(tmp_path / "out"), "--method", "stretch",
                 "--saturated", "1", "-q"]) == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "scan.png"), stretch_contrast(image, saturated=1))
    assert main(["batch", str(tmp_path / "scan.png"), "-o", str(tmp_path / "ct"), "--method", "stretch",
                 "--variant", "window", "--window", "40,80", "-q"]) == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "ct" / "scan.png"), stretch_contrast(image, window=(40, 80)))


# -- float percentiles in the kernels: NumPy's values, bit for bit --------------------------------------
def _float_image(rng, kind, dtype, shape=(3, 128, 160)):
    """Float images the kernels see (every plane over their 16384-pixel minimum)."""
    image = rng.gamma(2.0, 100.0, shape) * rng.choice([-1.0, 1.0], shape)
    if kind == "ties":
        image = np.round(image / 50.0)
    elif kind == "nonfinite":
        flat = image.reshape(-1)
        flat[rng.integers(0, flat.size, flat.size // 20)] = np.nan
        flat[:7], flat[7:9] = np.inf, -np.inf
    elif kind == "extremes":
        image = image * (np.finfo(dtype).max / 2000.0)
    elif kind == "zeros":
        image[image < 50] = -0.0
    return image.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["gamma", "ties", "nonfinite", "extremes", "zeros"])
@pytest.mark.parametrize("percentiles", [(1, 99), (0, 100), (0.35, 99.65), (50, 50.001)])
def test_float_percentiles_in_the_kernels_are_monais_formula(rng, dtype, kind, percentiles):
    from napari_histeq._engine import accel

    image = _float_image(rng, kind, dtype)
    result = stretch_contrast(image, percentiles=percentiles, axis=(-2, -1))
    if accel.cpu_kernels() is not None:
        assert accel.last_route("select").path == "numba"
    for plane, got in zip(image, result):
        counted = plane[np.isfinite(plane)]  # the limits are those of the finite pixels
        a_min, a_max = np.percentile(counted, percentiles[0]), np.percentile(counted, percentiles[1])
        with np.errstate(all="ignore"):
            if a_max == a_min:  # MONAI's flat case: shifted, not divided
                shares = plane.astype(np.float64) - a_min
            else:
                shares = (plane.astype(np.float64) - a_min) / (a_max - a_min)
        np.testing.assert_array_equal(got, np.clip(shares, 0.0, 1.0).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_percentiles_in_the_kernels_with_a_mask_out_range_and_unclipped(rng, dtype):
    image = _float_image(rng, "nonfinite", dtype, (200, 300))
    mask = rng.random(image.shape) < 0.4
    result = stretch_contrast(image, percentiles=(5, 95), mask=mask, clip=False, out_range=(-1.0, 3.0))
    counted = image[mask & np.isfinite(image)]
    a_min, a_max = np.percentile(counted, 5), np.percentile(counted, 95)
    with np.errstate(all="ignore"):
        expected = (-1.0 + (image.astype(np.float64) - a_min) / (a_max - a_min) * 4.0).astype(dtype)
    np.testing.assert_array_equal(result, expected)
    with pytest.raises(ValueError, match="selects no pixel"):
        stretch_contrast(image, percentiles=(5, 95), mask=np.zeros(image.shape, bool))


def test_the_kernels_and_the_reference_agree(rng, monkeypatch):
    image = _float_image(rng, "nonfinite", np.float32)
    fast = stretch_contrast(image, percentiles=(2, 98), out_range="image")
    monkeypatch.setenv("NAPARI_HISTEQ_JIT", "0")
    np.testing.assert_array_equal(fast, stretch_contrast(image, percentiles=(2, 98), out_range="image"))



# -- dask and zarr floats: limits from passes over the chunks, then a lazy map --------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("how", [dict(percentiles=(1, 99)), dict(percentiles=(0, 100), clip=False),
                                 dict(saturated=0.35), dict(saturated=5.0), dict(window="brain"),
                                 dict(window=(40, 0.5), variant="window-exact")])
@pytest.mark.parametrize("axis", [None, (-2, -1)])
def test_chunked_floats_are_stretched_lazily_as_in_memory(rng, dtype, how, axis):
    da = pytest.importorskip("dask.array")
    image = _float_image(rng, "nonfinite" if np.dtype(dtype).kind == "f" else "gamma", np.float64, (3, 60, 70))
    image = np.nan_to_num(image, nan=7.0, posinf=900.0, neginf=-900.0).astype(dtype) if dtype == np.int32 \
        else image.astype(dtype)
    chunked = da.from_array(image, chunks=(2, 25, 30))
    result = stretch_contrast(chunked, axis=axis, **how)
    assert isinstance(result, da.Array) and result.chunks == chunked.chunks
    np.testing.assert_array_equal(result.compute(), stretch_contrast(image, axis=axis, **how))


def test_chunked_float_percentiles_are_numpys(rng):
    da = pytest.importorskip("dask.array")
    image = _float_image(rng, "ties", np.float32, (4, 50, 60))
    mask = rng.random(image.shape[1:]) < 0.5
    result = stretch_contrast(da.from_array(image, chunks=(1, 20, 20)), percentiles=(2, 98), mask=mask,
                              out_range="image").compute()
    counted = image[np.broadcast_to(mask, image.shape)]
    a_min, a_max = np.percentile(counted, 2), np.percentile(counted, 98)
    shares = np.clip((image.astype(np.float64) - a_min) / (a_max - a_min), 0.0, 1.0)
    lo, hi = counted.min(), counted.max()
    np.testing.assert_array_equal(result, (lo + shares * (float(hi) - float(lo))).astype(np.float32))
    with pytest.raises(ValueError, match="selects no pixel"):
        stretch_contrast(da.from_array(image), percentiles=(2, 98), mask=np.zeros(image.shape, bool))


# -- stretch_limits: where the stretch starts and ends, nothing mapped ---------------------------------------------
@pytest.mark.parametrize("key", [k for k in CASES if k.startswith(("u8_", "u16_")) and "saturated=" in k])
def test_limits_are_where_imagejs_own_output_reaches_its_ends(key):
    """ImageJ's real output maps every pixel at or below the low limit to 0, every one at or above the high
    limit to the top, and those between to neither end (where the limits do not meet).
    """
    from napari_histeq import stretch_limits

    name, what = key.split("/")
    image, expected = REFERENCE[f"{name}/input"], REFERENCE[key]
    low, high = stretch_limits(image, saturated=float(what.split("=")[1]))
    top = np.iinfo(image.dtype).max
    if (expected == image).all() and low == image.min() and high == image.max():
        return  # ImageJ left it as it was: the limits are the image's own range
    assert (expected[image <= low] == 0).all() and (expected[image >= high] == top).all()
    between = (image > low) & (image < high)
    assert ((expected[between] > 0) & (expected[between] < top)).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_percentile_limits_are_numpys(rng, dtype):
    from napari_histeq import stretch_limits

    image = (rng.gamma(2.0, 40.0, (5, 40, 50)) - (30 if np.dtype(dtype).kind != "u" else 0)).astype(dtype)
    mask = rng.random(image.shape[1:]) < 0.5
    low, high = stretch_limits(image, percentiles=(2, 98))
    assert (low, high) == (np.percentile(image, 2), np.percentile(image, 98))
    planes = stretch_limits(image, percentiles=(2, 98), axis=(-2, -1), mask=mask)
    assert planes.shape == (5, 2)
    for plane, (low, high) in zip(image, planes):
        assert (low, high) == (np.percentile(plane[mask], 2), np.percentile(plane[mask], 98))


def test_window_limits_are_dicoms_ends():
    from napari_histeq import stretch_limits

    pydicom_pixels = pytest.importorskip("pydicom.pixels")
    hounsfield = np.arange(-200, 300, dtype=np.float64)
    for window in [(40, 80), (-600, 1500), (50, 351)]:
        low, high = stretch_limits(hounsfield.astype(np.int16), window=window)
        voi = pydicom_pixels.apply_windowing(hounsfield, _ds(window))
        # pydicom's output is at its bottom up to the low limit and at its top past the high one
        assert voi[hounsfield <= low].max(initial=0) == 0 and voi[hounsfield > high].min(initial=255) == 255
        assert (voi[(hounsfield > low) & (hounsfield <= high)] > 0).all()


def _ds(window):
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", 8, 0
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = window[0], window[1], "LINEAR"
    return ds


@pytest.mark.parametrize("how", [dict(percentiles=(1, 99)), dict(saturated=0.35), dict(saturated=0.0)])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_limits_of_chunked_images_are_those_in_memory(rng, dtype, how):
    da = pytest.importorskip("dask.array")
    from napari_histeq import stretch_limits

    image = rng.gamma(2.0, 300.0, (3, 60, 70)).astype(dtype)
    chunked = da.from_array(image, chunks=(2, 25, 30))
    assert stretch_limits(chunked, **how) == stretch_limits(image, **how)
    planes = stretch_limits(chunked, axis=(1, 2), **how)
    np.testing.assert_array_equal(planes, stretch_limits(image, axis=(1, 2), **how))
