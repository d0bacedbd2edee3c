"""``napari-histeq batch``: folders in, results with their metadata out, and never a byte lost.

Pixel values are checked against the textbook loop (tests/oracles.py);
metadata is read back with tifffile, zarr and Pillow, not with our reader.
"""

import json
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
from oracles import textbook_equalize, textbook_table

from napari_histeq._cli import main

zarr = pytest.importorskip("zarr")


def batch(*args) -> int:
    return main(["batch", *map(str, args)])


def per_channel_oracle(stack, channel_axis):
    """Each channel equalised alone, over all its other axes."""
    moved = np.moveaxis(stack, channel_axis, 0)
    return np.moveaxis(np.stack([textbook_equalize(channel) for channel in moved]), 0, channel_axis)


@pytest.fixture
def hyperstack(rng):
    return rng.integers(100, 3000, (3, 2, 24, 20)).astype(np.uint16)  # ZCYX


def test_imagej_hyperstack_keeps_axes_calibration_and_records_the_operation(tmp_path, hyperstack, capsys):
    source = tmp_path / "in" / "cells.tif"
    source.parent.mkdir()
    tifffile.imwrite(source, hyperstack, imagej=True, resolution=(1 / 0.25, 1 / 0.25),
                     metadata={"axes": "ZCYX", "spacing": 1.5, "unit": "um", "Info": "scope 3", "min": 100,
                               "max": 3000})
    assert batch(source.parent, "-o", tmp_path / "out") == 0
    with tifffile.TiffFile(tmp_path / "out" / "cells.tif") as tif:
        result, axes, info = tif.series[0].asarray(), tif.series[0].axes, tif.imagej_metadata
        x_resolution = tif.pages[0].tags["XResolution"].value
    assert axes == "ZCYX" and result.dtype == np.uint16
    np.testing.assert_array_equal(result, per_channel_oracle(hyperstack, 1))  # channels never pooled
    assert info["spacing"] == 1.5 and info["unit"] == "um" and x_resolution == (4, 1)
    assert "min" not in info  # the input's display range does not fit the result
    assert info["Info"].startswith("scope 3\n")
    record = json.loads(info["Info"].split("napari_histeq = ", 1)[1])
    assert record["operation"] == "equalize" and record["variant"] == "standard" and record["source"] == "cells.tif"
    assert "1 of 1 files equalised" in capsys.readouterr().out


