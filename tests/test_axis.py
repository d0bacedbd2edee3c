"""axis=: one histogram per plane / volume, computed in one grouped pass."""

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import equalize, histogram


def test_each_plane_matches_the_textbook_loop(rng):
    stack = rng.integers(0, 120, (4, 9, 11)).astype(np.uint8)
    stack[2] //= 4  # a dark plane
    out = equalize(stack, axis=(-2, -1))
    for plane, result in zip(stack, out):
        np.testing.assert_array_equal(result, textbook_equalize(plane))


def test_each_volume_of_a_time_series(rng):
    series = rng.integers(0, 4096, (3, 2, 6, 5)).astype(np.uint16)
    out = equalize(series, axis=(-3, -2, -1))
    for volume, result in zip(series, out):
        np.testing.assert_array_equal(result, textbook_equalize(volume))


def test_a_leading_axis_gives_every_pixel_its_own_time_histogram(rng):
    series = rng.integers(0, 256, (8, 3, 4)).astype(np.uint8)
    out = equalize(series, axis=0)
    for i in range(3):
        for j in range(4):
            np.testing.assert_array_equal(out[:, i, j], textbook_equalize(series[:, i, j]))
    assert out.flags.c_contiguous


@pytest.mark.parametrize("variant", ["standard", "opencv", "imagej", "imagej-classic"])
def test_grouped_equals_looped_for_every_variant(variant, rng):
    stack = rng.integers(0, 256, (5, 12, 10)).astype(np.uint8)
    out = equalize(stack, axis=(1, 2), variant=variant)
    for plane, result in zip(stack, out):
        np.testing.assert_array_equal(result, equalize(plane, variant=variant))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.uint32, np.int64, np.uint64])
@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "dask"])
def test_every_plane_gets_its_own_range(dtype, lazy, rng):
    # A plane spanning 1% of the stack's range got 3 output levels (floats) or 168 (int32) when
    # the planes shared one binning; each is now what equalising the plane alone gives.
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    top = 1000.0 if np.dtype(dtype).kind == "f" else min(int(info.max), 2**40)
    stack = rng.uniform(0, top, (4, 30, 40))
    stack[1] = stack[1] * 0.01 + top / 2  # a narrow plane in the middle of the stack's range
    stack[2, :5] = np.nan if np.dtype(dtype).kind == "f" else 0
    stack = stack.astype(dtype)
    roi = np.zeros((30, 40), bool)
    roi[3:25, 5:35] = True
    for options in ({}, {"mask": roi}, {"out_range": "image"}, {"variant": "opencv"}, {"variant": "imagej"}):
        source = stack
        if lazy:
            da = pytest.importorskip("dask.array")
            source = da.from_array(stack, chunks=(1, 15, 40))
        out = np.asarray(equalize(source, axis=(-2, -1), **options))
        counts, edges = histogram(source, axis=(-2, -1), **{k: v for k, v in options.items() if k == "mask"})
        for i, plane in enumerate(stack):
            plane_out = equalize(plane, **options) if "out_range" not in options else None
            if plane_out is not None:
                np.testing.assert_array_equal(out[i], plane_out)
            plane_counts, plane_edges = histogram(plane, **{k: v for k, v in options.items() if k == "mask"})
            np.testing.assert_array_equal(np.asarray(counts)[i][: plane_counts.size], plane_counts)
            np.testing.assert_array_equal(np.asarray(edges)[i][: plane_edges.size], plane_edges)
    if np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize >= 4:  # float16 holds only ~40 values there
        assert np.unique(out[1]).size > 200  # the narrow plane spreads over the whole output range


def test_mask_with_planes(rng):
    stack = rng.integers(0, 256, (3, 6, 6)).astype(np.uint8)
    mask = np.zeros(stack.shape, bool)
    mask[:, :3] = True
    out = equalize(stack, axis=(-2, -1), mask=mask)
    for plane, plane_mask, result in zip(stack, mask, out):
        np.testing.assert_array_equal(result, textbook_equalize(plane, mask=plane_mask))


def test_a_plane_with_no_masked_pixel_is_an_error():
    stack = np.zeros((3, 4, 4), np.uint8)
    mask = np.ones(stack.shape, bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"1 of 3 histogram groups \(the first at index \(1,\)"):
        equalize(stack, axis=(-2, -1), mask=mask)


def test_grouped_histogram_counts(rng):
    stack = rng.integers(0, 256, (4, 7, 7)).astype(np.uint8)
    counts, _ = histogram(stack, axis=(-2, -1))
    assert counts.shape == (4, 256)
    for plane, plane_counts in zip(stack, counts):
        np.testing.assert_array_equal(plane_counts, np.bincount(plane.ravel(), minlength=256))


def test_too_many_histograms_is_a_clear_error_not_an_out_of_memory():
    # one 65536-bin histogram per pixel of a 16-bit time series: 2.7 GiB of counters
    series = np.zeros((2, 64, 80), dtype=np.uint16)
    with pytest.raises(ValueError, match=r"5120 histograms of 65536 bins would need 2\.5 GiB"):
        equalize(series, axis=0)
