"""OpenCV's CLAHE, the reference of adaptive equalisation's opencv variant: bit for bit against cv2."""

import numpy as np
import pytest

from napari_histeq._clahe import clahe_opencv

cv2 = pytest.importorskip("cv2")
data = pytest.importorskip("skimage.data")


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


@pytest.mark.parametrize("clip_limit, tile_grid", [(40.0, (8, 8)), (2.0, (8, 8)), (4.0, (3, 5)), (0.0, (8, 8)),
                                                   (1.0, (1, 1)), (3.0, (16, 2))])
@pytest.mark.parametrize("name", list(images()))
def test_bit_exact_with_opencv(name, clip_limit, tile_grid):
    image = images()[name]
    if min(image.shape) < max(tile_grid):
        pytest.skip("more tiles than pixels along an axis")
    kept = image.copy()
    np.testing.assert_array_equal(clahe_opencv(image, clip_limit=clip_limit, tile_grid=tile_grid),
                                  opencv(image, clip_limit, tile_grid))
    np.testing.assert_array_equal(image, kept)


def test_bad_parameters_are_clear_errors():
    image = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match="tile_grid"):
        clahe_opencv(image, tile_grid=(0, 8))
    with pytest.raises(ValueError, match="clip_limit"):
        clahe_opencv(image, clip_limit=-1)
    with pytest.raises(TypeError, match="2D uint8 or uint16"):
        clahe_opencv(np.zeros((4, 16, 16), np.uint8))
    with pytest.raises(TypeError, match="2D uint8 or uint16"):
        clahe_opencv(image.astype(np.float32))
