"""The command line's data safety, as hostile and careless users meet it: one rule for ``batch``
and ``--headless``; every stop (Ctrl-C, SIGTERM, SIGHUP) cleans up; alpha and 16-bit colour survive.

Files are checked byte for byte or read back with OpenCV and Pillow (not with our reader), pixel
values against the textbook loop (tests/oracles.py).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from oracles import textbook_equalize

from napari_histeq._cli import main

zarr = pytest.importorskip("zarr")
cv2 = pytest.importorskip("cv2")


def batch(*args) -> int:
    return main(["batch", *map(str, args)])


def tree(folder: Path) -> dict:
    """Every file below ``folder`` and its bytes."""
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


# --- nothing is written over an input -------------------------------------------------------------


def test_overwrite_never_deletes_an_input_inside_an_earlier_result(tmp_path, rng, capsys):
    volume = rng.integers(0, 200, (2, 8, 8)).astype(np.uint8)
    zarr.create_array(tmp_path / "vol.zarr", shape=volume.shape, chunks=(1, 8, 8), dtype="uint8")[:] = volume
    out = tmp_path / "out"
    assert batch(tmp_path / "vol.zarr", "-o", out) == 0
    np.save(out / "vol.zarr" / "notes.npy", volume[0])  # a user's file inside the earlier result
    before = tree(tmp_path)
    assert batch(tmp_path / "vol.zarr", out / "vol.zarr" / "notes.npy", "--overwrite", "-o", out) == 2
    assert "holds an input" in capsys.readouterr().err
    assert tree(tmp_path) == before


def test_temporary_names_and_match_references_are_inputs_too(tmp_path, rng, capsys):
    image = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    out = tmp_path / "out"
    out.mkdir()
    iio.imwrite(tmp_path / "a.png", image)
    iio.imwrite(out / ".a.partial.png", image)  # where a.png's result is written until complete
    iio.imwrite(out / "a.png", image[::-1])     # the reference, and a.png's result name
    before = tree(tmp_path)
    assert batch(tmp_path / "a.png", out / ".a.partial.png", "--overwrite", "-o", out) == 2
    assert batch(tmp_path / "a.png", "--match", out / "a.png", "--overwrite", "-o", out) == 2
    assert capsys.readouterr().err.count("inputs are never replaced") == 2
    assert tree(tmp_path) == before


def test_headless_refuses_two_inputs_that_share_results(tmp_path, capsys):
    from napari_histeq import dark_xray

    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
        iio.imwrite(tmp_path / day / "scan.png", dark_xray() if day == "day1" else dark_xray()[::-1])
    code = main(["--headless", str(tmp_path / "day1" / "scan.png"), str(tmp_path / "day2" / "scan.png"),
                 "-o", str(tmp_path / "out")])
    assert code == 2 and "would both be written to" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_headless_refuses_a_result_that_holds_an_input(tmp_path, capsys):
    from napari_histeq import dark_xray

    holder = tmp_path / "out" / "scan_histograms.png"  # a folder that --overwrite would replace
    holder.mkdir(parents=True)
    iio.imwrite(holder / "scan.png", dark_xray())
    before = tree(tmp_path)
    assert main(["--headless", "--overwrite", str(holder / "scan.png"), "-o", str(tmp_path / "out")]) == 2
    assert "holds an input" in capsys.readouterr().err
    assert tree(tmp_path) == before


# --- a failed write is one line; the other files still run ----------------------------------------


def test_headless_write_errors_are_one_line_and_the_others_still_run(tmp_path):
    # A file-size limit (as a full disk or a quota gives): the noisy 1024x1024 image's PNG does not fit.
    rng = np.random.default_rng(5)
    iio.imwrite(tmp_path / "big.png", rng.integers(0, 256, (1024, 1024)).astype(np.uint8))
    small = rng.integers(0, 50, (32, 32)).astype(np.uint8)
    iio.imwrite(tmp_path / "small.png", small)
    limit = ("import resource, runpy, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
             "resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000)); "
             "runpy.run_module('napari_histeq', run_name='__main__', alter_sys=True)")
    run = subprocess.run([sys.executable, "-c", limit, "--headless", str(tmp_path / "big.png"),
                          str(tmp_path / "small.png"), "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("napari-histeq: error:")]
    assert len(errors) == 1 and "big.png: cannot write" in errors[0] and "Traceback" not in run.stderr
    assert "1 of 2 files equalised" in run.stderr
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "small_equalized.png"), textbook_equalize(small))
    assert not [path for path in (tmp_path / "out").iterdir() if path.name.startswith(".")]  # no partial file


def test_headless_plots_of_floats_spanning_the_whole_float64_range(tmp_path, capsys):
    image = np.array([[-1e308, 0.0], [1.0, 1e308]])
    tifffile.imwrite(tmp_path / "wide.tif", image)
    assert main(["--headless", str(tmp_path / "wide.tif"), "-o", str(tmp_path / "out")]) == 0, capsys.readouterr()
    assert (tmp_path / "out" / "wide_histograms.png").stat().st_size > 10_000


# --- names and patterns ---------------------------------------------------------------------------


def test_a_name_that_exists_is_that_file_even_with_glob_characters(tmp_path, rng, capsys):
    bracketed, plain = (rng.integers(0, 100 * k, (8, 8)).astype(np.uint8) for k in (1, 2))
    iio.imwrite(tmp_path / "cell[1].png", bracketed)
    iio.imwrite(tmp_path / "cell1.png", plain)
    assert batch(tmp_path / "cell[1].png", tmp_path / "cell1.png", "-o", tmp_path / "out") == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "cell[1].png"), textbook_equalize(bracketed))
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "cell1.png"), textbook_equalize(plain))
    capsys.readouterr()
    assert batch(tmp_path / "none*.png", "-o", tmp_path / "out2") == 1
    assert "the pattern matches no image file" in capsys.readouterr().err


# --- alpha and 16-bit colour ----------------------------------------------------------------------


def grey_and_alpha(rng, dtype=np.uint8):
    top = np.iinfo(dtype).max
    grey = rng.integers(0, top // 4, (30, 40)).astype(dtype)
    alpha = np.zeros((30, 40), dtype)
    alpha[:, 20:] = top  # half transparent: its alpha must not join the grey histogram
    return np.stack([grey, alpha], axis=-1)


@pytest.mark.parametrize("kind", ["png", "png16", "tiff"])
def test_alpha_is_never_equalised_nor_counted(tmp_path, rng, kind, capsys):
    dtype = np.uint16 if kind == "png16" else np.uint8
    image = grey_and_alpha(rng, dtype)
    path = tmp_path / ("in.tif" if kind == "tiff" else "in.png")
    if kind == "tiff":
        tifffile.imwrite(path, image, photometric="minisblack", extrasamples=["unassalpha"])
    else:
        # OpenCV writes no grey+alpha; libpng (through imagecodecs) does, and OpenCV reads the results
        imagecodecs = pytest.importorskip("imagecodecs")
        path.write_bytes(imagecodecs.png_encode(image))
    expected = np.stack([textbook_equalize(image[..., 0]), image[..., 1]], axis=-1)
    assert batch(path, "-o", tmp_path / "out") == 0
    written = tmp_path / "out" / path.name
    result = tifffile.imread(written) if kind == "tiff" else cv2.imread(str(written), cv2.IMREAD_UNCHANGED)
    if kind != "tiff":  # OpenCV gives grey+alpha as BGRA, the grey repeated
        np.testing.assert_array_equal(result[..., 0], result[..., 2])
        result = result[..., [0, 3]]
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, expected)
    if kind == "tiff":
        assert tifffile.TiffFile(written).pages[0].extrasamples == (2,)  # still unassociated alpha
    assert main(["--headless", str(path), "-o", str(tmp_path / "demo")]) == 0
    assert "alpha kept" in capsys.readouterr().out
    suffix = ".png" if dtype == np.uint8 else ".tif"  # --headless: 2D uint8 as PNG, the rest as TIFF
    np.testing.assert_array_equal(iio.imread(tmp_path / "demo" / f"in_equalized{suffix}"), expected)


@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_png_stays_16_bit(tmp_path, channels):
    rng = np.random.default_rng(channels)
    rgba = rng.integers(0, 4096, (20, 30, channels)).astype(np.uint16)  # 12-bit data: low bytes matter
    if channels == 4:
        rgba[..., 3] = np.linspace(0, 65535, 30).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "c.png"), rgba[..., [2, 1, 0, 3][:channels]])  # OpenCV stores BGR(A)
    assert batch(tmp_path / "c.png", "-o", tmp_path / "out") == 0
    result = cv2.imread(str(tmp_path / "out" / "c.png"), cv2.IMREAD_UNCHANGED)[..., [2, 1, 0, 3][:channels]]
    assert result.dtype == np.uint16
    for channel in range(3):
        np.testing.assert_array_equal(result[..., channel], textbook_equalize(rgba[..., channel]))
    if channels == 4:
        np.testing.assert_array_equal(result[..., 3], rgba[..., 3])
    from PIL import Image

    assert "napari_histeq" in Image.open(tmp_path / "out" / "c.png").text  # the record survives the encoder


# --- stopping: Ctrl-C, SIGTERM, SIGHUP ------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory):
    """Slow to write: zarr stores (written by threads) and compressed TIFFs."""
    folder = tmp_path_factory.mktemp("stop")
    volume = np.random.default_rng(9).integers(0, 4000, (24, 512, 512)).astype(np.uint16)
    for index in range(4):
        zarr.create_array(folder / f"v{index}.zarr", shape=volume.shape, chunks=(1, 128, 128),
                          dtype="uint16")[:] = volume
        tifffile.imwrite(folder / f"s{index}.tif", volume, compression="zlib")
    return folder, volume


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("signame, jobs", [("SIGTERM", 2), ("SIGHUP", 2), ("SIGTERM", 1), ("SIGHUP", 1)])
def test_a_signal_stops_workers_and_leaves_only_whole_results(big_inputs, tmp_path, signame, jobs):
    folder, volume = big_inputs
    signum = getattr(signal, signame)
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "napari_histeq", "batch", str(folder), "-o", str(out),
                            "-j", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out.exists() and any(path.name.startswith(".") for path in out.iterdir())):
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()
        time.sleep(0.02)
    time.sleep(0.3)  # well inside the writes
    workers = children_of(run.pid)
    os.kill(run.pid, signum)  # the parent alone, as kill PID, a scheduler or systemd sends it
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 128 + signum, (stderr, stdout)
    assert f"stopped by {signame}" in stderr and "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]
    written = sorted(out.iterdir())
    assert not [path for path in written if path.name.startswith(".")]  # no partial file or store
    expected = textbook_equalize(volume)
    for path in written:
        result = zarr.open(path, mode="r")[:] if path.suffix == ".zarr" else tifffile.imread(path)
        np.testing.assert_array_equal(result, expected)


def test_a_colour_match_reference_is_refused_in_one_line(tmp_path, rng, capsys):
    iio.imwrite(tmp_path / "ref.png", rng.integers(0, 256, (8, 8, 3)).astype(np.uint8))
    iio.imwrite(tmp_path / "a.png", rng.integers(0, 256, (8, 8)).astype(np.uint8))
    assert batch(tmp_path / "a.png", "--match", tmp_path / "ref.png", "-o", tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "a colour image; --match takes a grey reference" in error and len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