def test_ome_tiff_keeps_physical_sizes_and_channel_names(tmp_path, hyperstack):
    source = tmp_path / "embryo.ome.tif"
    tifffile.imwrite(source, hyperstack, ome=True,
                     metadata={"axes": "ZCYX", "PhysicalSizeX": 0.3, "PhysicalSizeXUnit": "µm", "PhysicalSizeY": 0.3,
                               "PhysicalSizeZ": 2.0, "Channel": {"Name": ["DAPI", "GFP"]}})
    assert batch(source, "--scope", "plane", "-o", tmp_path / "out") == 0
    with tifffile.TiffFile(tmp_path / "out" / "embryo.ome.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "ZCYX"
        result, ome = tif.series[0].asarray(), tif.ome_metadata
    expected = np.stack([np.stack([textbook_equalize(plane) for plane in planes]) for planes in hyperstack])
    np.testing.assert_array_equal(result, expected)
    for fragment in ('PhysicalSizeX="0.3"', 'PhysicalSizeXUnit="µm"', 'PhysicalSizeZ="2.0"', 'Name="DAPI"',
                     'Name="GFP"', "&quot;scope&quot;: &quot;plane&quot;"):
        assert fragment in ome


def test_plain_tiff_keeps_resolution_tags_and_records_in_its_description(tmp_path, rng):
    image = rng.integers(0, 256, (30, 40)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "scan.tif", image, resolution=(300, 300), resolutionunit="INCH")
    assert batch(tmp_path / "scan.tif", "-o", tmp_path / "out", "--variant", "imagej") == 0
    with tifffile.TiffFile(tmp_path / "out" / "scan.tif") as tif:
        page = tif.pages[0]
        assert page.tags["XResolution"].value == (300, 1) and page.tags["ResolutionUnit"].value == 2
        assert json.loads(page.description)["napari_histeq"]["variant"] == "imagej"
        assert tif.series[0].asarray().shape == image.shape


def test_big_tiff_is_read_and_written_page_by_page_with_the_same_result(tmp_path, hyperstack, monkeypatch):
    from napari_histeq._cli import tiff

    tifffile.imwrite(tmp_path / "big.tif", hyperstack, imagej=True, metadata={"axes": "ZCYX"})
    monkeypatch.setattr(tiff, "LAZY_TIFF_BYTES", 0)
    written = []
    real_imwrite = tifffile.imwrite

    def imwrite(target, data, **options):
        written.append(type(data).__name__)
        return real_imwrite(target, data, **options)

    monkeypatch.setattr(tifffile, "imwrite", imwrite)
    assert batch(tmp_path / "big.tif", "-o", tmp_path / "out") == 0
    assert written == ["generator"]  # pages, never the whole result
    with tifffile.TiffFile(tmp_path / "out" / "big.tif") as tif:
        assert tif.series[0].axes == "ZCYX"
        np.testing.assert_array_equal(tif.series[0].asarray(), per_channel_oracle(hyperstack, 1))


def test_zarr_in_zarr_out_with_the_same_chunks_and_codecs(tmp_path, rng):
    volume = rng.integers(0, 1000, (6, 20, 24)).astype(np.uint16)
    source = zarr.create_array(tmp_path / "vol.zarr", shape=volume.shape, chunks=(2, 10, 12), dtype="uint16",
                               zarr_format=2, chunk_key_encoding={"name": "v2", "separator": "/"})
    source[:] = volume
    assert batch(tmp_path / "vol.zarr", "-o", tmp_path / "out") == 0
    result = zarr.open(tmp_path / "out" / "vol.zarr", mode="r")
    assert result.metadata.zarr_format == 2 and result.metadata.dimension_separator == "/"
    assert result.chunks == (2, 10, 12) and result.dtype == np.uint16
    assert result.compressors == source.compressors
    np.testing.assert_array_equal(result[:], textbook_equalize(volume))
    assert result.attrs["napari_histeq"]["operation"] == "equalize"


def test_ome_zarr_pyramid_levels_share_the_full_resolution_table(tmp_path, rng):
    full = rng.integers(0, 500, (2, 16, 16)).astype(np.uint16)  # CYX
    half = full[:, ::2, ::2].copy()
    root = zarr.open_group(tmp_path / "plate.ome.zarr", mode="w", zarr_format=3)
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": [{"path": "0"}, {"path": "1"}]}],
                         "omero": {"channels": [{"window": {"start": 0, "end": 500}}] * 2}}
    for name, level in (("0", full), ("1", half)):
        root.create_array(name, shape=level.shape, chunks=(1, 8, 8), dtype="uint16")[:] = level
    assert batch(tmp_path / "plate.ome.zarr", "-o", tmp_path / "out") == 0
    out = zarr.open_group(tmp_path / "out" / "plate.ome.zarr", mode="r")
    assert out.attrs["ome"]["multiscales"][0]["axes"] == axes
    assert "window" not in out.attrs["ome"]["omero"]["channels"][0]
    for channel in range(2):
        table = textbook_table([int(v) for v in full[channel].ravel()], range(65536), 65535)
        np.testing.assert_array_equal(out["0"][channel], [[table[v] for v in row] for row in full[channel]])
        np.testing.assert_array_equal(out["1"][channel], [[table[v] for v in row] for row in half[channel]])


@pytest.mark.parametrize("channels", [3, 4])
def test_colour_png_follows_the_colour_rules_and_keeps_alpha(tmp_path, rng, channels):
    rgba = rng.integers(0, 150, (20, 30, channels)).astype(np.uint8)
    iio.imwrite(tmp_path / "photo.png", rgba)
    assert batch(tmp_path / "photo.png", "-o", tmp_path / "out") == 0
    result = iio.imread(tmp_path / "out" / "photo.png")
    for channel in range(3):
        np.testing.assert_array_equal(result[..., channel], textbook_equalize(rgba[..., channel]))
    if channels == 4:
        np.testing.assert_array_equal(result[..., 3], rgba[..., 3])
    from PIL import Image

    assert json.loads(Image.open(tmp_path / "out" / "photo.png").text["napari_histeq"])["rgb_mode"] == "channels"


def test_lossy_formats_and_numpy_arrays_become_tiff(tmp_path, rng):
    image = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    iio.imwrite(tmp_path / "photo.jpg", image)
    np.save(tmp_path / "array.npy", image)  # read by NumPy: napari's reader plugins need napari
    assert batch(tmp_path, "-o", tmp_path / "out") == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "array.tif"), textbook_equalize(image))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "photo.tif"),
                                  textbook_equalize(iio.imread(tmp_path / "photo.jpg")))


