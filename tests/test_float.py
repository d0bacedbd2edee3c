"""Float images: nbins bins over the finite range, output in [0, 1];
compared with scikit-image's equalize_hist.
"""

import numpy as np
import pytest

from napari_histeq import equalize, histogram

exposure = pytest.importorskip("skimage.exposure")


def assert_within_one_bin_of_skimage(image, out, nbins, mask=None):
    """Our value at v must be skimage's cdf curve at a point within one bin width of v."""
    counted = image[mask] if mask is not None else image
    cdf, centers = exposure.cumulative_distribution(counted, nbins)
    width = (counted.max() - counted.min()) / nbins
    below = np.interp(image - width, centers, cdf)
    above = np.interp(image + width, centers, cdf)
    assert np.all(out >= below - 1e-6) and np.all(out <= above + 1e-6)
    # and it is close to skimage's own result, within one bin's share of pixels
    reference = exposure.equalize_hist(image, nbins=nbins, mask=mask)
    assert np.max(np.abs(out - reference)) <= np.max(np.diff(cdf)) + 1e-6


@pytest.mark.parametrize("nbins", [16, 256, 1000])
def test_within_one_bin_of_skimage(nbins, rng):
    image = rng.gamma(2.0, 0.05, (64, 48)).astype(np.float32)
    out = equalize(image, nbins=nbins)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() == 1
    assert_within_one_bin_of_skimage(image, out, nbins)


def test_with_mask_within_one_bin_of_skimage(rng):
    image = rng.gamma(2.0, 0.05, (64, 48))
    mask = np.zeros(image.shape, dtype=bool)
    mask[10:40, 5:30] = True
    out = equalize(image, mask=mask)
    assert out.dtype == np.float64
    # Pixels darker than every ROI pixel map to 0 (their cumulative share), where
    # skimage's interpolation holds them at its first bin's value; the rest follow skimage.
    inside = image >= image[mask].min()
    assert np.all(out[~inside] == 0)
    reference = exposure.equalize_hist(image, nbins=256, mask=mask)
    cdf, _ = exposure.cumulative_distribution(image[mask], 256)
    assert np.max(np.abs(out[inside] - reference[inside])) <= np.max(np.diff(cdf)) + 1e-6


def test_output_dtypes():
    image = np.linspace(0, 1, 100)
    assert equalize(image.astype(np.float16)).dtype == np.float32
    assert equalize(image.astype(np.float32)).dtype == np.float32
    assert equalize(image).dtype == np.float64


def test_nan_stays_nan_and_infinities_go_to_the_ends():
    image = np.array([0.1, 0.2, np.nan, 0.3, np.inf, -np.inf, 0.4], dtype=np.float32)
    out = equalize(image, nbins=4)
    assert np.isnan(out[2])
    assert out[4] == 1 and out[5] == 0
    np.testing.assert_allclose(out[[0, 1, 3, 6]], [0.25, 0.5, 0.75, 1.0])


def test_infinities_are_not_counted():
    image = np.array([0.0, 1.0, np.inf, -np.inf, np.nan])
    counts, edges = histogram(image, nbins=2)
    assert counts.tolist() == [1, 1]
    assert edges.tolist() == [0.0, 0.5, 1.0]


def test_out_range_for_floats(rng):
    image = rng.uniform(-3, 5, (20, 20))
    out = equalize(image, out_range="image")
    assert out.max() == pytest.approx(image.max()) and out.min() > image.min()
    out = equalize(image, out_range=(10.0, 20.0))
    assert out.max() == pytest.approx(20.0) and out.min() >= 10.0


@pytest.mark.parametrize("variant", ["opencv", "imagej", "imagej-classic"])
def test_other_variants_on_floats_span_zero_to_one(variant, rng):
    image = rng.normal(size=(30, 30)).astype(np.float32)
    out = equalize(image, variant=variant)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    order = np.argsort(image, axis=None)
    assert np.all(np.diff(out.ravel()[order]) >= 0)  # monotone in the input


def test_all_nan_is_an_error():
    with pytest.raises(ValueError, match="no finite pixel"):
        equalize(np.full(4, np.nan))
