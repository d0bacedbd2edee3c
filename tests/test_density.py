"""The density curves of the plots, against scipy's Gaussian KDE of the pixels themselves."""

import numpy as np
import pytest

stats = pytest.importorskip("scipy.stats")

from napari_histeq import plot_histograms
from napari_histeq._inspect.density import density_from_histogram
from napari_histeq._inspect.plot import histogram_panel_data


@pytest.mark.parametrize("bw_method", ["scott", "silverman", 0.25])
def test_uint8_density_is_scipys_kde_of_the_pixels(rng, bw_method):
    image = rng.gamma(2.0, 15.0, (60, 70)).astype(np.uint8)
    density = histogram_panel_data(image, bw_method=bw_method).before[0].density
    levels = np.arange(256.0)
    expected = stats.gaussian_kde(image.ravel().astype(np.float64), bw_method=bw_method)(levels)
    np.testing.assert_array_equal(density.positions, levels)
    np.testing.assert_allclose(density.values, expected, rtol=0, atol=1e-12 * expected.max())
    kde = stats.gaussian_kde(image.ravel().astype(np.float64), bw_method=bw_method)
    assert density.bandwidth == pytest.approx(np.sqrt(kde.covariance[0, 0]), rel=1e-12)


def test_uint16_density_with_65536_levels(rng):
    image = rng.gamma(2.0, 900.0, (50, 40)).astype(np.uint16)
    density = histogram_panel_data(image).before[0].density
    probe = np.arange(0, 65536, 211)
    expected = stats.gaussian_kde(image.ravel().astype(np.float64))(probe.astype(np.float64))
    np.testing.assert_allclose(density.values[probe], expected, rtol=0, atol=1e-12 * expected.max())


def test_float_density_is_the_binned_kde(rng):
    image = rng.normal(0.4, 0.1, (80, 80))
    curves = histogram_panel_data(image, nbins=256).before[0]
    centres = (curves.edges[:-1] + curves.edges[1:]) / 2
    binned = np.repeat(centres, curves.counts)  # every pixel moved to its bin's centre
    expected = stats.gaussian_kde(binned)(centres)
    np.testing.assert_allclose(curves.density.values, expected, rtol=0, atol=1e-12 * expected.max())
    exact = stats.gaussian_kde(image.ravel())(centres)  # the pixels where they are: within a bin's blur
    assert np.abs(curves.density.values - exact).max() < 0.01 * exact.max()


def test_density_integrates_to_one_and_survives_degenerate_histograms():
    counts = np.zeros(200, np.int64)
    counts[90:110:4] = [5, 9, 3, 7, 1]
    density = density_from_histogram(counts, np.arange(200.0) * 0.5)
    assert np.trapezoid(density.values, density.positions) == pytest.approx(1, abs=1e-6)
    assert density_from_histogram(np.array([0, 7, 0]), np.arange(3.0)) is None  # one level: no spread
    assert density_from_histogram(np.array([0, 1, 0]), np.arange(3.0)) is None
    for bad in ("gauss", 0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="bw_method"):
            density_from_histogram(np.array([1, 2, 1]), np.arange(3.0), bw_method=bad)


def test_plot_histograms_draws_density_curves_before_and_after_unless_asked_not_to():
    from napari_histeq import dark_xray, equalize

    image = dark_xray()
    labels = [line.get_label() for line in plot_histograms(image, equalize(image)).axes[0].lines]
    assert "before: density" in labels and "after: density" in labels
    labels = [line.get_label() for line in plot_histograms(image, equalize(image), density=False).axes[0].lines]
    assert not any("density" in label for label in labels)
    constant = np.full((8, 8), 7, np.uint8)
    assert plot_histograms(constant).axes[0] is not None  # no density to draw: the rest is drawn


def test_density_over_the_bars_is_in_pixels_per_drawn_bin(rng):
    # the occupied levels (or all 65536) are drawn as at most 512 bars of many levels each: the curve
    # is scaled to those bars
    image = rng.normal(30000, 3000, (100, 100)).clip(0, 65535).astype(np.uint16)
    for span, levels_per_bar in (("dtype", 128), ("data", None)):
        axes = plot_histograms(image, span=span).axes[0]
        bars = axes.patches[0].get_data()  # (heights, edges, baseline) of the before histogram
        width = np.diff(bars.edges)[0]
        assert levels_per_bar is None or width == levels_per_bar
        assert len(bars.values) > 200  # the occupied span is drawn in hundreds of bars, not a few
        curve = next(line for line in axes.lines if line.get_label() == "before: density")
        assert curve.get_ydata().max() == pytest.approx(image.size * width / (3000 * np.sqrt(2 * np.pi)), rel=0.1)
