"""A medical volume as the readers return it: values in real units, in (z, y, x) order, with its geometry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class MedicalFileError(ValueError):
    """A medical file or series that cannot be read as it is; the message is one line that says why."""


def require(module: str, purpose: str):
    """``module`` imported, or a one-line :class:`MedicalFileError` saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MedicalFileError(f"{purpose} needs {module}: pip install {module}") from None


@dataclass
class Volume:
    """Voxels in real units (Hounsfield units, an MRI's own) and where they are in the patient.

    ``data`` is in array order (slices, rows, columns) - (z, y, x) for an
    axial series or a NIfTI volume - as napari shows it. ``spacing`` is the
    voxel size along those axes in millimetres, ``origin`` the position of
    the first voxel's centre, and ``affine`` the 4x4 matrix from array
    indices to patient coordinates in the file's own frame (RAS+ for NIfTI,
    LPS+ for DICOM), its rows in (z, y, x) order as well.
    """

    data: Any
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    affine: np.ndarray
    name: str
    kind: str  # "nifti" or "dicom"
    metadata: dict = field(default_factory=dict)
    #: A DICOM series' datasets as read, their pixels removed, in slice order: what a derived series
    #: copies (read once, not again to write). Empty for NIfTI.
    headers: tuple = field(default=(), repr=False, compare=False)

    @property
    def needs_affine(self) -> bool:
        """True when scale and translate alone cannot place the volume: oblique or flipped axes."""
        n = self.data.ndim
        direction = self.affine[:n, :n] / np.asarray(self.spacing, np.float64)[None, :]
        return not np.allclose(direction, np.eye(n), atol=1e-6)

    def layer_kwargs(self) -> dict:
        """Napari's keyword arguments: scale, translate (or the affine, for oblique volumes), units, axis
        labels, name and the header in ``metadata``.
        """
        kwargs = {"name": self.name, "metadata": {"napari_histeq_medical": self.metadata},
                  "units": ("mm",) * self.data.ndim, "axis_labels": ("z", "y", "x")[-self.data.ndim:]}
        if self.needs_affine:
            kwargs["affine"] = self.affine
        else:
            kwargs["scale"] = tuple(float(s) for s in self.spacing)
            kwargs["translate"] = tuple(float(o) for o in self.origin)
        return kwargs


def exact_in(values, dtype) -> bool:
    """True when the integer ``values`` all fit ``dtype``."""
    info = np.iinfo(dtype)
    return values.size == 0 or (int(values.min()) >= info.min and int(values.max()) <= info.max)


def rescaled(stored, slope, intercept):
    """``stored * slope + intercept``, kept integer (the smallest of int16/int32 that holds it) when
    the slope and intercept are whole numbers, else float32 (float64 where float32 would round).
    """
    slope = 1.0 if slope is None or not np.isfinite(slope) or slope == 0 else float(slope)
    intercept = 0.0 if intercept is None or not np.isfinite(intercept) else float(intercept)
    if slope == 1.0 and intercept == 0.0:
        return stored
    if stored.dtype.kind in "iu" and slope.is_integer() and intercept.is_integer():
        slope, intercept = int(slope), int(intercept)
        if stored.size == 0:
            return stored.astype(np.int16)
        # the map is monotonic: the stored extremes bound every value on the way, so the narrowest type
        # that holds them holds the arithmetic (one pass, no int64 copy of a 16-bit image)
        low, high = int(stored.min()), int(stored.max())
        ends = (low * slope + intercept, high * slope + intercept)
        result, work = _narrowest(ends), _narrowest((*ends, low, high, low * slope, high * slope, slope, intercept))
        if result is not None and work is None:  # uint64 beyond int64: wrapping arithmetic lands on the result
            values = stored.astype(np.uint64)
            values *= np.uint64(slope % 2**64)
            values += np.uint64(intercept % 2**64)
            return values.view(np.int64).astype(result, copy=False)
        if result is not None:
            values = stored.astype(work)
            if slope != 1:
                values *= slope
            values += intercept
            return values.astype(result, copy=False)
    values = stored.astype(np.float64) * slope + intercept
    single = values.astype(np.float32)
    return single if np.array_equal(single, values) else values


def _narrowest(values):
    """The first of int16, int32 and int64 that holds every one of ``values``, or None."""
    for dtype in (np.int16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= min(values) and max(values) <= info.max:
            return dtype
    return None
