"""mask=: the histogram counts the masked pixels; every pixel is mapped."""

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import equalize, fit_equalization


def test_mask_matches_the_textbook_loop(rng):
    image = rng.integers(0, 200, (20, 30)).astype(np.uint8)
    mask = np.zeros(image.shape, dtype=bool)
    mask[5:15, 10:20] = True
    out = equalize(image, mask=mask)
    np.testing.assert_array_equal(out, textbook_equalize(image, mask=mask))
    # every pixel is mapped, the unmasked ones too
    assert not np.array_equal(out[~mask], image[~mask])


def test_unmasked_pixels_do_not_change_the_table(rng):
    image = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    mask = rng.random(image.shape) < 0.3
    other = image.copy()
    other[~mask] = 0
    np.testing.assert_array_equal(
        fit_equalization(image, mask=mask).lut, fit_equalization(other, mask=mask).lut
    )


def test_a_2d_mask_applies_to_every_plane_of_a_stack(rng):
    stack = rng.integers(0, 4096, (3, 10, 12)).astype(np.uint16)
    roi = np.zeros((10, 12), dtype=bool)
    roi[2:7, 3:9] = True
    out = equalize(stack, mask=roi)
    np.testing.assert_array_equal(out, textbook_equalize(stack, mask=np.broadcast_to(roi, stack.shape)))


def test_integer_labels_select_their_non_zero_pixels(rng):
    image = rng.integers(0, 256, (10, 10)).astype(np.uint8)
    labels = np.zeros((10, 10), dtype=np.int32)
    labels[:5] = 3
    np.testing.assert_array_equal(equalize(image, mask=labels), equalize(image, mask=labels > 0))


def test_mask_selecting_nothing_is_an_error():
    with pytest.raises(ValueError, match="mask selects no pixel"):
        equalize(np.arange(9, dtype=np.uint8).reshape(3, 3), mask=np.zeros((3, 3), bool))


def test_mask_shape_must_match():
    with pytest.raises(ValueError, match="mask shape"):
        equalize(np.zeros((3, 4), np.uint8), mask=np.ones((4, 3), bool))


def test_mask_dtype_must_be_boolean_or_integer():
    with pytest.raises(TypeError, match="mask must be boolean"):
        equalize(np.zeros((3, 4), np.uint8), mask=np.ones((3, 4), np.float32))


@pytest.mark.parametrize("shape", [(40, 50, 3), (40, 50, 4), (2, 40, 50, 3)])
def test_rgb_channels_with_a_2d_mask(shape):
    # A 2D region of interest applies to every channel (it raised "mask shape (40, 50) does
    # not match image shape (40, 50, 3)"); each channel is the textbook result on its own.
    from napari_histeq import equalize_rgb

    rgb = np.random.default_rng(7).integers(0, 150, shape).astype(np.uint8)
    roi = np.zeros((40, 50), bool)
    roi[5:30, 10:40] = True
    out = equalize_rgb(rgb, mask=roi, axis=(-2, -1) if len(shape) == 4 else None)
    for c in range(3):
        for index in np.ndindex(shape[:-3]):
            plane = rgb[index][..., c]
            np.testing.assert_array_equal(out[index][..., c], textbook_equalize(plane, mask=roi))
    if shape[-1] == 4:
        np.testing.assert_array_equal(out[..., 3], rgb[..., 3])  # alpha kept
    value = equalize_rgb(rgb, mask=roi, mode="value", axis=(-2, -1) if len(shape) == 4 else None)
    assert value.shape == rgb.shape


def test_rgb_mask_of_the_wrong_shape_is_a_clear_error():
    from napari_histeq import equalize_rgb

    with pytest.raises(ValueError, match="mask shape"):
        equalize_rgb(np.zeros((40, 50, 3), np.uint8), mask=np.ones((40, 49), bool))