def test_a_numpy_file_that_is_not_an_image_is_refused_with_its_shape(tmp_path, capsys):
    np.save(tmp_path / "line.npy", np.arange(10, dtype=np.uint16))  # tifffile failed to write it: IndexError
    np.save(tmp_path / "scalar.npy", np.array(5, np.uint8))
    assert batch(tmp_path, "-o", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "line.npy: cannot read it as an image: a 1-D array of shape (10,); an image has two axes or more" in err
    assert "scalar.npy: cannot read it as an image: a 0-D array of shape ()" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_pickled_numpy_file_is_refused_and_runs_no_code(tmp_path, capsys):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    assert batch(tmp_path / "objects.npy", "-o", tmp_path / "out") == 1
    said = capsys.readouterr().err
    assert "objects.npy: cannot read it as an image: Array can't be memory-mapped: Python objects" in said
    assert not (tmp_path / "out" / "objects.tif").exists()


def test_other_formats_through_napari_reader_plugins(tmp_path, rng):
    npe2 = pytest.importorskip("npe2")
    image = rng.integers(0, 4096, (20, 30)).astype(np.uint16)
    (tmp_path / "scan.madeup").write_bytes(b"a vendor's format")
    with npe2.DynamicPlugin("madeup-reader") as plugin:
        @plugin.contribute.reader(filename_patterns=["*.madeup"])
        def read_madeup(path):
            return lambda path: [(image, {"name": "scan"}, "image")]

        assert batch(tmp_path / "scan.madeup", "-o", tmp_path / "out") == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "scan.tif"), textbook_equalize(image))


