"""Masked arrays (``np.ma``) are treated alike by every public function: the valid pixels are
the region of interest, every pixel is mapped, and the mask comes back with the result.

Oracles: the textbook loop with a mask (tests/oracles.py), and the bleach ratio written out
from its definition (mean of the valid pixels of each time point).
"""

import numpy as np
import pytest
from oracles import textbook_equalize

import napari_histeq as h


@pytest.fixture
def masked_image(rng):
    data = rng.integers(10, 60, (24, 20)).astype(np.uint8)
    invalid = np.zeros(data.shape, bool)
    invalid[:4] = True
    data[invalid] = 255  # outliers under the mask: they must not count
    return np.ma.MaskedArray(data, mask=invalid)


def test_histogram_stats_counts_the_valid_pixels_only(masked_image):
    stats = h.histogram_stats(masked_image)
    assert stats.pixels == masked_image.count()
    assert stats.mean == pytest.approx(float(masked_image.mean()))
    with pytest.raises(ValueError, match="selects no pixel"):
        h.histogram_stats(np.ma.masked_all((4, 4), np.uint8))


@pytest.mark.parametrize("mode", ["channels", "value"])
def test_equalize_rgb_takes_valid_pixels_and_returns_the_mask(masked_image, rng, mode):
    rgb = np.stack([masked_image.data, masked_image.data // 2, masked_image.data // 3], axis=-1)
    invalid = np.repeat(masked_image.mask[..., None], 3, axis=-1)
    invalid[5, 5, 1] = True  # one masked sample takes its whole pixel out of the histogram
    result = h.equalize_rgb(np.ma.MaskedArray(rgb, mask=invalid), mode=mode)
    assert isinstance(result, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(result), invalid)
    valid = ~invalid.any(axis=-1)
    if mode == "channels":
        for channel in range(3):
            np.testing.assert_array_equal(result.data[..., channel], textbook_equalize(rgb[..., channel], mask=valid))
    else:
        np.testing.assert_array_equal(result.data, h.equalize_rgb(rgb, mode=mode, mask=valid))


def test_correct_bleaching_ratio_means_valid_pixels_only(rng):
    frames = rng.integers(100, 200, (4, 16, 16)).astype(np.uint16)
    frames = (frames * np.array([1.0, 0.8, 0.6, 0.5])[:, None, None]).astype(np.uint16)
    invalid = np.zeros(frames.shape, bool)
    invalid[:, :2] = True
    frames[1][invalid[1]] = 60000  # an outlier under the mask in one time point
    result = h.correct_bleaching(np.ma.MaskedArray(frames, mask=invalid), method="ratio")
    assert isinstance(result, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(result), invalid)
    means = [frames[t][~invalid[t]].astype(np.float64).mean() for t in range(4)]
    for t in range(4):
        expected = np.floor(frames[t] * (means[0] / means[t]) + 0.5)
        np.testing.assert_array_equal(result.data[t], np.clip(expected, 0, 65535).astype(np.uint16))


OPERATIONS = {
    "equalize": lambda image, **kw: h.equalize(image, **kw),
    "equalize_adapthist": lambda image, **kw: h.equalize_adapthist(image, **kw),
    "match_histograms": lambda image, **kw: h.match_histograms(image, np.arange(256, dtype=np.uint8).reshape(16, 16),
                                                                **kw),
    "correct_bleaching": lambda image, **kw: h.correct_bleaching(np.stack([image, image // 2]), **kw)[1],
    "equalize_rgb": lambda image, **kw: h.equalize_rgb(np.ma.stack([image] * 3, axis=-1), **kw)[..., 0],
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_keeps_the_mask_and_counts_only_valid_pixels(masked_image, name):
    run = OPERATIONS[name]
    if name == "correct_bleaching":
        masked = np.ma.MaskedArray(masked_image.data, mask=masked_image.mask)
        result = h.correct_bleaching(np.ma.stack([masked, masked // 2]))[1]
        expected = h.correct_bleaching(np.stack([masked.data, masked.data // 2]),
                                       mask=~np.stack([masked.mask] * 2))[1]
    else:
        result = run(masked_image)
        expected = run(masked_image.data, mask=~masked_image.mask)
    assert isinstance(result, np.ma.MaskedArray), type(result)
    np.testing.assert_array_equal(np.ma.getmaskarray(result), masked_image.mask)
    np.testing.assert_array_equal(result.data, expected)
    outliers_counted = run(masked_image.data)  # the outliers under the mask change the result when counted
    assert not np.array_equal(result.data, outliers_counted)
