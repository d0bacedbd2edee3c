"""32- and 64-bit integers: binned over the data's range, never a counter per possible value."""

import tracemalloc

import numpy as np
from oracles import textbook_table

from napari_histeq import equalize, fit_equalization, histogram


def test_int64_holding_0_and_2_to_the_60_in_little_memory():
    image = np.array([0, 2**60, 0, 2**60, 2**60], dtype=np.int64)
    tracemalloc.start()
    out = equalize(image)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 2**20
    # cdf 0.4 and 1.0 over the full int64 range
    assert out[1] == out[3] == out[4] == 2**63 - 1 and out[0] == out[2]
    assert abs(int(out[0]) - (-(2**63) + 0.4 * 2**64)) < 2**12


def test_small_spread_gets_one_bin_per_level(rng):
    image = rng.integers(1_000_000, 1_000_300, (20, 20)).astype(np.uint32)
    counts, edges = histogram(image)
    assert counts.shape == (int(image.max()) - int(image.min()) + 1,)
    assert edges[0] == image.min() and np.all(np.diff(edges) == 1)
    values = [int(v) for v in image.ravel()]
    table = textbook_table(values, range(int(image.min()), int(image.max()) + 1), 2**32 - 1)
    expected = np.array([table[v] for v in values], dtype=np.uint32).reshape(image.shape)
    np.testing.assert_array_equal(equalize(image), expected)


def test_wide_spread_is_binned_into_nbins():
    image = np.array([0, 1, 2**40, 2**40 + 1], dtype=np.int64)
    counts, _edges = histogram(image)
    assert counts.shape == (65536,)
    assert counts[0] == 2 and counts[-1] == 2 and counts.sum() == 4
    out = equalize(image)
    assert out[0] == out[1] and out[2] == out[3] == 2**63 - 1
    counts, _ = histogram(image, nbins=4)
    assert counts.tolist() == [2, 0, 0, 2]


def test_uint64_full_range():
    image = np.array([0, 2**64 - 1], dtype=np.uint64)
    out = equalize(image)
    assert out.tolist() == [2**63, 2**64 - 1]


def test_int32_negative_values(rng):
    image = rng.integers(-(2**31), 2**31 - 1, (30, 30), dtype=np.int64).astype(np.int32)
    out = equalize(image)
    assert out.dtype == np.int32 and out.max() == 2**31 - 1
    order = np.argsort(image, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order].astype(np.int64)) >= 0)


def test_apply_maps_values_outside_the_fitted_range_to_the_ends():
    # below the counted range the cumulative share is 0 (the bottom), above it 1 (the top):
    # the rule 8/16-bit levels follow, now for every dtype
    fitted = fit_equalization(np.array([100_000, 100_010, 100_020], dtype=np.uint32))
    out = fitted.apply(np.array([0, 100_000, 100_020, 2**32 - 1], dtype=np.uint32))
    assert out[0] == 0 < out[1] and out[2] == out[3] == 2**32 - 1
