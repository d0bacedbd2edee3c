"""``match_histograms(variant="itk")`` against SimpleITK's ``HistogramMatchingImageFilter`` (ITK 5), bit for bit:
every pixel type ITK takes, skewed, signed and few-valued data, its three parameters.
"""

import numpy as np
import pytest

from napari_histeq import match_histograms

sitk = pytest.importorskip("SimpleITK")

DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64, np.float32, np.float64]


def itk_filter(image, reference, levels=256, match_points=1, threshold_at_mean=True):
    """The oracle: SimpleITK's filter on the same arrays."""
    matcher = sitk.HistogramMatchingImageFilter()
    matcher.SetNumberOfHistogramLevels(levels)
    matcher.SetNumberOfMatchPoints(match_points)
    matcher.SetThresholdAtMeanIntensity(threshold_at_mean)
    return sitk.GetArrayFromImage(matcher.Execute(sitk.GetImageFromArray(image), sitk.GetImageFromArray(reference)))


def drawn(rng, kind, shape, scale):
    if kind == "skewed":
        return rng.gamma(2.0, scale, shape)
    if kind == "signed":
        return rng.normal(0.0, scale * 4, shape)
    return rng.integers(0, 5, shape) * scale  # few levels: bins that share an edge, empty bins


def as_dtype(values, dtype):
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        values = np.clip(values, info.min, info.max)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["skewed", "signed", "few levels"])
def test_equal_to_simpleitk_for_every_pixel_type(rng, dtype, kind):
    for trial in range(6):
        shape = tuple(int(n) for n in rng.integers(3, 48, 2))
        scale = float(rng.uniform(0.5, 80))
        image = as_dtype(drawn(rng, kind, shape, scale), dtype)
        reference = as_dtype(drawn(rng, kind, (17, 23), scale * 1.7) + scale, dtype)
        levels, match_points = int(rng.choice([256, 64, 7, 1000])), int(rng.choice([1, 2, 7]))
        threshold_at_mean = bool(trial % 2)
        ours = match_histograms(image, reference, variant="itk", levels=levels, match_points=match_points,
                                threshold_at_mean=threshold_at_mean)
        expected = itk_filter(image, reference, levels, match_points, threshold_at_mean)
        assert ours.dtype == expected.dtype
        np.testing.assert_array_equal(ours, expected, err_msg=f"{kind} {levels} {match_points} {threshold_at_mean}")


def test_defaults_are_itk_s_on_an_mri_like_volume():
    from napari_histeq import mri_bias_field

    volume = mri_bias_field()
    reference = (volume * 1.3 + 40).astype(np.float32)
    np.testing.assert_array_equal(match_histograms(volume, reference, variant="itk"), itk_filter(volume, reference))
    integer = (volume * 10).astype(np.int16)
    np.testing.assert_array_equal(match_histograms(integer, (reference * 7).astype(np.int16), variant="itk"),
                                  itk_filter(integer, (reference * 7).astype(np.int16)))


def test_extremes_and_constant_images(rng):
    for dtype in (np.int64, np.uint64, np.int32, np.float64, np.float32):
        info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
        image = np.array([[info.min, info.max, 0, 1], [2, 3, info.max, info.min]], dtype)
        reference = np.array([[info.min, 5, 7, info.max]], dtype)
        ours, expected = match_histograms(image, reference, variant="itk"), itk_filter(image, reference)
        # ITK casts float(2**63) to int64 (2**64 to uint64) and wraps to the bottom, undefined in C++: the top stays
        wrapped = (expected != ours) & (ours == info.max) & (expected == info.min) & (image == info.max)
        np.testing.assert_array_equal(np.where(wrapped, info.max, expected), ours)
        assert not wrapped.any() or dtype in (np.int64, np.uint64)
    constant = np.full((5, 6), 9, np.uint8)
    np.testing.assert_array_equal(match_histograms(constant, constant + 3, variant="itk"),
                                  itk_filter(constant, constant + 3))


def test_each_plane_and_each_channel_alone(rng):
    stack = rng.gamma(2.0, 30.0, (3, 20, 24)).astype(np.uint16)
    reference = rng.gamma(3.0, 50.0, (15, 15)).astype(np.uint16)
    planes = match_histograms(stack, reference, variant="itk", axis=(-2, -1), match_points=3)
    for plane, got in zip(stack, planes):
        np.testing.assert_array_equal(got, itk_filter(plane, reference, match_points=3))
    colour = rng.gamma(2.0, 30.0, (20, 24, 3)).astype(np.uint8)
    colour_reference = rng.gamma(3.0, 30.0, (20, 24, 3)).astype(np.uint8)
    matched = match_histograms(colour, colour_reference, variant="itk", channel_axis=-1)
    for c in range(3):
        np.testing.assert_array_equal(matched[..., c], itk_filter(colour[..., c], colour_reference[..., c]))


def test_a_mask_chooses_what_is_counted(rng):
    # ITK counts every pixel; a mask counts its pixels only, and every pixel is mapped by what they give
    image = rng.gamma(2.0, 30.0, (30, 40)).astype(np.float32)
    reference = rng.gamma(3.0, 30.0, (20, 20)).astype(np.float32)
    everything = np.ones(image.shape, bool)
    np.testing.assert_array_equal(match_histograms(image, reference, variant="itk", mask=everything),
                                  itk_filter(image, reference))
    body = np.zeros(image.shape, bool)
    body[5:25, 10:30] = True
    inside = image[body].reshape(20, 20)
    masked = match_histograms(image, reference, variant="itk", mask=body)
    np.testing.assert_array_equal(masked[body].reshape(20, 20), itk_filter(inside, reference))


@pytest.mark.parametrize("call, error, message", [
    (lambda im: match_histograms(im, im, variant="skimage", levels=64), ValueError, "parameters of variant='itk'"),
    (lambda im: match_histograms(im, im, variant="itk", match_points=0), ValueError, "at least 1"),
    (lambda im: match_histograms(im, im.astype(np.float32) + 0.5, variant="itk"), TypeError, "one pixel type"),
    (lambda im: match_histograms(__import__("dask.array").array.from_array(im), im, variant="itk"), TypeError,
     "in memory"),
    (lambda im: __import__("napari_histeq").correct_bleaching(np.stack([im, im]), variant="itk"), ValueError,
     "bleach correction matches with"),
])
def test_what_itk_cannot_do_is_one_clear_error(call, error, message):
    pytest.importorskip("dask")
    image = np.arange(48, dtype=np.uint8).reshape(6, 8)
    with pytest.raises(error, match=message):
        call(image)


def test_the_command_line_matches_as_itk(tmp_path):
    import imageio.v3 as iio

    from napari_histeq._cli import main

    rng = np.random.default_rng(3)
    image = rng.gamma(2.0, 30.0, (40, 50)).astype(np.uint8)
    reference = rng.gamma(4.0, 25.0, (30, 30)).astype(np.uint8)
    iio.imwrite(tmp_path / "scan.png", image)
    iio.imwrite(tmp_path / "atlas.png", reference)
    assert main(["batch", str(tmp_path / "scan.png"), "-o", str(tmp_path / "out"), "--match",
                 str(tmp_path / "atlas.png"), "--matching", "itk", "--levels", "64", "--match-points", "3"]) == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "scan.png"),
                                  itk_filter(image, reference, levels=64, match_points=3))
