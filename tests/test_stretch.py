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
