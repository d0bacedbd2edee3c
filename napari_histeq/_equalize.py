"""The public functions: histogram, fit/apply, equalize.

Each runs the three stages (histogram -> transfer -> apply) on the chosen
backend. The output's array type follows the input's: NumPy in, NumPy out
(even when the GPU computed it); CuPy in, CuPy out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ._apply import apply_lut
from ._backend import array_module, free_device_bytes, is_cupy_array, resolve_backend, to_backend
from ._groups import GroupLayout
from ._histogram import Binning, choose_binning, grouped_counts, nothing_to_count
from ._lazy import apply_lazy, as_dask, fit_lazy, is_lazy_array, lazy_histogram
from ._transfer import tables_from_counts
from ._validate import (
    as_image,
    check_image_dtype,
    check_image_shape,
    check_mask,
    check_nbins,
    check_out,
    check_out_range,
    check_variant,
    normalize_axis,
    output_dtype,
)

#: Pixels per block on the CPU: bounds the int64 temporaries to ~32 MiB.
CPU_BLOCK_ELEMENTS = 1 << 22
#: Bytes of device memory one pixel of a block needs at most (input, index, output).
GPU_BYTES_PER_BLOCK_ELEMENT = 48


class Histogram(NamedTuple):
    """Counts and bin edges, as returned by :func:`histogram`.

    Attributes
    ----------
    counts : array of int64
        Shape ``(nbins,)``, or ``group_shape + (nbins,)`` when ``axis``
        leaves axes out of the histogram (one histogram per group).
    edges : array of float64
        The ``nbins + 1`` bin edges. For 8- and 16-bit integers bin ``i``
        holds exactly the level ``edges[i]``. Floats and 32/64-bit integers
        with several histogram groups bin each group over its own range:
        then ``edges`` has shape ``group_shape + (nbins + 1,)``.
    """

    counts: Any
    edges: Any


@dataclass(frozen=True, eq=False)
class Equalization:
    """A fitted equalisation: binning and look-up table, ready to apply.

    Made by :func:`fit_equalization`; apply it to the array it was fitted
    on, or to others of the same dtype (another time point, a pyramid
    level, a chunk).

    Attributes
    ----------
    lut : numpy.ndarray
        The look-up table in the output dtype: shape ``(nbins,)``, or
        ``group_shape + (nbins,)`` with one table per histogram group.
    binning : Binning
        How pixel values map to rows of ``lut`` (``binning.edges``).
    variant : str
    axis : tuple of int
        The axes each histogram spans, as fitted.
    out_range : tuple
        The ``(lo, hi)`` output range the table spans.
    backend : str
        The backend :meth:`apply` uses unless told otherwise.
    """

    lut: np.ndarray
    binning: Binning
    variant: str
    axis: tuple[int, ...]
    ndim: int
    out_range: tuple
    backend: str = "auto"

    @property
    def edges(self) -> np.ndarray:
        """The bin edges (float64), as :func:`histogram` gives them."""
        return self.binning.edges

    @property
    def group_shape(self) -> tuple[int, ...]:
        return self.lut.shape[:-1]

    def apply(self, image, *, backend=None, out=None):
        """Equalise ``image`` with this table.

        Parameters
        ----------
        image : array
            Same dtype as the fitted image. With one table (``axis=None``)
            any shape works; with one table per group the groups must match.
        backend : {"auto", "numpy", "cupy"}, optional
            Defaults to the backend the fit was asked for.
        out : array, optional
            Where to write the result, as in :func:`equalize`.

        Returns
        -------
        out : array
            Same shape and array type as ``image``, in the output dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from napari_histeq import fit_equalization
        >>> fitted = fit_equalization(np.array([[0, 0, 1, 3]], dtype=np.uint8))
        >>> fitted.apply(np.array([3, 1, 0], dtype=np.uint8))
        array([255, 191, 128], dtype=uint8)
        """
        image, _, wrap = _unwrap(image, None)
        if wrap is not None:
            _check_no_out_for_wrapped(out)
            return wrap(self.apply(image, backend=backend))
        if is_lazy_array(image):
            _check_no_out_for_lazy(out)
            self._check_dtype(image.dtype)
            self._layout_for(image.shape)  # groups must match now, not when a chunk is computed
            return apply_lazy(self if backend is None else dataclasses.replace(self, backend=backend), image)
        data = as_image(image)
        self._check_dtype(data.dtype)
        layout = self._layout_for(data.shape)
        xp = resolve_backend(self.backend if backend is None else backend, data)
        out_dtype = self.lut.dtype
        out = check_out(out, data, out_dtype)

        def run(staged, block_elements):
            return self._apply_staged(xp, staged, layout, block_elements, out)

        return _into(out, _on_backend(xp, data, out_dtype, run))

    def _check_dtype(self, dtype):
        if np.dtype(dtype).newbyteorder("=") != self.binning.dtype:
            raise TypeError(f"this equalisation was fitted on {self.binning.dtype} data; got {dtype}")

    def __call__(self, image, *, backend=None, out=None):
        return self.apply(image, backend=backend, out=out)

    def _layout_for(self, shape) -> GroupLayout:
        if len(self.group_shape) == 0:
            return GroupLayout(tuple(shape), tuple(range(len(shape))))
        layout = GroupLayout(tuple(shape), self.axis)
        if len(shape) != self.ndim or layout.group_shape != self.group_shape:
            raise ValueError(
                f"this equalisation holds one table per group of shape {self.group_shape} "
                f"(axis={self.axis}); an image of shape {tuple(shape)} does not match"
            )
        return layout

    def _apply_staged(self, xp, staged, layout: GroupLayout, block_elements, out=None):
        """Apply to the staged image; straight into ``out`` where :func:`_direct_target` allows."""
        rows = layout.to_rows(xp, staged)
        out_xp = xp if is_cupy_array(staged) else np
        target = _direct_target(out, staged, layout)
        if target is not None:
            out_rows = layout.to_rows(np, target)
        else:
            out_rows = out_xp.empty(rows.shape, dtype=self.lut.dtype)
        lut_rows = xp.asarray(self.lut.reshape(-1, self.binning.nbins))
        apply_lut(xp, rows, lut_rows, self.binning, out_rows, self.out_range, block_elements)
        return target if target is not None else layout.from_rows(out_xp, out_rows)

    def __repr__(self) -> str:
        return (
            f"Equalization(variant={self.variant!r}, dtype={self.binning.dtype}, "
            f"nbins={self.binning.nbins}, groups={self.group_shape}, out_range={self.out_range}, "
            f"out_dtype={self.lut.dtype})"
        )


def histogram(image, *, nbins=None, mask=None, axis=None, backend="auto") -> Histogram:
    """Count the pixels of ``image`` per level (or bin).

    Parameters
    ----------
    image : array
        Integer or float image of any shape (NumPy or CuPy).
    nbins : int, optional
        Bins for float images (default 256) and 32/64-bit integer images
        (default 65536, one bin per level while the spread fits). 8- and
        16-bit images always get one bin per possible level.
    mask : array of bool, optional
        Count only these pixels. Same shape as ``image`` or as its trailing axes.
    axis : None, int or tuple of int, optional
        The axes one histogram spans: None pools every pixel, ``(-2, -1)``
        gives each 2D plane its own histogram.
    backend : {"auto", "numpy", "cupy"}, optional

    Returns
    -------
    hist : Histogram
        ``(counts, edges)``; ``counts`` has shape ``group_shape + (nbins,)``
        and the input's array type.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import histogram
    >>> counts, edges = histogram(np.array([0, 0, 2], dtype=np.uint8))
    >>> counts[:4]
    array([2, 0, 1, 0])
    >>> edges[:3]
    array([0., 1., 2.])
    """
    image, mask, _ = _unwrap(image, mask)  # a masked array counts its valid pixels
    if is_lazy_array(image):
        _validated_lazy(image, nbins, mask, axis, backend)
        counts, edges = lazy_histogram(image, nbins=nbins, mask=mask, axis=normalize_axis(axis, image.ndim),
                                       backend=backend)
        _check_something_counted(counts, mask)
        return Histogram(counts, edges)
    data, xp, layout, mask = _validated(image, nbins, mask, axis, backend)

    def count(staged, block_elements):
        rows, mask_rows = _staged_rows(xp, staged, layout, mask)
        binning = choose_binning(xp, rows, mask_rows, nbins, block_elements)
        counts = grouped_counts(xp, rows, mask_rows, binning, block_elements)
        edges = binning.edges
        if edges.ndim == 2:  # a range per group
            edges = edges.reshape(layout.group_shape + (binning.nbins + 1,))
        return counts.reshape(layout.group_shape + (binning.nbins,)), edges

    counts, edges = _on_backend(xp, data, None, count, convert=False)
    _check_something_counted(counts, mask)
    like = array_module(data)
    return Histogram(to_backend(like, counts), to_backend(like, edges))


def fit_equalization(
    image, *, variant="standard", nbins=None, mask=None, axis=None, out_range="dtype", backend="auto"
) -> Equalization:
    """Fit the equalisation of ``image``: histogram, then look-up table.

    The parameters are those of :func:`equalize`. Apply the result with
    ``fitted.apply(other)`` or ``fitted(other)``.

    Returns
    -------
    fitted : Equalization

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import fit_equalization
    >>> fitted = fit_equalization(np.array([0, 0, 1, 3], dtype=np.uint8))
    >>> fitted.lut[:4]
    array([128, 191, 191, 255], dtype=uint8)
    """
    image, mask, _ = _unwrap(image, mask)  # a masked array is fitted on its valid pixels
    if is_lazy_array(image):
        _validated_lazy(image, nbins, mask, axis, backend)
        check_variant(variant)
        return fit_lazy(image, variant=variant, nbins=nbins, mask=mask, axis=normalize_axis(axis, image.ndim),
                        out_range=check_out_range(out_range, image.dtype), backend=backend)
    data, xp, layout, mask = _validated(image, nbins, mask, axis, backend)
    check_variant(variant)
    out_range = check_out_range(out_range, data.dtype)
    return _on_backend(
        xp,
        data,
        None,
        lambda staged, block: _fit_staged(
            xp, staged, layout, mask, variant, nbins, out_range, backend, block
        ),
        convert=False,
    )


def equalize(
    image, *, variant="standard", nbins=None, mask=None, axis=None, out_range="dtype", backend="auto", out=None
):
    """Equalise the histogram of ``image``.

    Parameters
    ----------
    image : array
        Integer or float image of any shape: 2D, a z-stack, a time series,
        one channel of RGB. NumPy or CuPy; it is never modified.
    variant : {"standard", "opencv", "imagej", "imagej-classic"}
        ``"standard"``: the textbook transform ``round((L-1) * cdf)``.
        ``"opencv"``: bit-exact with ``cv2.equalizeHist``.
        ``"imagej"``: ImageJ's Equalize Histogram (square-root weighted);
        ``"imagej-classic"``: the same with plain counts (Alt held in ImageJ).
    nbins : int, optional
        Bins for float images (default 256) and 32/64-bit integer images
        (default 65536). 8- and 16-bit images get one bin per level.
    mask : array of bool, optional
        Build the histogram from these pixels only; every pixel is mapped.
        Same shape as ``image`` or as its trailing axes.
    axis : None, int or tuple of int, optional
        The axes one histogram spans: None pools every pixel, ``(-2, -1)``
        equalises each 2D plane on its own, ``(-3, -2, -1)`` each volume
        of a time series.
    out_range : "dtype", "image" or (lo, hi)
        ``"dtype"``: the dtype's full range (``[0, 1]`` for floats);
        ``"image"``: the input's own min..max; or an explicit pair.
    backend : {"auto", "numpy", "cupy"}
        ``"auto"`` uses the GPU when one answers (see :func:`backend_info`).
    out : array, optional
        Where to write the result instead of a new array: the image's shape
        and array type, in the output dtype (see Returns). Pass ``image``
        itself to equalise in place. Reusing one ``out`` in a loop saves
        allocating (and the system zeroing) a fresh output every call.

    Returns
    -------
    out : array
        Same shape and array type as ``image`` (``out`` itself when given).
        Integer images keep their dtype; float images give float32 (float64
        for float64 input).

    Raises
    ------
    TypeError
        For bool, complex or non-numeric images, a non-boolean mask, and an
        ``out`` of the wrong dtype or array type.
    ValueError
        For empty or 0-d images, a mask of the wrong shape or selecting no
        pixel, unknown variant, backend, axis or out_range, and an ``out``
        of the wrong shape or read-only.
    RuntimeError
        For ``backend="cupy"`` without a usable GPU.

    Notes
    -----
    The output cannot be perfectly uniform: the transform maps whole input
    levels to whole output levels, so pixels that share a level stay
    together and the number of occupied levels never grows.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import equalize
    >>> image = np.array([[50, 50], [51, 52]], dtype=np.uint8)
    >>> equalize(image)
    array([[128, 128],
           [191, 255]], dtype=uint8)
    >>> result = equalize(image, out=image)  # in place
    >>> result is image, image[1, 1]
    (True, np.uint8(255))
    """
    image, mask, wrap = _unwrap(image, mask)
    if wrap is not None:
        _check_no_out_for_wrapped(out)
        return wrap(equalize(image, variant=variant, nbins=nbins, mask=mask, axis=axis, out_range=out_range,
                             backend=backend))
    if is_lazy_array(image):
        _check_no_out_for_lazy(out)
        image = as_dask(image)  # once, so that fitting and applying see the same chunks
        fitted = fit_equalization(image, variant=variant, nbins=nbins, mask=mask, axis=axis,
                                  out_range=out_range, backend=backend)
        return fitted.apply(image)
    data, xp, layout, mask = _validated(image, nbins, mask, axis, backend)
    check_variant(variant)
    out_range = check_out_range(out_range, data.dtype)
    out_dtype = output_dtype(data.dtype)
    out = check_out(out, data, out_dtype)

    def run(staged, block_elements):
        fitted = _fit_staged(xp, staged, layout, mask, variant, nbins, out_range, backend, block_elements)
        return fitted._apply_staged(xp, staged, layout, block_elements, out)

    return _into(out, _on_backend(xp, data, out_dtype, run))


def _is_data_array(array) -> bool:
    """True for an xarray ``DataArray`` (tested without importing xarray)."""
    return type(array).__name__ == "DataArray" and type(array).__module__.split(".")[0] == "xarray"


def _unwrap(image, mask):
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


def _check_no_out_for_wrapped(out):
    if out is not None:
        raise TypeError("out= takes plain arrays; for a masked array or a DataArray use the returned one")


def _check_no_out_for_lazy(out):
    if out is not None:
        raise TypeError(
            "out= takes in-memory arrays; for dask or zarr input write the lazy result "
            "with dask.array.store or dask.array.to_zarr"
        )


def _direct_target(out, staged, layout: GroupLayout):
    """``out`` when the apply stage can write into it directly, else None (the result is copied in).

    That needs both on the host, ``out`` C-contiguous, in native byte order
    and with the group axes first (so its rows are a view), and ``out`` either the staged image
    itself (in place: each pixel is read before it is written) or apart
    from it: a partial overlap would read pixels already overwritten.
    """
    if not (isinstance(out, np.ndarray) and isinstance(staged, np.ndarray)):
        return None
    if not (out.flags.c_contiguous and out.dtype.isnative and layout.groups_lead):
        return None
    same = out.ctypes.data == staged.ctypes.data and out.strides == staged.strides and out.dtype == staged.dtype
    if not same and np.may_share_memory(out, staged):
        return None
    return out


def _into(out, result):
    """The result, written into ``out`` unless it already is ``out``."""
    if out is None or result is out:
        return result
    out[...] = result
    return out


def _validated(image, nbins, mask, axis, backend):
    data = as_image(image)
    check_nbins(nbins, data.dtype)
    layout = GroupLayout(tuple(data.shape), normalize_axis(axis, data.ndim))
    mask = check_mask(mask, data.shape)
    xp = resolve_backend(backend, data)
    return data, xp, layout, mask


def _validated_lazy(image, nbins, mask, axis, backend):
    """The checks of :func:`_validated` that need no pixel (the image stays lazy)."""
    check_image_dtype(image.dtype)
    check_image_shape(image.shape)
    check_nbins(nbins, image.dtype)
    normalize_axis(axis, image.ndim)
    if mask is not None and not is_lazy_array(mask):
        check_mask(mask, image.shape)
    resolve_backend(backend)


def counts_with_binning(data, mask, layout: GroupLayout, binning: Binning, backend):
    """Counts ``(groups, nbins)`` of an in-memory array with a given binning, like the input's module."""
    xp = resolve_backend(backend, data)

    def count(staged, block_elements):
        rows, mask_rows = _staged_rows(xp, staged, layout, mask)
        return grouped_counts(xp, rows, mask_rows, binning, block_elements)

    return to_backend(array_module(data), _on_backend(xp, data, None, count, convert=False))


