"""Adaptive equalisation of dask and zarr arrays: lazy, equal to the eager result, in little memory."""

import tracemalloc

import numpy as np
import pytest

from napari_histeq import _kernels, equalize_adapthist

da = pytest.importorskip("dask.array")


def volume(dtype=np.uint16, shape=(12, 70, 90), seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.gamma(2.0, 0.05, shape).astype(dtype)
    return rng.gamma(2.0, 40.0, shape).clip(0, np.iinfo(dtype).max).astype(dtype)


@pytest.mark.parametrize("chunks", [(5, 33, 40), (12, 70, 90), (1, 17, 90)], ids=["small", "one", "thin"])
@pytest.mark.parametrize("options", [{}, {"kernel_size": (5, 30, 20), "nbins": 100}, {"axis": (-2, -1)},
                                     {"variant": "opencv", "axis": (-2, -1), "clip_limit": 2.0},
                                     {"variant": "opencv", "axis": (1, 2), "tile_grid": (3, 7)}])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_dask_result_is_lazy_and_equal_to_eager(dtype, options, chunks):
    data = volume(dtype)
    lazy = equalize_adapthist(da.from_array(data, chunks=chunks), **options)
    assert isinstance(lazy, da.Array) and lazy.chunks == da.from_array(data, chunks=chunks).chunks
    np.testing.assert_array_equal(lazy.compute(), equalize_adapthist(data, **options))


def test_floats_with_nan_masks_and_output_ranges():
    data = volume(np.float64)
    data[3, 4, 5], data[7, 8, 9] = np.nan, np.inf
    mask = np.random.default_rng(1).random(data.shape[1:]) > 0.3
    lazy = da.from_array(data, chunks=(4, 30, 50))
    for options in ({}, {"mask": mask}, {"out_range": "image"}, {"axis": (-2, -1), "mask": mask}):
        np.testing.assert_array_equal(equalize_adapthist(lazy, **options).compute(),
                                      equalize_adapthist(data, **options))
    with pytest.raises(ValueError, match="no pixel"):
        equalize_adapthist(lazy, mask=np.zeros(data.shape, bool))


def test_zarr_volume_on_disk_in_little_memory(tmp_path):
    zarr = pytest.importorskip("zarr")
    shape, chunks = (192, 256, 256), (4, 256, 256)  # 24 MiB of uint16 in 512 KiB chunks
    source = zarr.create_array(store=str(tmp_path / "in.zarr"), shape=shape, chunks=chunks, dtype="uint16")
    for start in range(0, shape[0], 24):
        source[start:start + 24] = volume(np.uint16, (24, 256, 256), seed=start)
    equalize_adapthist(da.from_array(source, chunks=chunks)[:8]).compute()  # load the kernels and zarr's codecs first
    tracemalloc.start()
    result = equalize_adapthist(source)  # a zarr array: processed chunk by chunk
    da.to_zarr(result, str(tmp_path / "out.zarr"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = np.prod(shape) * 2
    # the kernels' blend writes each chunk straight out; the reference's makes float64 temporaries of a
    # chunk per corner (several chunks' worth at once, still not the volume)
    bound = size / 2.5 if _kernels.clahe_kernels() is not None else size
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB volume"
    written = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    np.testing.assert_array_equal(written[:], equalize_adapthist(source[:]))


def test_bad_parameters_fail_at_the_call_not_at_compute():
    lazy = da.zeros((4, 32, 32), dtype=np.uint8, chunks=(2, 16, 16))
    with pytest.raises(ValueError, match="2D planes"):
        equalize_adapthist(lazy, variant="opencv")
    with pytest.raises(ValueError, match="kernel_size"):
        equalize_adapthist(lazy, kernel_size=64)
    with pytest.raises(TypeError, match="out="):
        equalize_adapthist(lazy, out=np.empty((4, 32, 32), np.uint8))