def test_folders_globs_and_recursion_keep_sub_folders(tmp_path, rng):
    image = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    for name in ("a/one.png", "a/deep/two.png", "a/.hidden/three.png", "b/four.tif"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(tmp_path / name, image)
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    assert batch(tmp_path / "a", "-o", tmp_path / "flat") == 0
    assert sorted(p.name for p in (tmp_path / "flat").rglob("*.png")) == ["one.png"]
    assert batch(tmp_path / "a", "-r", "-o", tmp_path / "deep") == 0
    assert sorted(str(p.relative_to(tmp_path / "deep")) for p in (tmp_path / "deep").rglob("*.png")) == [
        "deep/two.png", "one.png"]
    assert batch(f"{tmp_path}/**/*.tif", "-r", "-o", tmp_path / "glob") == 0
    assert (tmp_path / "glob" / "b" / "four.tif").exists()
    # results inside an input folder are not taken for inputs on the next run
    assert batch(tmp_path / "a", "-r", "-o", tmp_path / "a" / "out") == 0
    assert batch(tmp_path / "a", "-r", "--skip-existing", "-o", tmp_path / "a" / "out") == 0
    assert not (tmp_path / "a" / "out" / "out").exists()


def test_inputs_are_never_written_over(tmp_path, rng, capsys):
    image = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    iio.imwrite(tmp_path / "scan.png", image)
    for extra in ([], ["--overwrite"]):
        assert batch(tmp_path, *extra, "-o", tmp_path) == 2
        assert "never replaced" in capsys.readouterr().err
    np.testing.assert_array_equal(iio.imread(tmp_path / "scan.png"), image)


def test_two_inputs_never_share_a_result(tmp_path, rng, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        iio.imwrite(tmp_path / folder / "x.png", rng.integers(0, 256, (8, 8)).astype(np.uint8))
    iio.imwrite(tmp_path / "a" / "y.jpg", rng.integers(0, 256, (8, 8)).astype(np.uint8))
    tifffile.imwrite(tmp_path / "a" / "y.tif", rng.integers(0, 256, (8, 8)).astype(np.uint8))
    assert batch(tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", "-o", tmp_path / "out") == 2
    assert "would both be written to" in capsys.readouterr().err
    assert batch(tmp_path / "a", "-o", tmp_path / "out") == 2  # y.jpg becomes y.tif, as y.tif does
    assert "would both be written to" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_existing_results_need_overwrite_or_skip_existing(tmp_path, rng, capsys):
    image = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    iio.imwrite(tmp_path / "in.png", image)
    (tmp_path / "out").mkdir()
    iio.imwrite(tmp_path / "out" / "in.png", np.zeros_like(image))
    assert batch(tmp_path / "in.png", "-o", tmp_path / "out") == 2
    assert "--overwrite" in capsys.readouterr().err
    assert not iio.imread(tmp_path / "out" / "in.png").any()
    assert batch(tmp_path / "in.png", "--skip-existing", "-o", tmp_path / "out") == 0
    assert not iio.imread(tmp_path / "out" / "in.png").any()
    assert "skipped" in capsys.readouterr().out
    assert batch(tmp_path / "in.png", "--overwrite", "-o", tmp_path / "out") == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "in.png"), textbook_equalize(image))


def test_overwrite_replaces_a_zarr_store_whole(tmp_path, rng):
    volume = rng.integers(0, 100, (4, 8, 8)).astype(np.uint8)
    zarr.create_array(tmp_path / "v.zarr", shape=volume.shape, chunks=(2, 8, 8), dtype="uint8")[:] = volume
    assert batch(tmp_path / "v.zarr", "-o", tmp_path / "out") == 0
    assert batch(tmp_path / "v.zarr", "--scope", "plane", "--overwrite", "-o", tmp_path / "out") == 0
    result = zarr.open(tmp_path / "out" / "v.zarr", mode="r")
    np.testing.assert_array_equal(result[:], np.stack([textbook_equalize(plane) for plane in volume]))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["v.zarr"]  # no old or partial copy left


def test_dry_run_lists_and_writes_nothing(tmp_path, rng, capsys):
    iio.imwrite(tmp_path / "a.png", rng.integers(0, 256, (8, 8)).astype(np.uint8))
    assert batch(tmp_path / "a.png", "--dry-run", "-o", tmp_path / "out") == 0
    printed = capsys.readouterr().out
    assert f"write  {tmp_path / 'out' / 'a.png'}" in printed and "nothing was" in printed
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("debug", [False, True])
def test_a_bad_file_is_one_line_and_the_others_still_run(tmp_path, rng, capsys, debug):
    good = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    iio.imwrite(tmp_path / "good.png", good)
    (tmp_path / "bad.tif").write_bytes(b"II*\x00garbage")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    args = [tmp_path / "bad.tif", tmp_path / "bad.png", tmp_path / "missing.tif", tmp_path / "good.png"]
    assert batch(*args, "-o", tmp_path / "out", *(["--debug"] if debug else [])) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("napari-histeq batch: error:")]
    assert len(errors) == 3 and any(f"{tmp_path / 'missing.tif'}: no such file" in line for line in errors)
    if not debug:  # one line each: a reader's advice over several lines is not printed
        assert len(captured.err.strip().splitlines()) == 3
    assert ("Traceback" in captured.err) == debug
    assert "1 of 4 files equalised, 3 failed" in captured.out
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "good.png"), textbook_equalize(good))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]


def test_an_interrupt_leaves_no_partial_file(tmp_path, rng, monkeypatch, capsys):
    image = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", image)
    real_imwrite = tifffile.imwrite

    def interrupted(target, data, **options):
        real_imwrite(target, data[: len(data) // 2], **options)  # half written, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(tifffile, "imwrite", interrupted)
    assert batch(tmp_path / "a.tif", "-o", tmp_path / "out") == 130
    assert "interrupted" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []


def test_bad_options_are_argparse_errors(capsys):
    for args in (["-j", "0", "x.png", "-o", "out"], ["x.png"], ["--overwrite", "--skip-existing", "x", "-o", "o"]):
        with pytest.raises(SystemExit) as stop:
            batch(*args)
        assert stop.value.code == 2 and "usage: napari-histeq batch" in capsys.readouterr().err


def test_parallel_jobs_in_forked_processes_after_the_kernels_ran(tmp_path, rng):
    # The parent has run the kernels (its threads exist) before the pool forks; under OpenMP's layer too.
    images = {f"img{i}.tif": rng.integers(0, 4096, (2, 64, 64)).astype(np.uint16) for i in range(5)}
    for name, image in images.items():
        tifffile.imwrite(tmp_path / name, image)
    script = (
        "import sys, numpy as np; from napari_histeq import equalize; from napari_histeq._cli import main\n"
        "equalize(np.arange(1 << 20, dtype=np.uint16).reshape(1024, 1024))\n"
        f"sys.exit(main(['batch', {str(tmp_path)!r}, '-o', {str(tmp_path / 'out')!r}, '-j', '3', '-q']))\n"
    )
    environment = {**__import__("os").environ, "NUMBA_THREADING_LAYER": "omp",
                   "NAPARI_HISTEQ_BACKEND": "numpy"}  # the CPU's kernels, also where a GPU is the default
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # --quiet
    for name, image in images.items():
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / name), textbook_equalize(image))