def _staged_rows(xp, staged, layout: GroupLayout, mask):
    """The staged image and its mask (moved to ``xp``) as ``(n_groups, group_size)`` rows."""
    mask_rows = None if mask is None else layout.mask_rows(xp, to_backend(xp, mask))
    return layout.to_rows(xp, staged), mask_rows


def _fit_staged(xp, staged, layout, mask, variant, nbins, out_range, backend, block_elements):
    rows, mask_rows = _staged_rows(xp, staged, layout, mask)
    binning = choose_binning(xp, rows, mask_rows, nbins, block_elements)
    counts = to_backend(np, grouped_counts(xp, rows, mask_rows, binning, block_elements))
    return fit_from_counts(counts, binning, layout, variant, out_range, backend, masked=mask is not None)


def fit_from_counts(counts, binning: Binning, layout: GroupLayout, variant, out_range, backend, masked=False):
    """The transfer stage: host counts ``(groups, nbins)`` -> a fitted :class:`Equalization`."""
    empty = counts.sum(axis=1) == 0
    # Only a float group with no finite pixel at all may be empty: it needs no table (below).
    if empty.any() and (masked or not binning.is_float or empty.all()):
        _check_every_group_counted(counts, layout, masked)
    out_dtype = output_dtype(binning.dtype)
    lo, hi = _resolve_out_range(out_range, binning, counts, out_dtype)
    if empty.any():
        # A float group with no finite pixel needs no table (NaN stays NaN, +-inf go to the ends);
        # a placeholder count keeps its unused table free of 0/0.
        counts = counts.copy()
        counts[empty, 0] = 1
    lut = tables_from_counts(counts, binning, variant, lo, hi, out_dtype)
    return Equalization(
        lut=lut.reshape(layout.group_shape + (binning.nbins,)),
        binning=binning,
        variant=variant,
        axis=layout.axis,
        ndim=len(layout.shape),
        out_range=(lo, hi),
        backend=backend,
    )


