"""Fits saved and read back: the same tables on any backend, a documented format, hostile files refused."""

import json

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import ModelFileError, fit_equalization, fit_stretch, load_model


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("axis", [None, (-2, -1)])
def test_a_saved_fit_applies_as_the_fit_itself(tmp_path, rng, dtype, axis):
    stack = (rng.gamma(2.0, 40.0, (3, 30, 40)) - (20 if np.dtype(dtype).kind != "u" else 0)).astype(dtype)
    fitted = fit_equalization(stack, axis=axis)
    loaded = load_model(fitted.save(tmp_path / "model"))
    other = (stack[::-1] + (1 if np.dtype(dtype).kind != "f" else 0.5)).astype(dtype)  # data the fit never saw
    np.testing.assert_array_equal(loaded.apply(other), fitted.apply(other))
    assert loaded.variant == fitted.variant and loaded.axis == fitted.axis and loaded.lut.dtype == fitted.lut.dtype


def test_a_saved_fit_is_the_textbook_table_of_its_image(tmp_path, rng):
    first = rng.integers(0, 4096, (40, 50)).astype(np.uint16)
    loaded = load_model(fit_equalization(first).save(tmp_path / "first.npz"))
    np.testing.assert_array_equal(loaded.apply(first), textbook_equalize(first))  # the plain loop of the formula


def test_a_saved_stretch(tmp_path, rng):
    image = rng.gamma(2.0, 300.0, (50, 60)).astype(np.uint16)
    fitted = fit_stretch(image, percentiles=(1, 99))
    path = fitted.save(tmp_path / "limits.npz", provenance={"inputs": ["day1.tif"]})
    np.testing.assert_array_equal(load_model(path).apply(image[::-1]), fitted.apply(image[::-1]))
    with np.load(path, allow_pickle=False) as stored:  # the format, as docs/api describes it
        header = json.loads(bytes(stored["header"]).decode())
    assert header["format"] == "napari-histeq fitted tables" and header["format_version"] == 1
    assert header["operation"] == "stretch" and header["provenance"] == {"inputs": ["day1.tif"]}
    assert header["package"].startswith("napari-histeq ") and header["created"][:4].isdigit()


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as stored:
        header, lut = json.loads(bytes(stored["header"]).decode()), np.array(stored["lut"])
    header.update(changes)
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8), lut=lut)


def test_hostile_model_files_are_one_clear_line(tmp_path, rng):
    fitted = fit_equalization(rng.integers(0, 255, (20, 20)).astype(np.uint8))
    newer = fitted.save(tmp_path / "newer.npz")
    _rewrite(newer, format_version=2)
    with pytest.raises(ModelFileError, match="newer than this napari-histeq reads"):
        load_model(newer)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, lut=np.arange(256))
    with pytest.raises(ModelFileError, match="not a napari-histeq model"):
        load_model(foreign)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, header=np.array([{"format": "napari-histeq fitted tables"}], dtype=object), lut=np.arange(3))
    with pytest.raises(ModelFileError, match="not a napari-histeq model"):  # never unpickled
        load_model(pickled)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "text.npz")
    damaged = fitted.save(tmp_path / "damaged.npz")
    _rewrite(damaged, binning={"dtype": "uint8"})
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(damaged)
    with pytest.raises(TypeError, match="fitted on uint8"):  # applied to another dtype: said, not wrapped
        load_model(fitted.save(tmp_path / "ok.npz")).apply(np.zeros(4, np.uint16))


