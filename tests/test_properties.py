"""Property tests (hypothesis) of the core."""

import numpy as np
import pytest

pytest.importorskip("hypothesis")
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from napari_histeq import equalize, fit_equalization

VARIANTS = st.sampled_from(["standard", "opencv", "imagej", "imagej-classic"])
INT_DTYPES = st.sampled_from([np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int64])


def images(dtype=INT_DTYPES):
    return dtype.flatmap(lambda dt: arrays(dt, array_shapes(min_dims=1, max_dims=3, max_side=7)))


@settings(max_examples=80, deadline=None)
@given(images(), VARIANTS)
def test_lut_is_monotone(image, variant):
    lut = fit_equalization(image, variant=variant).lut
    assert np.all(np.diff(lut.astype(object)) >= 0)


@settings(max_examples=80, deadline=None)
@given(images(), VARIANTS, st.sampled_from(["dtype", "image"]))
def test_output_dtype_and_range(image, variant, out_range):
    out = equalize(image, variant=variant, out_range=out_range)
    assert out.dtype == image.dtype and out.shape == image.shape
    if out_range == "dtype":
        lo, hi = np.iinfo(image.dtype).min, np.iinfo(image.dtype).max
    else:
        lo, hi = image.min(), image.max()
    assert out.min() >= lo and out.max() <= hi
    # order is kept: a brighter input pixel is never darker in the output
    order = np.argsort(image, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(object)) >= 0)


STACK_SHAPES = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.uint8, np.int8, np.uint16, np.int16]).flatmap(lambda dt: arrays(dt, STACK_SHAPES)),
       VARIANTS)
def test_grouped_equals_looped(stack, variant):
    grouped = equalize(stack, axis=(-2, -1), variant=variant)
    looped = np.stack([equalize(plane, variant=variant) for plane in stack])
    np.testing.assert_array_equal(grouped, looped)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([np.uint32, np.int64, np.float32]).flatmap(lambda dt: arrays(dt, STACK_SHAPES)),
       VARIANTS)
def test_grouped_equals_looped_where_planes_share_the_binning(stack, variant):
    # Floats and wide integers bin every group over the pooled range: a plane
    # equalised alone matches when it spans that range too.
    if stack.dtype.kind == "f":
        stack = np.nan_to_num(stack, nan=0.0, posinf=1.0, neginf=-1.0)
    low, high = stack.min(), stack.max()
    stack = stack.copy()
    stack[:, 0, 0], stack[:, -1, -1] = low, high
    grouped = equalize(stack, axis=(-2, -1), variant=variant)
    looped = np.stack([equalize(plane, variant=variant) for plane in stack])
    np.testing.assert_array_equal(grouped, looped)


@settings(max_examples=60, deadline=None)
@given(arrays(np.uint16, st.tuples(st.integers(2, 8), st.integers(2, 8))), st.data())
def test_mask_semantics(image, data):
    mask = data.draw(arrays(bool, image.shape))
    if not mask.any():
        mask.flat[0] = True
    fitted = fit_equalization(image, mask=mask)
    # the table comes from the masked pixels alone ...
    np.testing.assert_array_equal(fitted.lut, fit_equalization(image[mask]).lut)
    # ... and maps every pixel
    np.testing.assert_array_equal(equalize(image, mask=mask), fitted.lut[image])


@settings(max_examples=40, deadline=None)
@given(images(st.sampled_from([np.uint8, np.uint16, np.float32, np.int32])), VARIANTS)
def test_input_untouched(image, variant):
    assume(image.dtype.kind != "f" or np.isfinite(image).any())
    before = image.copy()
    equalize(image, variant=variant)
    np.testing.assert_array_equal(image, before)


@settings(max_examples=200, deadline=None)
@given(values=st.one_of(
           arrays(np.float32, st.integers(1, 300), elements=st.floats(width=32, allow_nan=True)),
           arrays(np.float64, st.integers(1, 300), elements=st.floats(allow_nan=True))),
       picks=st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_order_statistics_are_those_of_a_sort(values, picks):
    pytest.importorskip("numba")
    from napari_histeq._kernels.select import KeyCounts
    from napari_histeq._stretch.limits import order_statistics

    finite = np.sort(values[np.isfinite(values)])
    ranks = [int(p * (finite.size - 1)) for p in picks]
    keys = KeyCounts(values)
    found, n = order_statistics(keys.counts, lambda n: ranks, keys.copy_wanted)
    assert n == finite.size
    if n:
        np.testing.assert_array_equal(np.array(found, values.dtype), finite[ranks])
