"""Inputs that are more than a plain array: masked arrays, xarray DataArrays, dask RGB,
unknown dask chunks, all-NaN planes and longdouble. Each gives the obvious result or a clear error.
"""

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import equalize, equalize_rgb, fit_equalization, histogram


def test_masked_array_is_equalised_from_its_valid_pixels_and_keeps_its_mask(rng):
    data = rng.integers(0, 200, (20, 30)).astype(np.uint8)
    invalid = np.zeros(data.shape, bool)
    invalid[:5] = True
    image = np.ma.MaskedArray(data, mask=invalid)
    out = equalize(image)
    assert isinstance(out, np.ma.MaskedArray) and np.array_equal(out.mask, invalid)
    np.testing.assert_array_equal(out.data, textbook_equalize(data, mask=~invalid))
    counts, _ = histogram(image)
    np.testing.assert_array_equal(counts, np.bincount(data[~invalid], minlength=256))
    fitted = fit_equalization(image)
    np.testing.assert_array_equal(fitted.apply(image).data, out.data)
    assert np.array_equal(fitted.apply(image).mask, invalid)
    roi = np.zeros(data.shape, bool)
    roi[:, :10] = True  # an explicit mask narrows the valid pixels further
    np.testing.assert_array_equal(equalize(image, mask=roi).data, textbook_equalize(data, mask=~invalid & roi))
    with pytest.raises(ValueError, match="mask selects no pixel"):
        equalize(np.ma.MaskedArray(data, mask=True))
    with pytest.raises(TypeError, match="out="):
        equalize(image, out=np.empty_like(data))


def test_data_array_keeps_dims_coords_attrs_and_laziness(rng):
    xr = pytest.importorskip("xarray")
    da = pytest.importorskip("dask.array")
    data = rng.integers(0, 4000, (3, 16, 20)).astype(np.uint16)
    image = xr.DataArray(data, dims=("z", "y", "x"), coords={"z": [0.5, 1.0, 1.5]}, attrs={"unit": "counts"},
                         name="cells")
    out = equalize(image, axis=(-2, -1))
    assert isinstance(out, xr.DataArray) and out.dims == image.dims and out.attrs == image.attrs
    assert out.name == "cells" and np.array_equal(out.coords["z"], image.coords["z"])
    for z in range(3):
        np.testing.assert_array_equal(out.values[z], textbook_equalize(data[z]))
    lazy = image.chunk({"z": 1})
    lazy_out = equalize(lazy, axis=(-2, -1))
    assert isinstance(lazy_out.data, da.Array)  # not computed
    np.testing.assert_array_equal(lazy_out.values, out.values)
    np.testing.assert_array_equal(fit_equalization(image).apply(image).values, equalize(data))


def test_rgb_on_dask_stays_lazy(rng):
    da = pytest.importorskip("dask.array")
    rgb = rng.integers(0, 150, (2, 30, 40, 4)).astype(np.uint8)
    for mode in ("channels", "value"):
        lazy = equalize_rgb(da.from_array(rgb, chunks=(1, 30, 40, 4)), mode=mode, axis=(-2, -1))
        assert isinstance(lazy, da.Array)
        np.testing.assert_array_equal(lazy.compute(), equalize_rgb(rgb, mode=mode, axis=(-2, -1)))


def test_dask_floats_with_unknown_chunk_sizes(rng):
    da = pytest.importorskip("dask.array")
    stack = rng.gamma(2.0, 0.1, (4, 50, 60))
    lazy = da.from_array(stack, chunks=(1, 25, 60))
    selected = lazy[lazy[:, 0, 0] >= 0]  # boolean indexing: chunk sizes along axis 0 are unknown
    assert np.isnan(selected.chunks[0][0])
    np.testing.assert_array_equal(equalize(selected).compute(), equalize(stack))
    np.testing.assert_array_equal(equalize(selected, axis=(-2, -1)).compute(), equalize(stack, axis=(-2, -1)))


@pytest.mark.parametrize("lazy", [False, True], ids=["eager", "dask"])
def test_an_all_nan_plane_stays_nan_and_the_others_are_equalised(rng, lazy):
    stack = rng.gamma(2.0, 0.1, (3, 20, 30)).astype(np.float32)
    stack[1] = np.nan
    stack[1, 0, :2] = [np.inf, -np.inf]
    source = stack
    if lazy:
        da = pytest.importorskip("dask.array")
        source = da.from_array(stack, chunks=(1, 20, 30))
    out = np.asarray(equalize(source, axis=(-2, -1)))
    assert np.all(np.isnan(out[1, 1:])) and out[1, 0, 0] == 1 and out[1, 0, 1] == 0
    for i in (0, 2):
        np.testing.assert_array_equal(out[i], equalize(stack[i]))
    counts, _ = histogram(source, axis=(-2, -1))
    assert np.asarray(counts)[1].sum() == 0
    with pytest.raises(ValueError, match="no finite pixel"):
        equalize(np.full((4, 4), np.nan))


def test_longdouble_beyond_float64_is_a_clear_error():
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("longdouble is float64 on this platform")
    image = np.ones((4, 4), np.longdouble)
    image[0, 0] = np.longdouble(10) ** 400
    with pytest.raises(ValueError, match="beyond float64"):
        equalize(image)
    image[0, 0] = 2.0
    assert equalize(image).dtype == np.float64