def test_sharded_zarr_keeps_its_shards_and_dimension_names(tmp_path, rng):
    volume = rng.integers(0, 300, (4, 32, 32)).astype(np.uint16)
    zarr.create_array(tmp_path / "s.zarr", shape=volume.shape, chunks=(1, 16, 16), shards=(2, 32, 32),
                      dtype="uint16", dimension_names=("z", "y", "x"))[:] = volume
    assert batch(tmp_path / "s.zarr", "--scope", "plane", "-o", tmp_path / "out") == 0
    result = zarr.open(tmp_path / "out" / "s.zarr", mode="r")
    assert result.shards == (2, 32, 32) and result.chunks == (1, 16, 16)
    assert result.metadata.dimension_names == ("z", "y", "x")
    np.testing.assert_array_equal(result[:], np.stack([textbook_equalize(plane) for plane in volume]))


def test_ctrl_c_stops_parallel_workers_and_leaves_only_whole_results(tmp_path):
    import os
    import signal
    import time

    rng = np.random.default_rng(4)
    stack = rng.integers(0, 60000, (10, 512, 512)).astype(np.uint16)
    for index in range(20):  # slow to write: time to interrupt, even when this process waits for a core
        tifffile.imwrite(tmp_path / f"s{index}.tif", stack, compression="zlib")
    out = tmp_path / "out"
    # Ctrl-C as a terminal gives it: a test run in the background of a script (bash without job
    # control) ignores SIGINT, and the command started here would inherit that and run to the end.
    with_ctrl_c = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "runpy.run_module('napari_histeq', run_name='__main__', alter_sys=True)")
    run = subprocess.Popen([sys.executable, "-c", with_ctrl_c, "batch", str(tmp_path), "-o", str(out), "-j", "2"],
                           start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(out.glob("s*.tif")) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.02)
    before = (run.poll(), sorted(path.name for path in out.glob("*")) if out.exists() else [])
    os.killpg(run.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, workers included
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, (before, stderr, stdout)  # (exit status, files) just before Ctrl-C
    assert "interrupted" in stderr and "Traceback" not in stderr
    written = sorted(out.iterdir())
    assert all(not path.name.startswith(".") for path in written)  # no partial file
    assert len(written) < 20
    expected = textbook_equalize(stack)
    for path in written:
        np.testing.assert_array_equal(tifffile.imread(path), expected)


def test_bleach_and_match_operations(tmp_path, rng):
    from napari_histeq import bleaching_series, correct_bleaching, match_histograms

    series = bleaching_series((6, 32, 32))
    moved = np.moveaxis(series, 0, 1)  # time second: found from the file's axes
    tifffile.imwrite(tmp_path / "lapse.tif", moved, metadata={"axes": "YTX"})
    assert batch(tmp_path / "lapse.tif", "--bleach", "ratio", "--background", "100", "-o", tmp_path / "b") == 0
    with tifffile.TiffFile(tmp_path / "b" / "lapse.tif") as tif:
        result, record = tif.series[0].asarray(), json.loads(tif.pages[0].description)["napari_histeq"]
    np.testing.assert_array_equal(result, correct_bleaching(moved, method="ratio", axis=1, background=100))
    assert record["operation"] == "bleach" and record["method"] == "ratio"
    reference = rng.integers(500, 3000, (40, 40)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "reference.tif", reference)
    assert batch(tmp_path / "lapse.tif", "--match", tmp_path / "reference.tif", "-o", tmp_path / "m") == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "m" / "lapse.tif"),
                                  match_histograms(moved, reference[None]))  # its distribution, pooled
    assert batch(tmp_path / "lapse.tif", "--match", tmp_path / "nope.tif", "-o", tmp_path / "x") == 2
    assert batch(tmp_path / "lapse.tif", "--bleach", "histogram", "--matching", "fiji", "-o", tmp_path / "f") == 0
    with tifffile.TiffFile(tmp_path / "f" / "lapse.tif") as tif:
        result, record = tif.series[0].asarray(), json.loads(tif.pages[0].description)["napari_histeq"]
    np.testing.assert_array_equal(result, correct_bleaching(moved, axis=1, variant="fiji"))
    assert record["method"] == "histogram" and record["matching"] == "fiji"


