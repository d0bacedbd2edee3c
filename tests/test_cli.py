"""The console command's headless run."""

import imageio.v3 as iio
import numpy as np

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
        assert main(["--headless", "--backend", "numpy", "-o", str(tmp_path)]) == 0
        assert "backend: numpy" in capsys.readouterr().out
        assert main(["--headless", "-o", str(tmp_path / "auto")]) == 2
        error = capsys.readouterr().err
        assert "NAPARI_HISTEQ_BACKEND" in error and "--backend" in error and "Traceback" not in error
