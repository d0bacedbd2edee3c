"""variant="opencv": bit-exact with cv2.equalizeHist on uint8."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from napari_histeq import dark_xray, equalize, equalize_adapthist

cv2 = pytest.importorskip("cv2")


def test_dark_sample():
    image = dark_xray()
    np.testing.assert_array_equal(equalize(image, variant="opencv"), cv2.equalizeHist(image))


@pytest.mark.parametrize("value", [0, 1, 77, 255])
def test_constant_image_keeps_its_value(value):
    image = np.full((5, 7), value, dtype=np.uint8)
    np.testing.assert_array_equal(equalize(image, variant="opencv"), cv2.equalizeHist(image))


def test_two_levels_and_extremes():
    image = np.array([[0, 255] * 8, [255, 255] * 8], dtype=np.uint8)
    np.testing.assert_array_equal(equalize(image, variant="opencv"), cv2.equalizeHist(image))


def test_large_image_where_float32_rounding_matters(rng):
    # Past 2**24 pixels the cumulative counts no longer fit float32 exactly.
    image = rng.integers(0, 256, (4200, 4200), dtype=np.uint8)
    np.testing.assert_array_equal(equalize(image, variant="opencv"), cv2.equalizeHist(image))


@settings(max_examples=80, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40)),
           elements=st.integers(0, 255) | st.sampled_from([0, 1, 2, 128, 254, 255]))
)
def test_random_images(image):
    np.testing.assert_array_equal(equalize(image, variant="opencv"), cv2.equalizeHist(image))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("shape", [(1, 1), (4, 5), (7, 7), (3, 16), (9, 2)])
@pytest.mark.parametrize("grid", [(8, 8), (3, 5), (16, 2), (20, 20)])
def test_clahe_grids_larger_than_the_image_as_opencv_pads_them(dtype, shape, grid):
    # The default 8x8 grid on an image under 8 px was refused; OpenCV pads the image by reflection.
    image = np.random.default_rng(sum(shape) + grid[0]).integers(0, np.iinfo(dtype).max, shape, endpoint=True)
    image = image.astype(dtype)
    for clip in (0.0, 2.0):
        expected = cv2.createCLAHE(clip, grid[::-1]).apply(image)  # OpenCV's grid is (width, height)
        np.testing.assert_array_equal(equalize_adapthist(image, variant="opencv", clip_limit=clip, tile_grid=grid),
                                      expected)