def test_bleach_corrects_each_channel_and_each_colour_on_its_own(tmp_path, rng):
    from napari_histeq import correct_bleaching

    exposure = pytest.importorskip("skimage.exposure")
    fade = 0.3 + 0.7 * np.exp(-0.3 * np.arange(5))
    rates = np.array([1.0, 0.3])[:, None, None]
    channels = rng.gamma(3.0, 300.0, (5, 2, 20, 24)) * fade[:, None, None, None] ** rates
    channels = channels.astype(np.uint16)  # t, c, y, x: the second fluorophore fades slower
    tifffile.imwrite(tmp_path / "two.tif", channels, metadata={"axes": "TCYX"})
    assert batch(tmp_path / "two.tif", "--bleach", "histogram", "-o", tmp_path / "out") == 0
    with tifffile.TiffFile(tmp_path / "out" / "two.tif") as tif:
        result, record = tif.series[0].asarray(), json.loads(tif.pages[0].description)["napari_histeq"]
    for t in range(5):
        for c in range(2):
            expected = np.rint(exposure.match_histograms(channels[t, c], channels[0, c]))
            np.testing.assert_array_equal(result[t, c], expected)
    assert record["each_channel"] is True

    colour = (rng.gamma(3.0, 20.0, (5, 16, 18, 4)) * fade[:, None, None, None]).clip(0, 255).astype(np.uint8)
    colour[..., 3] = 200
    tifffile.imwrite(tmp_path / "rgba.tif", colour, photometric="rgb", extrasamples=["unassalpha"])
    assert batch(tmp_path / "rgba.tif", "--bleach", "ratio", "-o", tmp_path / "out") == 0
    result = tifffile.imread(tmp_path / "out" / "rgba.tif")
    for c in range(3):
        np.testing.assert_array_equal(result[..., c], correct_bleaching(colour[..., c], method="ratio"))
    np.testing.assert_array_equal(result[..., 3], colour[..., 3])  # alpha kept


def test_bleach_finds_no_time_axis_in_a_2d_image_or_a_z_stack(tmp_path, rng, capsys):
    from napari_histeq import correct_bleaching

    stack = rng.integers(100, 4000, (5, 12, 16)).astype(np.uint16)
    iio.imwrite(tmp_path / "flat.png", stack[0].astype(np.uint8))
    tifffile.imwrite(tmp_path / "z.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(tmp_path / "unnamed.tif", stack)  # axes not named: the first is taken as time
    assert batch(tmp_path / "flat.png", tmp_path / "z.tif", tmp_path / "unnamed.tif", "--bleach", "ratio",
                 "-o", tmp_path / "out") == 1
    captured = capsys.readouterr()
    assert "flat.png: a 2D image has no time axis" in captured.err
    assert "z.tif: no time axis in this file (axes ZYX): a Z axis is not time; --time-axis N" in captured.err
    assert "1 of 3 files bleach-corrected, 2 failed" in captured.out
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["unnamed.tif"]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "unnamed.tif"),
                                  correct_bleaching(stack, method="ratio"))
    assert batch(tmp_path / "z.tif", "--bleach", "ratio", "--time-axis", "0", "-o", tmp_path / "chosen") == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "chosen" / "z.tif"),
                                  correct_bleaching(stack, method="ratio"))


def test_a_zarr_arrays_dimension_names_give_its_time_and_channel_axes(tmp_path):
    from napari_histeq import bleaching_series, correct_bleaching

    series = np.moveaxis(bleaching_series((6, 24, 24)), 0, 1)  # y, t, x
    zarr.create_array(tmp_path / "lapse.zarr", shape=series.shape, chunks=(12, 2, 24), dtype="uint16",
                      dimension_names=("y", "t", "x"))[:] = series
    assert batch(tmp_path / "lapse.zarr", "--bleach", "ratio", "-o", tmp_path / "out") == 0
    result = zarr.open(tmp_path / "out" / "lapse.zarr", mode="r")
    np.testing.assert_array_equal(result[:], correct_bleaching(series, method="ratio", axis=1))
    assert result.metadata.dimension_names == ("y", "t", "x")


