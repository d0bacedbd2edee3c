"""``out=``: the result written into a given array, or in place."""

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import equalize, fit_equalization

JIT = pytest.mark.parametrize("jit", ["1", "0"], ids=["kernels", "reference"])


def per_plane_oracle(stack):
    return np.stack([textbook_equalize(plane) for plane in stack])


@JIT
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_out_receives_the_result(rng, monkeypatch, jit, dtype):
    monkeypatch.setenv("NAPARI_HISTEQ_JIT", jit)
    info = np.iinfo(dtype)
    image = rng.integers(info.min, info.min + 300, (17, 24)).clip(info.min, info.max).astype(dtype)
    before = image.copy()
    out = np.full(image.shape, 7, dtype=dtype)
    result = equalize(image, out=out)
    assert result is out
    np.testing.assert_array_equal(out, textbook_equalize(before))
    np.testing.assert_array_equal(image, before)


@JIT
@pytest.mark.parametrize("axis", [None, (-2, -1)])
def test_in_place(rng, monkeypatch, jit, axis):
    monkeypatch.setenv("NAPARI_HISTEQ_JIT", jit)
    stack = rng.integers(0, 4096, (3, 20, 30)).astype(np.uint16)
    expected = textbook_equalize(stack) if axis is None else per_plane_oracle(stack)
    result = equalize(stack, axis=axis, out=stack)
    assert result is stack
    np.testing.assert_array_equal(stack, expected)


@JIT
def test_in_place_uint8_pairs_and_odd_rows(rng, monkeypatch, jit):
    # Even rows take the two-pixel tables, odd rows the plain gather.
    monkeypatch.setenv("NAPARI_HISTEQ_JIT", jit)
    for shape in [(64, 64), (5, 33)]:
        image = rng.gamma(2.0, 20.0, shape).clip(0, 255).astype(np.uint8)
        expected = textbook_equalize(image)
        equalize(image, out=image)
        np.testing.assert_array_equal(image, expected)


def test_out_not_contiguous_or_overlapping(rng):
    image = rng.integers(0, 200, (16, 16)).astype(np.uint8)
    expected = textbook_equalize(image)
    transposed = np.empty((16, 16), np.uint8, order="F")
    np.testing.assert_array_equal(equalize(image, out=transposed), expected)

    # out overlaps the image shifted by one pixel: the result must not read pixels it overwrote.
    buffer = np.zeros(16 * 16 + 1, np.uint8)
    buffer[:-1] = image.ravel()
    source = buffer[:-1].reshape(16, 16)
    shifted = buffer[1:].reshape(16, 16)
    equalize(source, out=shifted)
    np.testing.assert_array_equal(shifted, expected)


def test_out_with_leading_histogram_axis(rng):
    stack = rng.integers(0, 50, (4, 6, 5)).astype(np.uint8)
    out = np.empty_like(stack)
    equalize(stack, axis=0, out=out)
    for i in range(6):
        for j in range(5):
            np.testing.assert_array_equal(out[:, i, j], textbook_equalize(stack[:, i, j]))


def test_out_for_floats_matches_a_fresh_result(rng):
    image = rng.gamma(2.0, 0.1, (40, 50)).astype(np.float32)
    image[0, 0] = np.nan
    out = np.empty_like(image)
    assert equalize(image, out=out) is out
    np.testing.assert_array_equal(out, equalize(image))
    in_place = image.copy()
    equalize(in_place, out=in_place)
    np.testing.assert_array_equal(in_place, out)


def test_apply_into_out(rng):
    first = rng.integers(0, 100, (10, 10)).astype(np.uint8)
    fitted = fit_equalization(first)
    out = np.empty_like(first)
    assert fitted.apply(first, out=out) is out
    np.testing.assert_array_equal(out, textbook_equalize(first))
    again = first.copy()
    assert fitted(again, out=again) is again
    np.testing.assert_array_equal(again, out)


@pytest.mark.parametrize(
    ("out", "error", "match"),
    [
        (np.empty((4, 5), np.uint8), ValueError, "shape"),
        (np.empty((4, 4), np.uint16), TypeError, "dtype uint16"),
        ([[0] * 4] * 4, TypeError, "NumPy array"),
    ],
)
def test_bad_out(out, error, match):
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    with pytest.raises(error, match=match):
        equalize(image, out=out)


def test_read_only_out():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = np.empty_like(image)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        equalize(image, out=out)
    with pytest.raises(ValueError, match="read-only"):
        fit_equalization(image).apply(image, out=out)


def test_float16_cannot_be_equalised_in_place():
    image = np.linspace(0, 1, 16, dtype=np.float16)
    with pytest.raises(TypeError, match="float32"):
        equalize(image, out=image)


def test_out_is_refused_for_lazy_input():
    da = pytest.importorskip("dask.array")
    lazy = da.zeros((8, 8), dtype=np.uint8, chunks=4)
    with pytest.raises(TypeError, match=r"dask\.array\.store"):
        equalize(lazy, out=np.empty((8, 8), np.uint8))
    with pytest.raises(TypeError, match=r"dask\.array\.store"):
        fit_equalization(np.arange(4, dtype=np.uint8)).apply(lazy, out=np.empty((8, 8), np.uint8))


def test_in_place_allocates_no_image_sized_array(rng):
    import tracemalloc

    from napari_histeq import _kernels

    if _kernels.cpu_kernels() is None:
        pytest.skip("the reference path (no numba, or NAPARI_HISTEQ_JIT=0) works in int64 blocks of up to 32 MiB")

    image = rng.integers(0, 65536, (2048, 2048)).astype(np.uint16)  # 8 MiB
    equalize(image.copy(), out=np.empty_like(image), backend="numpy")  # compile and warm up outside the trace
    tracemalloc.start()
    try:
        equalize(image, out=image, backend="numpy")  # the CPU's kernels, also where a GPU is the default
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < image.nbytes // 2, f"peak {peak / 2**20:.1f} MiB for an {image.nbytes / 2**20:.0f} MiB image"