# -- one fit on many images ---------------------------------------------------------------------------------
def test_a_pooled_fit_is_the_textbook_table_of_all_the_pixels(rng):
    from napari_histeq import fit_equalization_pooled

    images = [rng.integers(0, 4096, shape).astype(np.uint16) for shape in [(30, 40), (17, 5, 9), (100,)]]
    pooled = fit_equalization_pooled(images)
    everything = np.concatenate([image.ravel() for image in images])
    expected = textbook_equalize(everything)  # the plain loop over every pixel of every image
    for image, start in zip(images, np.cumsum([0] + [image.size for image in images[:-1]])):
        np.testing.assert_array_equal(pooled.apply(image).ravel(), expected[start : start + image.size])


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_pooled_floats_and_wide_integers_share_one_range(rng, dtype):
    from napari_histeq import fit_equalization, fit_equalization_pooled

    images = [(rng.gamma(2.0, 50.0 * (k + 1), (20 + k, 30)) - 40).astype(dtype) for k in range(3)]
    masks = [rng.random(image.shape) < 0.6 for image in images]
    pooled = fit_equalization_pooled(images, masks=masks, nbins=512)
    # the same pixels as one image: the concatenation of what each mask selects
    one = fit_equalization(np.concatenate([image[mask] for image, mask in zip(images, masks)]), nbins=512)
    np.testing.assert_array_equal(pooled.edges, one.edges)
    np.testing.assert_array_equal(pooled.lut, one.lut)


def test_pooled_chunked_and_in_memory_images(rng):
    da = pytest.importorskip("dask.array")
    from napari_histeq import fit_equalization_pooled

    images = [rng.integers(0, 255, (40, 50)).astype(np.uint8) for _ in range(3)]
    mixed = [images[0], da.from_array(images[1], chunks=(10, 25)), images[2]]
    np.testing.assert_array_equal(fit_equalization_pooled(mixed).lut, fit_equalization_pooled(images).lut)
    for dtype in (np.uint8, np.uint16, np.float32):  # every image chunked (a study too big for memory)
        typed = [(image * 97).astype(dtype) for image in images]
        lazy = [da.from_array(image, chunks=(10, 25)) for image in typed]
        np.testing.assert_array_equal(fit_equalization_pooled(lazy).apply(typed[0]),
                                      fit_equalization_pooled(typed).apply(typed[0]))


def test_a_pooled_fit_refuses_what_cannot_share_a_table(rng):
    from napari_histeq import fit_equalization_pooled

    with pytest.raises(TypeError, match="one dtype"):
        fit_equalization_pooled([np.zeros(4, np.uint8), np.zeros(4, np.uint16)])
    with pytest.raises(ValueError, match="one per image"):
        fit_equalization_pooled([np.zeros(4, np.uint8)] * 2, masks=[None])
    with pytest.raises(ValueError, match="at least one image"):
        fit_equalization_pooled([])
    with pytest.raises(ValueError, match="selects no pixel"):
        fit_equalization_pooled([np.zeros(4, np.float32)] * 2, masks=[np.zeros(4, bool)] * 2)


# -- the command line: napari-histeq fit, batch --model ------------------------------------------------------------
def _frames(rng, count=6):
    """A time lapse: the same background every frame, a bright cell growing from frame to frame."""
    background = rng.integers(200, 600, (64, 64)).astype(np.uint16)
    frames = []
    for t in range(count):
        frame = background.copy()
        frame[10 : 14 + 6 * t, 10 : 14 + 6 * t] = 3000 + 10 * t
        frames.append(frame)
    return frames


def test_one_model_over_a_time_lapse_keeps_the_background_still(tmp_path, rng):
    import tifffile

    from napari_histeq._cli import main

    frames = _frames(rng)
    for t, frame in enumerate(frames):
        tifffile.imwrite(tmp_path / f"t{t}.tif", frame)
    inputs = [str(tmp_path / f"t{t}.tif") for t in range(len(frames))]
    assert main(["fit", *inputs, "-o", str(tmp_path / "model.npz")]) == 0
    assert main(["batch", *inputs, "-o", str(tmp_path / "one"), "--model", str(tmp_path / "model.npz")]) == 0
    assert main(["batch", *inputs, "-o", str(tmp_path / "each")]) == 0
    background = np.ones((64, 64), bool)
    background[10:, 10:] = False  # never covered by the cell
    one = [tifffile.imread(tmp_path / "one" / f"t{t}.tif")[background].mean() for t in range(len(frames))]
    each = [tifffile.imread(tmp_path / "each" / f"t{t}.tif")[background].mean() for t in range(len(frames))]
    assert np.ptp(one) == 0  # one table: the same background, the same output, every frame
    assert np.max(np.abs(np.diff(each))) > 100  # a table per frame: the background flickers as the cell grows
    # the model is the textbook table of every frame's pixels together
    expected = textbook_equalize(np.stack(frames))
    for t in range(len(frames)):
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "one" / f"t{t}.tif"), expected[t])
    with tifffile.TiffFile(tmp_path / "one" / "t0.tif") as tif:  # the result records the model it came from
        record = json.loads(tif.pages[0].description)["napari_histeq"]
    assert record["operation"] == "model" and record["model"] == "model.npz"
    assert [i["name"] for i in record["model_provenance"]["inputs"]] == [f"t{t}.tif" for t in range(len(frames))]


