"""The fit/apply pair and the histogram function."""

import numpy as np
import pytest
from oracles import textbook_table

import napari_histeq
from napari_histeq import equalize, fit_equalization, histogram
from napari_histeq._engine import placement as _placement


def test_fit_on_one_time_point_apply_to_another(rng):
    first = rng.integers(0, 100, (10, 10)).astype(np.uint8)
    later = rng.integers(0, 256, (5, 7)).astype(np.uint8)
    fitted = fit_equalization(first)
    table = textbook_table([int(v) for v in first.ravel()], range(256), 255)
    expected = np.array([table[int(v)] for v in later.ravel()], np.uint8).reshape(later.shape)
    np.testing.assert_array_equal(fitted.apply(later), expected)
    np.testing.assert_array_equal(fitted(later), expected)
    assert fitted.lut.shape == (256,) and fitted.lut.dtype == np.uint8
    assert [fitted.lut[v] for v in range(256)] == [table[v] for v in range(256)]


def test_fitted_per_plane_tables(rng):
    stack = rng.integers(0, 4096, (3, 8, 8)).astype(np.uint16)
    fitted = fit_equalization(stack, axis=(-2, -1))
    assert fitted.lut.shape == (3, 65536)
    np.testing.assert_array_equal(fitted.apply(stack), equalize(stack, axis=(-2, -1)))
    with pytest.raises(ValueError, match="does not match"):
        fitted.apply(stack[:2])


def test_apply_checks_the_dtype():
    fitted = fit_equalization(np.arange(10, dtype=np.uint8))
    with pytest.raises(TypeError, match="fitted on uint8"):
        fitted.apply(np.arange(10, dtype=np.uint16))


def test_histogram_of_uint8(rng):
    image = rng.integers(0, 256, (30, 30)).astype(np.uint8)
    counts, edges = histogram(image)
    np.testing.assert_array_equal(counts, np.bincount(image.ravel(), minlength=256))
    np.testing.assert_array_equal(edges, np.arange(257))


def test_histogram_of_floats_matches_numpy(rng):
    image = rng.normal(size=1000)
    counts, edges = histogram(image, nbins=50)
    expected_counts, expected_edges = np.histogram(image, bins=50)
    np.testing.assert_allclose(edges, expected_edges)
    np.testing.assert_array_equal(counts, expected_counts)


def test_small_blocks_give_the_same_result(monkeypatch, rng):
    stack = rng.integers(0, 256, (3, 9, 13)).astype(np.uint8)
    floats = rng.normal(size=(3, 9, 13)).astype(np.float32)
    expected = [equalize(stack), equalize(stack, axis=(1, 2)), equalize(floats, axis=0)]
    monkeypatch.setattr(_placement, "CPU_BLOCK_ELEMENTS", 7)  # rows split across blocks
    got = [equalize(stack), equalize(stack, axis=(1, 2)), equalize(floats, axis=0)]
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)


def test_public_names():
    for name in ["equalize", "histogram", "fit_equalization", "backend_info", "Equalization"]:
        assert name in napari_histeq.__all__
