"""Wrapped arrays: masked arrays and xarray DataArrays in, the same kind out."""

from __future__ import annotations

import numpy as np

from ._validate import check_mask


def _is_data_array(array) -> bool:
    """True for an xarray ``DataArray`` (tested without importing xarray)."""
    return type(array).__name__ == "DataArray" and type(array).__module__.split(".")[0] == "xarray"


def unwrap(image, mask):
    """``(data, mask, wrap)``: a masked array or an xarray DataArray as a plain array, and how to wrap a result.

    A masked array's valid pixels (within ``mask``) are the region of
    interest and its result keeps its mask; a DataArray's result keeps its
    dims, coords and attributes (and stays lazy when its data is dask).
    ``wrap`` is None for plain arrays.
    """
    if _is_data_array(mask):
        mask = mask.data
    if isinstance(image, np.ma.MaskedArray):
        invalid = np.ma.getmaskarray(image)
        roi = ~invalid if mask is None else ~invalid & check_mask(mask, image.shape)
        return np.asarray(image.data), roi, lambda result: np.ma.MaskedArray(result, mask=invalid.copy())
    if _is_data_array(image):
        return image.data, mask, lambda result: image.copy(data=result)
    return image, mask, None


def check_no_out_for_wrapped(out):
    if out is not None:
        raise TypeError("out= takes plain arrays; for a masked array or a DataArray use the returned one")


def check_no_out_for_lazy(out):
    if out is not None:
        raise TypeError(
            "out= takes in-memory arrays; for dask or zarr input write the lazy result "
            "with dask.array.store or dask.array.to_zarr"
        )


def unwrap_pixels(image, mask):
    """:func:`unwrap` for an image whose last axis holds a pixel's colour samples: a pixel is in
    the region of interest when none of its samples is masked; the result keeps the samples' mask."""
    if not isinstance(image, np.ma.MaskedArray):
        return unwrap(image, mask)
    invalid = np.ma.getmaskarray(image)
    valid = ~invalid.any(axis=-1) if invalid.ndim > 1 else ~invalid
    roi = valid if mask is None else valid & check_mask(mask, valid.shape)
    return np.asarray(image.data), roi, lambda result: np.ma.MaskedArray(result, mask=invalid.copy())
