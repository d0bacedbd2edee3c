"""The console command's headless run."""

import imageio.v3 as iio
import numpy as np
import pytest

from napari_histeq import dark_xray, equalize
from napari_histeq._cli import main


def test_headless_demo_writes_images_and_prints_statistics(tmp_path, capsys):
    assert main(["--headless", "-o", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "backend:" in printed and "ks_uniform" in printed and "occupied_levels" in printed
    before = iio.imread(tmp_path / "dark_xray_before.png")
    after = iio.imread(tmp_path / "dark_xray_equalized.png")
    np.testing.assert_array_equal(before, dark_xray())
    np.testing.assert_array_equal(after, equalize(dark_xray()))
    assert (tmp_path / "dark_xray_histograms.png").stat().st_size > 10_000


def test_headless_on_files(tmp_path, capsys):
    stack = np.random.default_rng(0).integers(0, 4096, (3, 16, 16)).astype(np.uint16)
    path = tmp_path / "cells.tif"
    iio.imwrite(path, stack)
    assert main(["--headless", str(path), "--scope", "plane", "--variant", "imagej", "-o", str(tmp_path)]) == 0
    result = iio.imread(tmp_path / "cells_equalized.tif")
    np.testing.assert_array_equal(result, equalize(stack, axis=(-2, -1), variant="imagej"))


def test_explicit_backend_works_whatever_the_environment_says(tmp_path, capsys, monkeypatch, fresh_backend):
    # A bad NAPARI_HISTEQ_BACKEND made `--backend numpy` die while printing backend_info().
    for bad in ("bogus", "cupy"):
        monkeypatch.setenv("NAPARI_HISTEQ_BACKEND", bad)
        if bad == "cupy" and fresh_backend._probe_gpu()[0] is None:
            continue  # a GPU answers here: cupy is not a bad value
        assert main(["--headless", "--backend", "numpy", "-o", str(tmp_path / bad)]) == 0
        assert "backend: numpy" in capsys.readouterr().out
        assert main(["--headless", "-o", str(tmp_path / "auto")]) == 2
        error = capsys.readouterr().err
        assert "NAPARI_HISTEQ_BACKEND" in error and "--backend" in error and "Traceback" not in error


def test_inputs_are_never_overwritten(tmp_path, capsys):
    # `-o ow ow/scan.png ow/scan_before.png` replaced scan_before.png with scan.png's pixels.
    folder = tmp_path / "ow"
    folder.mkdir()
    scan, other = dark_xray(), dark_xray()[::-1].copy()
    iio.imwrite(folder / "scan.png", scan)
    iio.imwrite(folder / "scan_before.png", other)
    code = main(["--headless", "-o", str(folder), str(folder / "scan.png"), str(folder / "scan_before.png")])
    assert code == 2 and "would be written over an input" in capsys.readouterr().err
    np.testing.assert_array_equal(iio.imread(folder / "scan_before.png"), other)
    # --overwrite replaces earlier results, never an input
    code = main(["--headless", "--overwrite", "-o", str(folder), str(folder / "scan.png"),
                 str(folder / "scan_before.png")])
    assert code == 2
    np.testing.assert_array_equal(iio.imread(folder / "scan_before.png"), other)


def test_existing_results_need_overwrite_and_shared_stems_get_their_own_names(tmp_path, capsys):
    image = dark_xray()
    iio.imwrite(tmp_path / "b.png", image)
    iio.imwrite(tmp_path / "b.tif", image[::-1])
    out = tmp_path / "out"
    assert main(["--headless", "-o", str(out), str(tmp_path / "b.png"), str(tmp_path / "b.tif")]) == 0
    assert (out / "b_png_histograms.png").exists() and (out / "b_tif_histograms.png").exists()
    np.testing.assert_array_equal(iio.imread(out / "b_tif_equalized.png"), equalize(image[::-1]))
    capsys.readouterr()
    assert main(["--headless", "-o", str(out), str(tmp_path / "b.png")]) == 0  # another stem: b, not b_png
    assert main(["--headless", "-o", str(out), str(tmp_path / "b.png")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["--headless", "--overwrite", "-o", str(out), str(tmp_path / "b.png")]) == 0


@pytest.mark.parametrize("case", ["missing", "folder", "text", "corrupt png", "corrupt tiff"])
def test_bad_inputs_are_one_line_errors(tmp_path, capsys, case):
    names = {"missing": "nope.tif", "folder": "sub", "text": "notes.txt", "corrupt png": "x.png",
             "corrupt tiff": "x.tif"}
    path = tmp_path / names[case]
    if case == "folder":
        path.mkdir()
    elif case == "text":
        path.write_text("not an image")
    elif case == "corrupt png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    elif case == "corrupt tiff":  # the reader warns before it fails: no stray warning lines either
        path.write_bytes(b"II*\x00garbage")
    good = tmp_path / "good.png"
    iio.imwrite(good, dark_xray())
    # the bad file is one line, the good one still runs, and the exit status says something failed
    assert main(["--headless", "-o", str(tmp_path / "out"), str(path), str(good)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"napari-histeq: error: {path}") and "Traceback" not in error
    assert "1 of 2 files equalised" in error
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "good_equalized.png"), equalize(dark_xray()))
    assert not list((tmp_path / "out").glob(".*partial*"))  # nothing half-written left behind


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("mode", ["channels", "value"])
def test_colour_files_follow_the_colour_rules(tmp_path, channels, mode):
    # RGB(A) PNGs were equalised as 3D grayscale: alpha equalised, channels pooled.
    from napari_histeq import equalize_rgb

    rgba = np.random.default_rng(3).integers(0, 150, (40, 50, channels)).astype(np.uint8)
    if channels == 4:
        rgba[..., 3] = np.linspace(0, 255, 50).astype(np.uint8)
    iio.imwrite(tmp_path / "photo.png", rgba)
    assert main(["--headless", "--rgb-mode", mode, "-o", str(tmp_path / "out"), str(tmp_path / "photo.png")]) == 0
    result = iio.imread(tmp_path / "out" / "photo_equalized.png")
    np.testing.assert_array_equal(result, equalize_rgb(rgba, mode=mode))
    if channels == 4:
        np.testing.assert_array_equal(result[..., 3], rgba[..., 3])
    assert main(["--headless", "--scope", "plane", "--overwrite", "-o", str(tmp_path / "out"),
                 str(tmp_path / "photo.png")]) == 0  # a 2D colour image has one plane, not one per row


def test_a_reader_warning_is_not_printed_around_the_error_line(tmp_path):
    # imageio's tifffile warned "invalid page offset" (a warnings.warn line) before failing on this file.
    import subprocess
    import sys

    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00garbage")
    result = subprocess.run([sys.executable, "-m", "napari_histeq", "--headless", "-o", str(tmp_path / "out"),
                             str(bad)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    first, *rest = result.stderr.splitlines()
    assert first.startswith(f"napari-histeq: error: {bad}: ") and "Warning" not in result.stderr
    assert rest[0] == "" and rest[1].startswith("0 of 1 files equalised")  # then only the summary


def test_headless_adaptive(tmp_path, capsys):
    from napari_histeq import equalize_adapthist

    assert main(["--headless", "--method", "adaptive", "--clip-limit", "0.02", "-o", str(tmp_path)]) == 0
    assert "adaptive (skimage)" in capsys.readouterr().out
    after = iio.imread(tmp_path / "dark_xray_equalized.png")
    np.testing.assert_array_equal(after, equalize_adapthist(dark_xray(), clip_limit=0.02))
