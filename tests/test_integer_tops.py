"""Integer dtypes at both ends of their range: no result wraps from the top to the bottom.

``float(2**63 - 1)`` is ``2**63``: a float result clipped to ``iinfo.max`` and cast wrapped
to the bottom of 64-bit integers. The oracles are Python's exact integers (for the cast)
and order: each operation below maps a brighter pixel to a result at least as bright,
which a wrap breaks.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import napari_histeq as h
from napari_histeq._engine.backend import float_to_integer

INTEGER_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
@given(values=st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None)
def test_float_to_integer_clips_as_exact_integers_do(dtype, values):
    info = np.iinfo(dtype)
    floats = np.array(values + [float(info.max), float(info.min), 2.0**63, -(2.0**63), 2.0**64])
    rounded = np.floor(floats)  # the caller rounds; the conversion clips
    expected = [info.max if v == np.inf else info.min if v == -np.inf else min(max(int(v), info.min), info.max)
                for v in rounded]
    assert float_to_integer(rounded, dtype).tolist() == expected


def tops_and_bottoms(dtype, rng, shape=(16, 16)):
    """An image holding its dtype's two ends, their neighbours and values between."""
    info = np.iinfo(dtype)
    ends = np.array([info.min, info.min + 1, info.max - 1, info.max], dtype=dtype)
    image = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    image.flat[: ends.size] = ends
    return image


def assert_order_kept(image, result):
    """A brighter pixel never gets a darker result."""
    order = np.argsort(image, axis=None, kind="stable")
    flat = result.ravel()[order]
    assert np.all(flat[1:] >= flat[:-1]), (image.ravel()[order][-4:], flat[-4:])


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_no_operation_wraps_at_the_ends_of_the_dtype(dtype, rng):
    info = np.iinfo(dtype)
    image = tops_and_bottoms(dtype, rng)
    matched = h.match_histograms(image, image)
    assert_order_kept(image, matched)
    assert matched[image == info.max].min() >= matched.max() and matched.max() > info.max // 2
    series = np.stack([image, image, image])  # no decay: the ratio gains are 1
    assert_order_kept(image, h.correct_bleaching(series, method="ratio")[2])
    grey_rgb = np.repeat(image[..., None], 3, axis=-1)
    value = h.equalize_rgb(grey_rgb, mode="value")
    assert_order_kept(image, value[..., 0])
    assert value[image == info.max].min() == info.max
    adaptive = h.equalize_adapthist(grey_rgb)[..., 0]  # regions blend: order is kept only roughly
    brightest = image >= np.sort(image, axis=None)[-4]
    assert adaptive[brightest].min() > np.percentile(adaptive, 25)  # none wrapped to the bottom
