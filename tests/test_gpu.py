"""CuPy backend: bit-exact parity with the NumPy backend.

Runs with numpy + cupy + pytest alone (``PYTHONPATH=. python -m pytest -m gpu tests``);
every test is skipped, with the reason, where no CUDA device answers.
"""

import numpy as np
import pytest

from napari_histeq import equalize, fit_equalization, histogram
from napari_histeq._engine import placement as _placement

pytestmark = pytest.mark.gpu

DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
          np.float16, np.float32, np.float64]
VARIANTS = ["standard", "opencv", "imagej", "imagej-classic"]
AXES = [None, (-2, -1), 0]


def dark_stack(dtype, shape=(4, 33, 47), seed=7):
    """A dark stack in ``dtype``: most pixels low, a few bright, ties everywhere."""
    rng = np.random.default_rng(seed)
    values = rng.gamma(1.5, 8.0, shape)
    if np.dtype(dtype).kind == "f":
        values = values / 100
        values.flat[::97] = np.nan
        values.flat[5] = np.inf
        return values.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(values + max(info.min, -20), info.min, info.max).astype(dtype)


@pytest.mark.parametrize("masked", [False, True], ids=["all", "mask"])
@pytest.mark.parametrize("axis", AXES, ids=["pooled", "planes", "axis0"])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_parity_with_numpy(cupy, dtype, variant, axis, masked):
    image = dark_stack(dtype)
    mask = None
    if masked and axis == 0:  # a histogram per pixel through the planes: each keeps some planes
        mask = np.ones(image.shape, bool)
        mask[2:, 5:25, 10:40] = False
    elif masked:
        mask = np.zeros(image.shape[-2:], bool)
        mask[5:25, 10:40] = True
    expected = equalize(image, variant=variant, axis=axis, mask=mask, backend="numpy")
    from_host = equalize(image, variant=variant, axis=axis, mask=mask, backend="cupy")
    assert type(from_host) is np.ndarray
    np.testing.assert_array_equal(from_host, expected)
    on_device = equalize(cupy.asarray(image), variant=variant, axis=axis,
                         mask=None if mask is None else cupy.asarray(mask))
    assert isinstance(on_device, cupy.ndarray)
    np.testing.assert_array_equal(on_device.get(), expected)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_histogram_parity(cupy, dtype):
    image = dark_stack(dtype)
    expected_counts, expected_edges = histogram(image, axis=(-2, -1), backend="numpy")
    counts, edges = histogram(cupy.asarray(image), axis=(-2, -1))
    np.testing.assert_array_equal(counts.get(), expected_counts)
    np.testing.assert_array_equal(edges.get(), expected_edges)


def test_blocks_when_the_image_does_not_fit(cupy, monkeypatch):
    image = dark_stack(np.uint16, shape=(6, 200, 300))
    expected = equalize(image, axis=(-2, -1), backend="numpy")
    # Pretend the GPU has 1 MiB free: the image stays on the host and travels in blocks.
    monkeypatch.setattr(_placement, "free_device_bytes", lambda xp: 1 << 20)
    out = equalize(image, axis=(-2, -1), backend="cupy")
    np.testing.assert_array_equal(out, expected)


def test_fit_on_gpu_apply_on_cpu(cupy):
    image = dark_stack(np.uint8)
    fitted = fit_equalization(cupy.asarray(image), variant="imagej")
    assert isinstance(fitted.lut, np.ndarray)
    np.testing.assert_array_equal(fitted.apply(image, backend="numpy"),
                                  equalize(image, variant="imagej", backend="numpy"))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32], ids=lambda d: np.dtype(d).name)
def test_dask_with_cupy_chunks(cupy, dtype):
    da = pytest.importorskip("dask.array", reason="dask is not installed (carry its wheel to the device)")
    image = dark_stack(dtype)
    lazy = da.from_array(cupy.asarray(image), chunks=(1, 33, 47), asarray=False)
    out = equalize(lazy, axis=(-2, -1))  # chunks counted on the GPU, partial counts summed there
    assert isinstance(out._meta, cupy.ndarray)
    result = out.compute()
    assert isinstance(result, cupy.ndarray)
    np.testing.assert_array_equal(result.get(), equalize(image, axis=(-2, -1), backend="numpy"))