def _check_something_counted(counts, mask):
    """A histogram of an empty region of interest is an error for every dtype (not zeros for some)."""
    if mask is not None and not int(counts.sum()):
        raise nothing_to_count(True)


def _check_every_group_counted(counts, layout: GroupLayout, masked: bool):
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size == 0:
        return
    if layout.n_groups == 1:
        raise nothing_to_count(masked)
    where = np.unravel_index(int(empty[0]), layout.group_shape)
    raise nothing_to_count(
        masked,
        f" in {empty.size} of {layout.n_groups} histogram groups "
        f"(the first at index {tuple(int(i) for i in where)} of the axes outside axis={layout.axis})",
    )


def _resolve_out_range(out_range, binning: Binning, counts, out_dtype):
    if isinstance(out_range, tuple):
        return out_range
    if out_range == "dtype":
        if out_dtype.kind == "f":
            return 0.0, 1.0
        info = np.iinfo(out_dtype)
        return int(info.min), int(info.max)
    # "image": the counted pixels' own min..max (over every group).
    if binning.shared:
        counts = counts.sum(axis=0, keepdims=True)
    counted = [(binning.group(g), row) for g, row in enumerate(counts) if row.any()]
    if binning.is_float:
        return float(min(g.start for g, _ in counted)), float(max(g.stop for g, _ in counted))
    if all(g.width == 1 for g, _ in counted):
        occupied = [(int(g.start), np.flatnonzero(row)) for g, row in counted]
        return min(start + int(bins[0]) for start, bins in occupied), max(start + int(bins[-1]) for start, bins in occupied)
    return int(min(g.start for g, _ in counted)), int(max(g.stop for g, _ in counted))