def test_adaptive_method_on_tiff_and_zarr_against_the_peers(tmp_path, rng, capsys):
    exposure = pytest.importorskip("skimage.exposure")
    cv2 = pytest.importorskip("cv2")
    stack = rng.integers(0, 256, (3, 40, 48)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "planes.tif", stack, imagej=True, metadata={"axes": "ZYX"})
    assert batch(tmp_path / "planes.tif", "--method", "adaptive", "--variant", "opencv", "--clip-limit", 2,
                 "--tile-grid", "4,6", "--scope", "plane", "-o", tmp_path / "cv") == 0
    with tifffile.TiffFile(tmp_path / "cv" / "planes.tif") as tif:
        result, info = tif.series[0].asarray(), tif.imagej_metadata
    np.testing.assert_array_equal(result, np.stack([cv2.createCLAHE(2.0, (6, 4)).apply(p) for p in stack]))
    record = json.loads(info["Info"].split("napari_histeq = ", 1)[1])
    assert (record["method"], record["variant"], record["clip_limit"], record["tile_grid"]) == (
        "adaptive", "opencv", 2.0, [4, 6])
    volume = rng.random((10, 24, 30))
    source = zarr.create_array(tmp_path / "vol.zarr", shape=volume.shape, chunks=(4, 12, 30), dtype="float64")
    source[:] = volume
    assert batch(tmp_path / "vol.zarr", "--method", "adaptive", "--kernel-size", "3,8,10", "-o", tmp_path / "sk") == 0
    written = zarr.open(tmp_path / "sk" / "vol.zarr", mode="r")
    np.testing.assert_array_equal(written[:], exposure.equalize_adapthist(volume, kernel_size=(3, 8, 10)))
    assert written.attrs["napari_histeq"]["kernel_size"] == [3, 8, 10]


def test_a_variant_of_the_other_method_is_refused_before_any_work(tmp_path, rng, capsys):
    iio.imwrite(tmp_path / "a.png", rng.integers(0, 256, (16, 16)).astype(np.uint8))
    assert batch(tmp_path / "a.png", "--method", "adaptive", "--variant", "imagej", "-o", tmp_path / "out") == 2
    assert "adaptive equalisation's variant" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["--headless", "--variant", "skimage", "-o", str(tmp_path / "demo")]) == 2
    assert "variant" in capsys.readouterr().err


@pytest.mark.parametrize("given, expected_range", [("0,255", (0, 255)), ("image", None), ("dtype", (0, 65535))])
def test_out_range_sets_the_results_range(tmp_path, rng, given, expected_range):
    import tifffile

    image = rng.integers(100, 3000, (40, 50)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "cells.tif", image)
    assert batch(tmp_path / "cells.tif", "-o", tmp_path / "out", "--out-range", given) == 0
    result = tifffile.imread(tmp_path / "out" / "cells.tif")
    lo, hi = expected_range or (int(image.min()), int(image.max()))  # "image": its own min..max
    np.testing.assert_array_equal(result, textbook_equalize(image, lo=lo, hi=hi))


def test_a_bad_out_range_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        batch(tmp_path / "cells.tif", "--out-range", "0-255")
    assert raised.value.code == 2 and "LO,HI" in capsys.readouterr().err


def test_ctrl_c_in_an_idle_worker_is_quiet_and_refuses_further_files():
    # Ctrl-C reaches the workers with the parent; a worker waiting for its next file used to die
    # with multiprocessing's KeyboardInterrupt traceback on the terminal. Now it stays, refuses the
    # files still queued for it, and leaves when the parent shuts the pool down.
    code = textwrap.dedent("""
        import os, signal, time
        from concurrent.futures import ProcessPoolExecutor
        from napari_histeq._cli.jobs import _start_worker
        from napari_histeq._cli.stopping import Stopped, run_busy
        # as a terminal gives it (a test run in the background of a script inherits SIGINT ignored)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with ProcessPoolExecutor(1, initializer=_start_worker, initargs=(1,)) as pool:
            pool.submit(abs, -1).result()  # the worker is up, and now idle
            (process,) = list(pool._processes.values())
            os.kill(process.pid, signal.SIGINT)
            time.sleep(0.5)
            try:
                pool.submit(run_busy, abs, -1).result()
            except Stopped:
                print("refused")
        process.join(30)
        print("status", process.exitcode)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert "refused" in result.stdout and "status 0" in result.stdout, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
