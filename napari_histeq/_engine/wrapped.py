"""Wrapped arrays: masked arrays and xarray DataArrays in, the same kind out; the contract every public
operation keeps (:func:`array_contract`).
"""

from __future__ import annotations

import functools

import numpy as np

from .backend import is_lazy_array
from .validate import check_mask


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
    the region of interest when none of its samples is masked; the result keeps the samples' mask.
    """
    if not isinstance(image, np.ma.MaskedArray):
        return unwrap(image, mask)
    invalid = np.ma.getmaskarray(image)
    valid = ~invalid.any(axis=-1) if invalid.ndim > 1 else ~invalid
    roi = valid if mask is None else valid & check_mask(mask, valid.shape)
    return np.asarray(image.data), roi, lambda result: np.ma.MaskedArray(result, mask=invalid.copy())


def array_contract(function=None, *, colour_samples=False):
    """The input/output contract every public operation keeps, applied once, here.

    A masked array's valid pixels (within ``mask``) are the region of interest
    and its result keeps its mask; an xarray DataArray's result keeps its dims,
    coords and attributes; ``out=`` takes plain in-memory arrays only (wrapped
    or lazy inputs return their result). ``colour_samples``: the last axis
    holds a pixel's colour samples (a pixel is masked when any sample is).
    The operation itself sees plain NumPy, CuPy or dask arrays; the
    dtype, byte-order and memory-layout rules are the engine's (``validate``).
    """
    if function is None:
        return lambda function: array_contract(function, colour_samples=colour_samples)

    @functools.wraps(function)
    def contracted(image, *args, mask=None, **options):
        out = options.get("out")
        image, mask, wrap = (unwrap_pixels if colour_samples else unwrap)(image, mask)
        if wrap is not None:
            check_no_out_for_wrapped(out)
            return wrap(function(image, *args, mask=mask, **options))
        if out is not None and is_lazy_array(image):
            check_no_out_for_lazy(out)
        return function(image, *args, mask=mask, **options)

    contracted.contract = True  # the contract tests check that every registered operation has it
    return contracted
