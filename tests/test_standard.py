"""variant="standard": the user's textbook algorithm, bit for bit."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from oracles import textbook_equalize

from napari_histeq import dark_xray, equalize


def seed_numpy(image):
    """The textbook's NumPy steps, written out (histogram, pdf, cdf, x255, round, map)."""
    hist, _ = np.histogram(image.ravel(), 256, [0, 256])
    pdf = hist / hist.sum()
    rounded = np.round(pdf.cumsum() * 255)
    return rounded[image].astype(np.uint8)


def test_matches_the_seed_on_the_dark_sample():
    image = dark_xray()
    out = equalize(image)
    np.testing.assert_array_equal(out, seed_numpy(image))
    assert out.dtype == np.uint8 and out.shape == image.shape


def test_rounding_ties_follow_the_textbook_float64_arithmetic():
    # Exact rational rounding gives 76 and 230 at levels 2 and 5; the textbook's
    # float64 pdf/cumsum/x255/round gives 77 and 229. We must give the textbook's.
    image = np.array([3, 2, 4, 5, 5, 6, 5, 2, 0, 3], dtype=np.uint8)
    out = equalize(image)
    np.testing.assert_array_equal(out, textbook_equalize(image))
    assert out[image == 2][0] == 77 and out[image == 5][0] == 229


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9))))
def test_uint8_matches_the_textbook_loop(image):
    np.testing.assert_array_equal(equalize(image), textbook_equalize(image))


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int16])
def test_other_level_dtypes_match_the_textbook_loop(dtype, rng):
    info = np.iinfo(dtype)
    image = rng.integers(info.min, info.min + 40, (7, 6)).astype(dtype)
    image[0, 0] = info.max  # both ends of the range in use
    out = equalize(image)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, textbook_equalize(image))


def test_signed_output_spans_the_full_dtype_range():
    image = np.array([-5, 0, 5, 10], dtype=np.int16)
    out = equalize(image)
    assert out.min() == -32768 + round(0.25 * 65535) and out.max() == 32767


def test_out_range_image_keeps_the_input_min_and_max(rng):
    image = rng.integers(20, 60, (10, 10)).astype(np.uint8)
    out = equalize(image, out_range="image")
    lo, hi = int(image.min()), int(image.max())
    assert out.max() == hi
    np.testing.assert_array_equal(out, textbook_equalize(image, lo=lo, hi=hi))


def test_out_range_pair(rng):
    image = rng.integers(0, 4096, (10, 10)).astype(np.uint16)
    out = equalize(image, out_range=(100, 4095))
    np.testing.assert_array_equal(out, textbook_equalize(image, lo=100, hi=4095))


def test_constant_image_maps_to_the_top():
    out = equalize(np.full((4, 4), 9, dtype=np.uint8))
    assert np.all(out == 255)


def test_occupied_levels_never_grow():
    image = dark_xray()
    assert len(np.unique(equalize(image))) <= len(np.unique(image))
