"""Adaptive equalisation against its two peers: OpenCV bit for bit, scikit-image to the bit on floats.

The oracles are the peers themselves (``cv2.createCLAHE``,
``skimage.exposure.equalize_adapthist``); the numba kernels are checked
against the array reference, the reference against the peers.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_histeq import _kernels, equalize_adapthist
from napari_histeq._engine import accel as _accel
from napari_histeq._engine import backend as _backend

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")
exposure = pytest.importorskip("skimage.exposure")


def opencv(image, clip_limit, tile_grid):
    return cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tile_grid[1], tile_grid[0])).apply(image)


def images():
    rng = np.random.default_rng(0)
    return {
        "camera": data.camera(),
        "moon": data.moon(),
        "random 97x131": rng.integers(0, 256, (97, 131)).astype(np.uint8),
        "dark 300x211": rng.gamma(2.0, 10.0, (300, 211)).clip(0, 255).astype(np.uint8),
        "constant": np.full((64, 64), 7, np.uint8),
        "tiny 9x5": rng.integers(0, 256, (9, 5)).astype(np.uint8),
        "uint16 97x131": rng.integers(0, 4000, (97, 131)).astype(np.uint16),
        "uint16 dark 256": rng.gamma(2.0, 300.0, (256, 256)).astype(np.uint16),
    }


@pytest.fixture(params=["numba", "reference"])
def path(request, monkeypatch):
    """Run the test through the numba kernels and through the array reference (on the CPU)."""
    monkeypatch.setenv(_backend.ENV_VAR, "numpy")
    if request.param == "reference":
        monkeypatch.setenv(_kernels.ENV_VAR, "0")
    elif _kernels.clahe_kernels() is None:
        pytest.skip("numba kernels unavailable or off (NAPARI_HISTEQ_JIT)")
    return request.param


OPENCV_SETTINGS = [(40.0, (8, 8)), (2.0, (8, 8)), (4.0, (3, 5)), (0.0, (8, 8)), (1.0, (1, 1)), (3.0, (16, 2))]


@pytest.mark.parametrize("name, clip_limit, tile_grid", [
    (name, clip, grid) for name, image in images().items() for clip, grid in OPENCV_SETTINGS
    if all(size >= tiles for size, tiles in zip(image.shape, grid))])  # no more tiles than pixels
def test_opencv_variant_is_opencv_bit_for_bit(name, clip_limit, tile_grid, path):
    image = images()[name]
    kept = image.copy()
    result = equalize_adapthist(image, variant="opencv", clip_limit=clip_limit, tile_grid=tile_grid)
    np.testing.assert_array_equal(result, opencv(image, clip_limit, tile_grid))
    assert _accel.last_route("apply").path == path
    np.testing.assert_array_equal(image, kept)


def skimage_cases():
    rng = np.random.default_rng(1)
    camera = data.camera()
    return {
        "camera": (camera / 255.0, {}),
        "camera kernel 50": (camera / 255.0, {"kernel_size": 50}),
        "moon kernel (13, 40) nbins 100": (data.moon() / 255.0, {"kernel_size": (13, 40), "nbins": 100}),
        "odd 97x131 clip 0.05": (rng.random((97, 131)), {"clip_limit": 0.05}),
        "no clipping": (rng.random((60, 70)) ** 3, {"clip_limit": 0}),
        "clip 1": (rng.random((60, 70)), {"clip_limit": 1.0, "nbins": 64}),
        "many bins": (rng.random((64, 64)), {"nbins": 20000}),
        "kernel 1": (rng.random((20, 30)), {"kernel_size": 1}),
        "kernel = image": (rng.random((20, 30)), {"kernel_size": (20, 30)}),
        "volume": (rng.random((20, 40, 50)), {}),
        "volume kernel (3, 7, 9)": (rng.random((12, 33, 41)) ** 2, {"kernel_size": (3, 7, 9)}),
        "1D": (rng.random(300), {}),
        "4D": (rng.random((6, 7, 8, 9)), {"kernel_size": 3}),
        "dark": (rng.gamma(1.0, 0.02, (128, 128)).clip(0, 1), {"clip_limit": 0.02}),
    }


@pytest.mark.parametrize("name", list(skimage_cases()))
def test_skimage_variant_float64_is_skimage_to_the_bit(name, path):
    image, options = skimage_cases()[name]
    expected = exposure.equalize_adapthist(image, **options)
    result = equalize_adapthist(image, **options)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)  # within 1e-9 was asked: it is exact


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int8, np.int16, np.float32])
def test_skimage_variant_other_dtypes(dtype, path):
    rng = np.random.default_rng(2)
    if np.dtype(dtype).kind == "f":
        image = rng.random((70, 90)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        image = rng.integers(max(info.min, -500), min(info.max, 3000), (70, 90), endpoint=True).astype(dtype)
    expected = exposure.equalize_adapthist(image, kernel_size=(9, 13))
    result = equalize_adapthist(image, kernel_size=(9, 13))
    assert result.dtype == (np.float32 if dtype == np.float32 else dtype)
    if result.dtype.kind == "f":
        np.testing.assert_array_equal(result, expected)  # scikit-image's float32 arithmetic, kept
    else:  # scikit-image's value in the dtype's range, rounded: the nearest level
        lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
        np.testing.assert_array_equal(result, lo + np.rint(expected * (hi - lo)))


def test_camera_and_moon_as_uint8_are_within_one_level():
    for image in (data.camera(), data.moon()):
        expected = exposure.equalize_adapthist(image) * 255
        assert np.abs(equalize_adapthist(image).astype(float) - expected).max() <= 0.5


def test_each_plane_alone_with_axis(path):
    stack = np.random.default_rng(3).random((4, 50, 60))
    result = equalize_adapthist(stack, axis=(-2, -1), kernel_size=(10, 12))
    for plane, expected in zip(result, stack):
        np.testing.assert_array_equal(plane, exposure.equalize_adapthist(expected, kernel_size=(10, 12)))
    moved = equalize_adapthist(np.moveaxis(stack, 0, -1), axis=(0, 1), kernel_size=(10, 12))
    np.testing.assert_array_equal(np.moveaxis(moved, -1, 0), result)
    planes = np.random.default_rng(4).integers(0, 256, (3, 64, 48)).astype(np.uint8)
    np.testing.assert_array_equal(equalize_adapthist(planes, variant="opencv", axis=(-2, -1), clip_limit=3),
                                  np.stack([opencv(p, 3.0, (8, 8)) for p in planes]))


@settings(max_examples=40, deadline=None)
@given(shape=st.tuples(st.integers(8, 70), st.integers(8, 70)), depth=st.sampled_from([None, 3, 9]),
       kernel=st.integers(1, 8), clip=st.sampled_from([0.0, 0.01, 0.1, 1.0]),
       nbins=st.sampled_from([2, 16, 256, 1000]), dark=st.booleans(), masked=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_numba_kernels_are_the_reference_bit_for_bit(shape, depth, kernel, clip, nbins, dark, masked, seed):
    if _kernels.clahe_kernels() is None:
        pytest.skip("numba kernels unavailable or off (NAPARI_HISTEQ_JIT)")
    rng = np.random.default_rng(seed)
    shape = shape if depth is None else (depth,) + shape
    image = (rng.gamma(1.0, 6.0, shape) if dark else rng.random(shape) * 255).clip(0, 255).astype(np.uint8)
    mask = rng.random(shape[-2:]) < 0.7 if masked else None  # a plane's mask: broadcast over a volume
    if mask is not None:
        mask.flat[0] = True
    options = {"kernel_size": tuple(min(kernel, s) for s in shape), "clip_limit": clip, "nbins": nbins,
               "mask": mask}
    fast = equalize_adapthist(image, **options, backend="numpy")  # the CPU's two paths, whatever the default
    assert _accel.last_route("apply").path == "numba"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(_kernels.ENV_VAR, "0")
        np.testing.assert_array_equal(equalize_adapthist(image, **options), fast)
    if depth is None and mask is None:
        grid = (max(1, shape[0] // kernel), max(1, shape[1] // kernel))
        np.testing.assert_array_equal(equalize_adapthist(image, variant="opencv", tile_grid=grid, clip_limit=clip * 40),
                                      opencv(image, clip * 40, grid))


@settings(max_examples=30, deadline=None)
@given(shape=st.tuples(st.integers(4, 40), st.integers(4, 40)), kernel=st.integers(1, 12),
       clip=st.floats(0, 1), nbins=st.integers(2, 400), seed=st.integers(0, 2**32 - 1))
def test_any_float64_image_is_skimage(shape, kernel, clip, nbins, seed):
    image = np.random.default_rng(seed).random(shape) ** 2
    kernel = tuple(min(kernel, s) for s in shape)
    np.testing.assert_array_equal(equalize_adapthist(image, kernel_size=kernel, clip_limit=clip, nbins=nbins),
                                  exposure.equalize_adapthist(image, kernel_size=kernel, clip_limit=clip, nbins=nbins))


def test_mask_counts_only_its_pixels_and_maps_every_pixel(path):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (80, 96)).astype(np.uint8)
    mask = np.zeros(image.shape, bool)
    mask[10:60, 20:90] = True
    result = equalize_adapthist(image, mask=mask)
    changed = image.copy()
    changed[~mask] = rng.integers(0, 256, int((~mask).sum()))
    np.testing.assert_array_equal(equalize_adapthist(changed, mask=mask)[mask], result[mask])
    np.testing.assert_array_equal(equalize_adapthist(image, mask=np.ones(image.shape, bool)),
                                  equalize_adapthist(image))
    cv = equalize_adapthist(image, variant="opencv", mask=mask)
    np.testing.assert_array_equal(equalize_adapthist(changed, variant="opencv", mask=mask)[mask], cv[mask])
    with pytest.raises(ValueError, match="no pixel"):
        equalize_adapthist(image, mask=np.zeros(image.shape, bool))


def test_nan_and_inf_follow_the_global_rules():
    image = np.random.default_rng(6).random((50, 60))
    image[3, 4], image[10, 10], image[20, 30] = np.nan, np.inf, -np.inf
    result = equalize_adapthist(image)
    assert np.isnan(result[3, 4]) and result[10, 10] == 1.0 and result[20, 30] == 0.0
    assert np.isnan(result).sum() == 1
    np.testing.assert_array_equal(result[np.isfinite(image)],
                                  equalize_adapthist(image, mask=np.isfinite(image))[np.isfinite(image)])


def test_out_range_out_and_input_kept():
    image = data.camera()
    kept = image.copy()
    full = equalize_adapthist(image)
    narrow = equalize_adapthist(image, out_range=(10, 20))
    assert narrow.min() == 10 and narrow.max() == 20
    own = equalize_adapthist(image.astype(np.float64) * 3, out_range="image")
    assert own.min() == 3.0 * image.min() and own.max() == 3.0 * image.max()
    out = np.empty_like(image)
    assert equalize_adapthist(image, out=out) is out
    np.testing.assert_array_equal(out, full)
    np.testing.assert_array_equal(image, kept)
    floats = image.astype(np.float64) * 1000.0  # outside [-1, 1]: its own range, where scikit-image refuses
    np.testing.assert_array_equal(equalize_adapthist(floats), exposure.equalize_adapthist(image / 255.0))


def test_masked_arrays_and_lists():
    image = np.ma.MaskedArray(data.camera(), mask=np.zeros((512, 512), bool))
    assert isinstance(equalize_adapthist(image), np.ma.MaskedArray)
    assert equalize_adapthist([[0, 1], [2, 3]], kernel_size=1).shape == (2, 2)


@pytest.mark.parametrize("options, error, match", [
    ({"variant": "fiji"}, ValueError, "variant"),
    ({"kernel_size": 600}, ValueError, "kernel_size"),
    ({"kernel_size": (8, 8, 8)}, ValueError, "kernel_size"),
    ({"kernel_size": 0}, ValueError, "kernel_size"),
    ({"clip_limit": 1.5}, ValueError, "clip_limit"),
    ({"clip_limit": -0.1}, ValueError, "clip_limit"),
    ({"clip_limit": float("nan")}, ValueError, "clip_limit"),
    ({"nbins": 1}, ValueError, "nbins"),
    ({"tile_grid": (0, 8)}, ValueError, "tile_grid"),
    ({"kernel_size": 8, "tile_grid": (8, 8)}, ValueError, "not both"),
    ({"variant": "opencv", "tile_grid": (0, 8)}, ValueError, "tile_grid"),
    ({"variant": "opencv", "clip_limit": -1}, ValueError, "clip_limit"),
    ({"variant": "opencv", "kernel_size": 8}, ValueError, "kernel_size"),
    ({"variant": "opencv", "nbins": 128}, ValueError, "nbins"),
    ({"variant": "opencv", "out_range": "image"}, ValueError, "out_range"),
])
def test_bad_parameters_are_clear_errors(options, error, match):
    with pytest.raises(error, match=match):
        equalize_adapthist(data.camera(), **options)


def test_opencv_variant_refuses_what_opencv_refuses():
    with pytest.raises(TypeError, match="uint8 and uint16"):
        equalize_adapthist(np.zeros((16, 16), np.float32), variant="opencv")
    with pytest.raises(ValueError, match="2D planes"):
        equalize_adapthist(np.zeros((4, 16, 16), np.uint8), variant="opencv")
    with pytest.raises(TypeError):
        equalize_adapthist(np.zeros((16, 16), bool))


@pytest.mark.gpu
@pytest.mark.parametrize("variant", ["skimage", "opencv"])
def test_cupy_is_numpy_bit_for_bit(cupy, variant):
    for image in (data.camera(), (data.moon().astype(np.uint16) * 200)):
        expected = equalize_adapthist(image, variant=variant, backend="numpy")
        on_device = equalize_adapthist(cupy.asarray(image), variant=variant)
        assert isinstance(on_device, cupy.ndarray)
        np.testing.assert_array_equal(on_device.get(), expected)
        np.testing.assert_array_equal(equalize_adapthist(image, variant=variant, backend="cupy"), expected)


@pytest.mark.gpu
def test_cupy_volume_is_skimage(cupy):
    volume = np.random.default_rng(7).random((16, 48, 40))
    result = equalize_adapthist(cupy.asarray(volume))
    np.testing.assert_array_equal(result.get(), exposure.equalize_adapthist(volume))


def test_colour_is_equalised_on_its_brightness_as_skimage_does():
    astronaut = data.astronaut()
    as_float = astronaut / 255.0
    expected = exposure.equalize_adapthist(as_float, clip_limit=0.02)
    result = equalize_adapthist(as_float, clip_limit=0.02)
    assert result.shape == expected.shape and result.dtype == np.float64
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)  # hue kept: channels scaled alike
    as_uint8 = equalize_adapthist(astronaut, clip_limit=0.02)
    skimage_uint8 = exposure.equalize_adapthist(astronaut, clip_limit=0.02) * 255
    assert as_uint8.dtype == np.uint8 and np.abs(as_uint8 - skimage_uint8).max() <= 0.5 + 1e-9
    rgba = np.dstack([as_float, np.full(as_float.shape[:2], 0.5)])
    with_alpha = equalize_adapthist(rgba, clip_limit=0.02)
    np.testing.assert_array_equal(with_alpha[..., 3], 0.5)  # alpha kept (scikit-image drops it)
    np.testing.assert_allclose(with_alpha[..., :3], expected, rtol=0, atol=1e-12)
    volume = equalize_adapthist(as_float, axis=(0, 1, 2), kernel_size=(64, 64, 3))  # a volume of 3 planes
    planes_first = exposure.equalize_adapthist(as_float.transpose(2, 0, 1), kernel_size=(3, 64, 64))
    # the same volume with its axes in another order: equal but for the float32 sums' order (a 14-bit level)
    assert np.abs(volume - planes_first.transpose(1, 2, 0)).max() <= 1.01 / 16383


def test_float16_is_taken_as_float32():
    # scikit-image gives float32 too, but multiplies float16 by 65535 in float16 (inf): every pixel 1.0
    image = (np.random.default_rng(9).random((60, 70)) ** 2).astype(np.float16)
    result = equalize_adapthist(image)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, exposure.equalize_adapthist(image.astype(np.float32)))


@pytest.mark.parametrize("variant", ["skimage", "opencv"])
def test_big_endian_transposed_and_read_only_inputs(variant, path):
    image = np.random.default_rng(10).integers(0, 4000, (40, 50)).astype(np.uint16)
    expected = equalize_adapthist(image, variant=variant)
    np.testing.assert_array_equal(equalize_adapthist(image.astype(">u2"), variant=variant), expected)
    np.testing.assert_array_equal(equalize_adapthist(np.ascontiguousarray(image.T).T, variant=variant), expected)
    read_only = image.copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(equalize_adapthist(read_only, variant=variant), expected)
    transposed = equalize_adapthist(image.T, variant=variant)  # a strided view: its own image
    np.testing.assert_array_equal(transposed, equalize_adapthist(np.ascontiguousarray(image.T), variant=variant))


def test_tiny_and_constant_images():
    assert equalize_adapthist(np.array([[7]], np.uint8)).tolist() == [[255]]  # scikit-image: 1.0
    assert exposure.equalize_adapthist(np.array([[7]], np.uint8)).tolist() == [[1.0]]
    constant = np.full((8, 8), 2, np.uint16)
    result = equalize_adapthist(constant, kernel_size=3)
    assert result.min() == result.max()  # scikit-image's own test of a constant image
    np.testing.assert_array_equal(equalize_adapthist(constant, variant="opencv", tile_grid=(2, 2)),
                                  opencv(constant, 40.0, (2, 2)))
