"""Bad input raises a clear error; good input of every layout works and is never modified."""

import numpy as np
import pytest

from napari_histeq import equalize, fit_equalization, histogram


@pytest.mark.parametrize(
    "image, error, match",
    [
        (np.zeros((3, 3), bool), TypeError, "boolean"),
        (np.zeros((3, 3), complex), TypeError, "complex"),
        (np.array([[1, "a"]], dtype=object), TypeError, "not supported"),
        (np.array(["a", "b"]), TypeError, "not supported"),
        (None, TypeError, "must be an array"),
        (np.uint8(3), ValueError, "0-dimensional"),
        (np.zeros((0, 4), np.uint8), ValueError, "empty"),
    ],
)
def test_bad_images(image, error, match):
    with pytest.raises(error, match=match):
        equalize(image)
    with pytest.raises(error, match=match):
        histogram(image)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"variant": "clahe"}, ValueError, "variant must be one of"),
        ({"backend": "tpu"}, ValueError, "backend must be one of"),
        ({"out_range": "full"}, ValueError, "out_range must be"),
        ({"out_range": (10, 5)}, ValueError, "lo < hi"),
        ({"out_range": (0, 300)}, ValueError, "outside the uint8 range"),
        ({"out_range": (0.5, 100)}, ValueError, "whole numbers"),
        ({"out_range": (0, 1, 2)}, ValueError, "out_range must be"),
        ({"nbins": 100}, ValueError, "one bin per level"),
        ({"axis": 2}, ValueError, "out of bounds"),
        ({"axis": (0, -2)}, ValueError, "same axis twice"),
        ({"axis": "planes"}, TypeError, "axis must be"),
        ({"mask": np.ones((2, 2), bool)}, ValueError, "mask shape"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        equalize(np.arange(12, dtype=np.uint8).reshape(3, 4), **kwargs)


@pytest.mark.parametrize("nbins, error", [(1, ValueError), (0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_nbins(nbins, error):
    with pytest.raises(error, match="nbins"):
        equalize(np.linspace(0, 1, 10), nbins=nbins)


def test_input_is_never_modified(rng):
    image = rng.integers(0, 256, (20, 20)).astype(np.uint8)
    before = image.copy()
    equalize(image)
    fit_equalization(image, axis=0).apply(image)
    np.testing.assert_array_equal(image, before)


def test_read_only_input(rng):
    image = rng.integers(0, 256, (20, 20)).astype(np.uint8)
    expected = equalize(image)
    image.setflags(write=False)
    np.testing.assert_array_equal(equalize(image), expected)


def test_non_contiguous_input(rng):
    big = rng.integers(0, 65536, (40, 60)).astype(np.uint16)
    view = big[::2, 1::3]
    np.testing.assert_array_equal(equalize(view), equalize(view.copy()))
    np.testing.assert_array_equal(equalize(big.T, axis=0), equalize(big.T.copy(), axis=0))


@pytest.mark.parametrize("dtype", [">u2", ">i4", ">f8"])
def test_big_endian_input(dtype, rng):
    native = rng.integers(0, 1000, (10, 10)).astype(np.dtype(dtype).newbyteorder("="))
    swapped = native.astype(dtype)
    out = equalize(swapped)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, equalize(native))


def test_lists_are_accepted():
    assert equalize([[0, 1], [2, 3]]).shape == (2, 2)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
def test_an_empty_roi_is_the_same_clear_error_for_every_dtype(dtype):
    # uint8 returned zeros (and histogram_stats NaN) where int32 raised
    from napari_histeq import histogram, histogram_stats

    image = np.arange(64, dtype=dtype).reshape(8, 8)
    nothing = np.zeros(image.shape, bool)
    for function in (histogram, histogram_stats, equalize):
        with pytest.raises(ValueError, match="mask selects no pixel"):
            function(image, mask=nothing)


def test_constant_float_image_is_as_far_from_uniform_as_can_be():
    from napari_histeq import histogram_stats

    stats = histogram_stats(np.full((8, 8), 0.25, np.float32))
    assert stats.ks_uniform == 1.0 and stats.occupied_levels == 1 and stats.mean == 0.25


def test_too_many_bins_is_refused_before_allocating():
    with pytest.raises(ValueError, match="nbins must be at most"):
        equalize(np.arange(10, dtype=np.float32), nbins=2**28)


def test_a_zarr_group_is_a_clear_error():
    zarr = pytest.importorskip("zarr")
    group = zarr.group()
    group.create_array("0", shape=(4, 4), dtype="uint8")
    with pytest.raises(TypeError, match="zarr Group"):
        equalize(group)
    from napari_histeq import fit_equalization

    fitted = fit_equalization(np.arange(16, dtype=np.uint8))
    with pytest.raises(TypeError, match="zarr Group"):
        fitted.apply(group)


def test_jit_switch_is_case_insensitive(monkeypatch):
    from napari_histeq import _kernels

    for value in ("OFF", "False", " no "):
        monkeypatch.setenv(_kernels.ENV_VAR, value)
        assert _kernels.cpu_kernels() is None
