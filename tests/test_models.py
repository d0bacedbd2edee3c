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
