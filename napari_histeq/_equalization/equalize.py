"""The public functions: histogram, fit/apply, equalize.

Each turns its arguments into a request (``_request``), then hands it to the
lazy path (dask and zarr, ``_lazy``) or to the pipeline (``_pipeline``).
Masked arrays and xarray DataArrays are unwrapped first and their results
wrapped back (``_wrapped``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np

from .._engine import pipeline as _pipeline
from .._engine.backend import is_lazy_array
from .._engine.lazy import apply_lazy, fit_lazy, lazy_histogram
from .._engine.pipeline import Tables
from .._engine.request import request_for
from .._engine.saved import save_tables
from .._engine.wrapped import array_contract, check_no_out_for_lazy, check_no_out_for_wrapped, unwrap
from .variants import check_variant


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


class Equalization(Tables):
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

    @classmethod
    def _of(cls, tables: Tables) -> Equalization:
        return cls(**{field.name: getattr(tables, field.name) for field in dataclasses.fields(Tables)})

    @property
    def edges(self) -> np.ndarray:
        """The bin edges (float64), as :func:`histogram` gives them."""
        return self.binning.edges

    def save(self, path, *, provenance=None):
        """Write this fit to ``path`` (``.npz``: the tables and a JSON header; no pickles).

        Parameters
        ----------
        path : str or Path
            ``.npz`` is added when the name lacks it.
        provenance : dict, optional
            What to record of where the fit came from (the inputs' names, say), beside the
            package version, the date, the operation, its variant, axes, output range and binning.

        Returns
        -------
        path : Path
            The file written; :func:`napari_histeq.load_model` reads it back.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> from napari_histeq import fit_equalization, load_model
        >>> fitted = fit_equalization(np.array([[0, 0, 1, 3]], dtype=np.uint8))
        >>> path = fitted.save(pathlib.Path(tempfile.mkdtemp()) / "first-frame")
        >>> load_model(path).apply(np.array([3, 1, 0], dtype=np.uint8))
        array([255, 191, 128], dtype=uint8)
        """
        operation = "stretch" if self.variant == "stretch" else "global"
        return save_tables(self, path, operation=operation, provenance=provenance)

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
        image, _, wrap = unwrap(image, None)
        if wrap is not None:
            check_no_out_for_wrapped(out)
            return wrap(self.apply(image, backend=backend))
        if is_lazy_array(image):
            check_no_out_for_lazy(out)
            return apply_lazy(self if backend is None else dataclasses.replace(self, backend=backend), image)
        return _pipeline.apply(self, image, backend, out)

    def __call__(self, image, *, backend=None, out=None):
        return self.apply(image, backend=backend, out=out)

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
    image, mask, _ = unwrap(image, mask)  # a masked array counts its valid pixels
    request = request_for(image, nbins=nbins, mask=mask, axis=axis, backend=backend)
    counts, edges = lazy_histogram(request) if request.lazy else _pipeline.histogram(request)
    return Histogram(counts, edges)


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
    image, mask, _ = unwrap(image, mask)  # a masked array is fitted on its valid pixels
    request = request_for(image, nbins=nbins, mask=mask, axis=axis, backend=backend, transfer=check_variant(variant),
                          out_range=out_range)
    return Equalization._of(fit_lazy(request) if request.lazy else _pipeline.fit(request))


@array_contract
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
    transfer = check_variant(variant)
    result = _pipeline.fit_and_apply_plain(image, transfer, out, mask=mask, axis=axis, nbins=nbins,
                                           out_range=out_range, backend=backend)
    if result is not None:
        return result
    request = request_for(image, nbins=nbins, mask=mask, axis=axis, backend=backend, transfer=transfer,
                          out_range=out_range)
    if request.lazy:
        return apply_lazy(Equalization._of(fit_lazy(request)), request.image)
    return _pipeline.fit_and_apply(request, out)
