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
