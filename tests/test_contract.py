"""One input/output contract, every registered operation, every input kind.

Each case runs a registered operation on one kind of input (read-only,
strided, big-endian, dask, zarr, xarray, masked, ``out=``) and compares it
with the same operation on a plain, contiguous, in-memory NumPy copy: the
oracle is the operation's own NumPy result, the rule under test is that the
kind of input changes nothing but the kind of output. The inputs come from
the registry (what an operation needs: a reference, a time axis), so a new
operation is covered by its registry entry alone.
"""

import numpy as np
import pytest

from napari_histeq._engine.validate import output_dtype
from napari_histeq._operations.registry import OPERATIONS
from napari_histeq._operations.settings import Settings

SHAPE = (6, 24, 32)  # t (or z), y, x


def _image(dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.gamma(2.0, 300.0, SHAPE) * np.linspace(1.0, 0.5, SHAPE[0])[:, None, None]
    if np.dtype(dtype).kind == "f":
        return (values / 3000).astype(dtype)
    return np.clip(values, 0, np.iinfo(dtype).max).astype(dtype)


def _call(name, image, **extra):
    """The operation on ``image`` with its registry defaults and what it needs."""
    operation = OPERATIONS[name]
    parameters = {}
    if "reference" in operation.needs:
        parameters["reference"] = _image(image.dtype, seed=1)[:3]  # as many dimensions as the image
    keywords = Settings(operation=name, parameters=parameters, backend="numpy").keywords()
    if "time axis" in operation.needs:
        keywords["axis"] = 0
    return operation.function(image, **keywords, **extra)


def _plain(result):
    return np.asarray(result.compute() if hasattr(result, "compute") else result)


OPERATION_NAMES = list(OPERATIONS)


@pytest.fixture(params=OPERATION_NAMES)
def name(request):
    return request.param


def test_every_registered_operation_keeps_the_contract_by_one_wrapper(name):
    assert getattr(OPERATIONS[name].function, "contract", False), f"{name}'s function is not under array_contract"


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64, np.float16])
def test_output_dtype_is_the_engine_rule_and_the_input_is_untouched(name, dtype):
    image = _image(dtype)
    before = image.copy()
    result = _call(name, image)
    assert result.dtype == output_dtype(np.dtype(dtype)) and result.shape == image.shape
    np.testing.assert_array_equal(image, before)


def test_read_only_strided_and_big_endian_inputs_give_the_plain_result(name):
    image = _image()
    expected = _call(name, image)
    read_only = image.copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(_call(name, read_only), expected)
    wide = np.zeros(SHAPE[:2] + (SHAPE[2] * 2,), image.dtype)
    wide[..., ::2] = image
    np.testing.assert_array_equal(_call(name, wide[..., ::2]), expected)  # non-contiguous
    transposed = np.ascontiguousarray(image.transpose(2, 1, 0)).transpose(2, 1, 0)  # Fortran order
    np.testing.assert_array_equal(_call(name, transposed), expected)
    big_endian = image.astype(image.dtype.newbyteorder(">"))
    result = _call(name, big_endian)
    np.testing.assert_array_equal(result, expected)
    assert result.dtype.kind == expected.dtype.kind and result.dtype.itemsize == expected.dtype.itemsize


def test_dask_and_zarr_stay_lazy_and_give_the_in_memory_result(name):
    da = pytest.importorskip("dask.array")
    zarr = pytest.importorskip("zarr")
    image = _image()
    expected = _call(name, image)
    chunks = (SHAPE[0], 12, 16) if "time axis" in OPERATIONS[name].needs else (2, 12, 16)
    lazy = _call(name, da.from_array(image, chunks=chunks))
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), expected)
    store = zarr.create_array(zarr.storage.MemoryStore(), shape=SHAPE, chunks=chunks, dtype=image.dtype)
    store[:] = image
    np.testing.assert_array_equal(_plain(_call(name, store)), expected)


def test_xarray_keeps_dims_coords_and_attrs(name):
    xr = pytest.importorskip("xarray")
    image = _image()
    array = xr.DataArray(image, dims=("t", "y", "x"), coords={"t": np.arange(SHAPE[0]) * 2.5},
                         attrs={"units": "counts"})
    result = _call(name, array)
    assert isinstance(result, xr.DataArray) and result.dims == ("t", "y", "x")
    assert result.attrs == {"units": "counts"} and np.array_equal(result["t"], array["t"])
    np.testing.assert_array_equal(result.values, _call(name, image))


def test_a_masked_array_counts_its_valid_pixels_and_keeps_its_mask(name):
    image = _image()
    invalid = np.zeros(SHAPE, bool)
    invalid[:, :6, :] = True  # every time point keeps valid pixels
    result = _call(name, np.ma.MaskedArray(image, mask=invalid))
    assert isinstance(result, np.ma.MaskedArray)
    np.testing.assert_array_equal(np.ma.getmaskarray(result), invalid)
    np.testing.assert_array_equal(result.data, _call(name, image, mask=~invalid))


def test_out_fills_plain_arrays_and_is_refused_for_lazy_and_wrapped_inputs(name):
    import inspect

    if "out" not in inspect.signature(OPERATIONS[name].function).parameters:
        pytest.skip(f"{name} takes no out= (it returns a new array)")
    da = pytest.importorskip("dask.array")
    image = _image()
    expected = _call(name, image)
    out = np.empty_like(expected)
    assert _call(name, image, out=out) is out
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(TypeError, match="out= takes in-memory arrays"):
        _call(name, da.from_array(image, chunks=(2, 12, 16)), out=np.empty_like(expected))
    with pytest.raises(TypeError, match="out= takes plain arrays"):
        _call(name, np.ma.MaskedArray(image), out=np.empty_like(expected))


@pytest.mark.gpu
def test_cupy_in_gives_cupy_out_with_the_numpy_result(name, cupy):
    image = _image()
    expected = _call(name, image)
    operation = OPERATIONS[name]
    device_image = cupy.asarray(image)
    parameters = {"reference": cupy.asarray(_image(image.dtype, seed=1)[:3])} if "reference" in operation.needs else {}
    keywords = Settings(operation=name, parameters=parameters).keywords()
    if "time axis" in operation.needs:
        keywords["axis"] = 0
    result = operation.function(device_image, **keywords)
    assert isinstance(result, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(result), expected)
