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


def test_float_planes_share_one_binning(rng):
    stack = rng.uniform(0, 1, (3, 8, 8)).astype(np.float32)
    stack[1] *= 0.1
    counts, edges = histogram(stack, axis=(-2, -1), nbins=32)
    assert counts.shape == (3, 32) and edges[0] == stack.min() and edges[-1] == stack.max()
    out = equalize(stack, axis=(-2, -1), nbins=32)
    assert np.all(out.reshape(3, -1).max(axis=1) == 1)


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