def test_out_on_the_device(cupy):
    image = dark_stack(np.uint16)
    expected = equalize(image, axis=(-2, -1), backend="numpy")
    on_device = cupy.asarray(image)
    out = cupy.empty_like(on_device)
    assert equalize(on_device, axis=(-2, -1), out=out) is out
    np.testing.assert_array_equal(out.get(), expected)
    assert equalize(on_device, axis=(-2, -1), out=on_device) is on_device  # in place
    np.testing.assert_array_equal(on_device.get(), expected)
    host_out = np.empty_like(image)
    assert equalize(image, axis=(-2, -1), backend="cupy", out=host_out) is host_out  # computed on the GPU
    np.testing.assert_array_equal(host_out, expected)
    with pytest.raises(TypeError, match="CuPy array"):
        equalize(on_device, out=host_out)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("axis", [None, (-2, -1)], ids=["pooled", "planes"])
def test_match_histograms_parity(cupy, dtype, axis):
    from napari_histeq import match_histograms

    image, reference = dark_stack(dtype), dark_stack(dtype, shape=(1, 20, 30), seed=3)
    if np.dtype(dtype).kind == "f":
        image, reference = np.nan_to_num(image, posinf=1.0), np.nan_to_num(reference, posinf=1.0)
    expected = match_histograms(image, reference, axis=axis, backend="numpy")
    np.testing.assert_array_equal(match_histograms(image, reference, axis=axis, backend="cupy"), expected)
    on_device = match_histograms(cupy.asarray(image), cupy.asarray(reference), axis=axis)
    assert isinstance(on_device, cupy.ndarray)
    np.testing.assert_array_equal(on_device.get(), expected)


@pytest.mark.parametrize("method", ["histogram", "ratio", "exponential"])
def test_correct_bleaching_parity(cupy, method):
    from napari_histeq import bleaching_series, correct_bleaching

    if method == "exponential":
        pytest.importorskip("scipy", reason="scipy is not installed (carry its wheel to the device)")
    series = bleaching_series((8, 48, 40))
    expected = correct_bleaching(series, method=method, backend="numpy")
    on_device = correct_bleaching(cupy.asarray(series), method=method)
    assert isinstance(on_device, cupy.ndarray)
    np.testing.assert_array_equal(on_device.get(), expected)


def test_more_than_2_31_pixels_on_the_device(cupy):
    # 64-bit indexing on the GPU: 2**31 + 2**16 uint8 pixels, counted and mapped on the device
    from oracles import textbook_table_from_counts, two_gigapixel_image

    image, rows, counts = two_gigapixel_image()
    table = textbook_table_from_counts(counts, 255)
    lut = np.array([table[level] for level in range(256)], np.uint8)
    on_device = cupy.asarray(image)
    del image
    observed, _ = histogram(on_device)
    np.testing.assert_array_equal(observed.get(), [counts[level] for level in range(256)])
    out = equalize(on_device)
    del on_device
    assert isinstance(out, cupy.ndarray)
    for k in range(16):
        assert bool((out[k::16] == cupy.asarray(lut[rows[k]])).all()), f"rows {k}, {k + 16}, ... were mapped wrongly"


@pytest.mark.parametrize("how", [dict(saturated=0.35), dict(percentiles=(1, 99)), dict(window=(20, 30))],
                         ids=["imagej", "percentile", "window"])
@pytest.mark.parametrize("axis", [None, (-2, -1)], ids=["pooled", "planes"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32], ids=lambda d: np.dtype(d).name)
def test_stretch_contrast_parity(cupy, dtype, axis, how):
    from napari_histeq import stretch_contrast

    image = dark_stack(dtype)
    expected = stretch_contrast(image, axis=axis, backend="numpy", **how)
    on_device = stretch_contrast(cupy.asarray(image), axis=axis, **how)
    assert isinstance(on_device, cupy.ndarray)
    np.testing.assert_array_equal(on_device.get(), expected)
