"""histogram_stats against independent computations (scipy, numpy)."""

import numpy as np
import pytest

from napari_histeq import dark_xray, equalize, histogram_stats

scipy_stats = pytest.importorskip("scipy.stats")


def test_stats_match_scipy_and_numpy():
    image = dark_xray()
    stats = histogram_stats(image)
    levels, counts = np.unique(image, return_counts=True)
    assert stats.entropy_bits == pytest.approx(scipy_stats.entropy(counts, base=2))
    assert stats.occupied_levels == len(levels)
    assert stats.occupied_fraction == pytest.approx(len(levels) / 256)
    assert stats.mean == pytest.approx(image.mean())
    assert stats.std == pytest.approx(image.std())
    assert stats.pixels == image.size
    # KS distance of the pixel values (plus a half-level so ties sit inside a level)
    # to the uniform distribution on [0, 256)
    ks = scipy_stats.kstest(image.ravel() + 0.5, scipy_stats.uniform(loc=0, scale=256).cdf).statistic
    assert stats.ks_uniform == pytest.approx(ks, abs=1 / 256)


def test_equalisation_moves_towards_uniform_without_new_levels():
    image = dark_xray()
    before, after = histogram_stats(image), histogram_stats(equalize(image))
    assert after.ks_uniform < before.ks_uniform / 5
    assert after.occupied_levels <= before.occupied_levels
    assert after.ks_uniform > 0
