"""dask and zarr arrays: lazy results, one histogram pass, no recomputation, distributed."""

import threading
import tracemalloc

import numpy as np
import pytest

from napari_histeq import equalize, fit_equalization, histogram

da = pytest.importorskip("dask.array")


class CountingArray:
    """An array-like that counts the pixels read from it (a stand-in for a chunk store)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.pixels_read = 0
        self._lock = threading.Lock()

    def __getitem__(self, index):
        part = self.data[index]
        with self._lock:
            self.pixels_read += part.size
        return part


def stack(dtype=np.uint16, shape=(6, 64, 80), seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.gamma(2.0, 0.05, shape).astype(dtype)
    return rng.gamma(2.0, 300.0, shape).clip(0, np.iinfo(dtype).max).astype(dtype)


@pytest.mark.parametrize("variant", ["standard", "opencv", "imagej"])
@pytest.mark.parametrize("axis", [None, (-2, -1), (-3, -2, -1)], ids=["pooled", "planes", "volume"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.int64])
def test_dask_in_dask_out_equal_to_eager(dtype, axis, variant):
    data = stack(dtype)
    lazy = da.from_array(data, chunks=(2, 32, 40))
    out = equalize(lazy, axis=axis, variant=variant)
    assert isinstance(out, da.Array) and out.chunks == lazy.chunks and out.dtype == equalize(data[:1]).dtype
    np.testing.assert_array_equal(out.compute(), equalize(data, axis=axis, variant=variant))


def test_masks_lazy_and_eager():
    data = stack()
    roi = np.zeros(data.shape[-2:], bool)
    roi[10:40, 20:70] = True
    lazy = da.from_array(data, chunks=(3, 64, 40))
    np.testing.assert_array_equal(equalize(lazy, mask=roi).compute(), equalize(data, mask=roi))
    lazy_mask = da.from_array(np.broadcast_to(roi, data.shape), chunks=(1, 32, 80))
    np.testing.assert_array_equal(equalize(lazy, mask=lazy_mask, axis=(-2, -1)).compute(),
                                  equalize(data, mask=roi, axis=(-2, -1)))


def test_histogram_of_a_dask_array():
    data = stack()
    counts, edges = histogram(da.from_array(data, chunks=(2, 64, 40)), axis=(-2, -1))
    expected, expected_edges = histogram(data, axis=(-2, -1))
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(edges, expected_edges)


def test_fit_reads_every_pixel_once_and_a_plane_reads_only_its_chunks():
    data = stack(np.uint16, shape=(8, 64, 64))
    source = CountingArray(data)
    lazy = da.from_array(source, chunks=(1, 32, 64), asarray=False)
    fitted = fit_equalization(lazy, axis=(-2, -1))
    assert source.pixels_read == data.size  # one histogram pass, no min/max pass
    out = fitted.apply(lazy)
    assert source.pixels_read == data.size  # applying is lazy
    plane = out[3].compute()
    assert source.pixels_read == data.size + data[3].size  # that plane's chunks only, no new histogram
    np.testing.assert_array_equal(plane, equalize(data, axis=(-2, -1))[3])


def test_floats_need_one_range_pass_more():
    data = stack(np.float32, shape=(4, 32, 32))
    source = CountingArray(data)
    fit_equalization(da.from_array(source, chunks=(1, 32, 32), asarray=False))
    assert source.pixels_read == 2 * data.size


@pytest.mark.parametrize("axis, planes", [(None, 192), ((-2, -1), 48)], ids=["pooled", "planes"])
def test_zarr_store_on_disk_in_little_memory(tmp_path, axis, planes):
    zarr = pytest.importorskip("zarr")
    shape, chunks = (planes, 256, 256), (1, 256, 256)  # uint16 in 128 KiB chunks
    source = zarr.create_array(store=str(tmp_path / "in.zarr"), shape=shape, chunks=chunks, dtype="uint16")
    for start in range(0, planes, 48):
        source[start : start + 48] = stack(np.uint16, shape=(48, 256, 256), seed=start)
    equalize(da.from_array(source, chunks=chunks)[:2], axis=axis).compute()  # load the kernels first
    tracemalloc.start()
    result = equalize(source, axis=axis)  # a zarr array: processed chunk by chunk
    da.to_zarr(result, str(tmp_path / "out.zarr"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    volume = planes * 256 * 256 * 2
    if axis is None:
        assert peak < volume / 2, f"peak {peak / 2**20:.1f} MiB for a {volume / 2**20:.0f} MiB volume"
    else:  # one 65536-bin histogram per plane: the counters dominate
        counters = planes * 65536 * 8
        assert peak < 2 * counters + volume / 2, f"peak {peak / 2**20:.1f} MiB"
    written = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    np.testing.assert_array_equal(written[:], equalize(source[:], axis=axis))


def test_distributed_local_cluster():
    distributed = pytest.importorskip("distributed")
    data = stack(np.uint16)
    lazy = da.from_array(data, chunks=(2, 32, 40))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        out = equalize(lazy, axis=(-2, -1), variant="imagej").compute()
    np.testing.assert_array_equal(out, equalize(data, axis=(-2, -1), variant="imagej"))


def test_grouped_table_on_a_mismatched_dask_array_fails_at_once():
    fitted = fit_equalization(stack(np.uint8, shape=(3, 16, 16)), axis=(-2, -1))
    with pytest.raises(ValueError, match="does not match"):
        fitted.apply(da.zeros((4, 16, 16), dtype=np.uint8, chunks=(1, 16, 16)))