def _on_backend(xp, data, out_dtype, work, convert=True):
    """Run ``work(staged, block_elements)`` on ``xp`` and return its result like ``data``.

    On the GPU the image is copied to the device once when it and the
    output fit in half the free memory; otherwise it stays on the host and
    travels block by block. An out-of-memory error shrinks the blocks and
    retries instead of surfacing.
    """
    if xp is np:
        result = work(to_backend(np, data), CPU_BLOCK_ELEMENTS)
        return _like_input(result, data) if convert else result
    free = free_device_bytes(xp)
    block_elements = max(1 << 16, free // (4 * GPU_BYTES_PER_BLOCK_ELEMENT))
    out_bytes = data.size * (np.dtype(out_dtype).itemsize if out_dtype is not None else 0)
    resident = is_cupy_array(data) or data.nbytes + out_bytes < free // 2
    for _attempt in range(8):
        try:
            staged = _stage(xp, data) if resident else data
            result = work(staged, block_elements)
            return _like_input(result, data) if convert else result
        except Exception as exc:
            if type(exc).__name__ != "OutOfMemoryError":
                raise
            xp.get_default_memory_pool().free_all_blocks()
            resident = is_cupy_array(data)
            block_elements = max(1024, block_elements // 4)
    raise MemoryError("the GPU ran out of memory even with small blocks; use backend='numpy'")


def _stage(xp, data):
    if is_cupy_array(data):
        return data
    if not data.dtype.isnative:
        data = data.astype(data.dtype.newbyteorder("="))
    return xp.asarray(data)


def _like_input(result, data):
    """NumPy in, NumPy out; CuPy in, CuPy out."""
    if is_cupy_array(data):
        return to_backend(array_module(data), result)
    return to_backend(np, result)