def test_batch_model_errors_are_one_line(tmp_path, rng, capsys):
    import tifffile

    from napari_histeq._cli import main

    tifffile.imwrite(tmp_path / "a.tif", rng.integers(0, 255, (20, 20)).astype(np.uint8))
    tifffile.imwrite(tmp_path / "b.tif", rng.integers(0, 4000, (20, 20)).astype(np.uint16))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert main(["batch", str(tmp_path / "a.tif"), "-o", str(tmp_path / "o"), "--model",
                 str(tmp_path / "junk.npz")]) == 2
    assert "not a napari-histeq model" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "a.tif"), "-o", str(tmp_path / "m.npz")]) == 0
    assert main(["batch", str(tmp_path / "a.tif"), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "m.npz"),
                 "--method", "adaptive"]) == 2
    assert "--model applies a saved fit" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "b.tif"), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "m.npz")]) == 1
    assert "fitted on uint8" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "-o", str(tmp_path / "n.npz")]) == 1
    assert "one dtype" in capsys.readouterr().err


# -- a study's stretch and a study's reference ------------------------------------------------------------------
def test_a_stretch_fitted_on_a_study_is_the_stretch_of_its_pixels_pooled(rng):
    from napari_histeq import fit_stretch_pooled, stretch_contrast

    days = [rng.gamma(2.0, 300.0 * (k + 1), (30 + k, 40)).astype(np.uint16) for k in range(3)]
    masks = [rng.random(day.shape) > 0.2 for day in days]
    pooled = np.concatenate([day.ravel() for day in days])
    pooled_mask = np.concatenate([mask.ravel() for mask in masks])
    for options in ({"percentiles": (1, 99)}, {"saturated": 0.35}, {"window": (2000, 3000)}):
        fitted = fit_stretch_pooled(days, masks=masks, **options)
        expected = stretch_contrast(pooled, mask=pooled_mask, **options)  # one image of all their pixels
        np.testing.assert_array_equal(np.concatenate([fitted.apply(day).ravel() for day in days]), expected)
    with pytest.raises(TypeError, match="8/16-bit"):
        fit_stretch_pooled([np.zeros(4, np.float32)], percentiles=(1, 99))


def test_a_reference_histogram_pooled_from_a_study(rng):
    from napari_histeq import match_histograms, pooled_histogram

    atlas = [rng.gamma(3.0, 20.0, (25, 30)).astype(np.uint8) for _ in range(4)]
    reference = pooled_histogram(atlas)
    pooled = np.concatenate([image.ravel() for image in atlas])
    np.testing.assert_array_equal(reference.counts, np.bincount(pooled, minlength=256))
    image = rng.gamma(2.0, 10.0, (20, 20)).astype(np.uint8)
    exposure = pytest.importorskip("skimage.exposure")
    expected = np.rint(exposure.match_histograms(image.ravel(), pooled)).astype(np.uint8)
    np.testing.assert_array_equal(match_histograms(image, reference).ravel(), expected)
    floats = [image.astype(np.float32) / 7 for image in atlas]
    edges = pooled_histogram(floats, nbins=64).edges
    assert edges[0] == min(float(f.min()) for f in floats) and edges[-1] == max(float(f.max()) for f in floats)
