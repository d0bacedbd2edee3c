"""The door every entry point goes through: arguments checked once, into one frozen request.

``equalize``, ``histogram``, ``fit_equalization``, their lazy forms, the
napari layer functions, the widget and the command line all turn their
arguments into a :class:`Request`; the stages take the request, never loose
arguments, and check nothing again. The checks and their messages are those
of ``_validate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import as_dask, is_lazy_array, resolve_backend
from .groups import GroupLayout
from .validate import (
    as_image,
    check_image_dtype,
    check_image_shape,
    check_mask,
    check_nbins,
    check_out_range,
    normalize_axis,
    output_dtype,
)


@dataclass(frozen=True, eq=False)
class Request:
    """One call's image and options, checked.

    Attributes
    ----------
    image : array
        NumPy or CuPy array (in memory), or a dask array (``lazy``).
    layout : GroupLayout
        The image's shape and the axes one histogram spans.
    mask : array or None
        Boolean, broadcasting to the image (a dask array stays lazy).
    nbins : int or None
    backend : str
        As asked ("auto", "numpy", "cupy"); ``xp`` is what it resolved to.
    xp : module or None
        NumPy or CuPy for an in-memory image; None for a lazy one (each
        chunk resolves its own).
    transfer : object or None
        What the tables map to (see ``transfer``); None for a histogram alone.
    out_range : "dtype", "image" or (lo, hi)
    """

    image: Any
    layout: GroupLayout
    mask: Any
    nbins: int | None
    backend: str
    xp: Any = None
    transfer: Any = None
    out_range: Any = "dtype"

    @property
    def lazy(self) -> bool:
        return self.xp is None

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.image.dtype)

    @property
    def axis(self) -> tuple[int, ...]:
        return self.layout.axis

    @property
    def out_dtype(self) -> np.dtype:
        return output_dtype(self.dtype)


def request_for(image, *, nbins=None, mask=None, axis=None, backend="auto", transfer=None,
                out_range="dtype") -> Request:
    """Check one call's arguments (``transfer=None``: a histogram alone) and return its request."""
    if is_lazy_array(image):
        check_image_dtype(image.dtype)
        check_image_shape(image.shape)
        nbins = check_nbins(nbins, image.dtype)
        layout = GroupLayout(tuple(image.shape), normalize_axis(axis, image.ndim))
        if mask is not None and not is_lazy_array(mask):
            mask = check_mask(mask, image.shape)
        resolve_backend(backend)
        image, xp = as_dask(image), None  # once, so that every pass sees the same chunks
    else:
        image = as_image(image)
        nbins = check_nbins(nbins, image.dtype)
        layout = GroupLayout(tuple(image.shape), normalize_axis(axis, image.ndim))
        mask = check_mask(mask, image.shape)
        xp = resolve_backend(backend, image)
    out_range = check_out_range(out_range, image.dtype)
    return Request(image, layout, mask, nbins, backend, xp, transfer, out_range)
