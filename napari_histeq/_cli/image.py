"""An image file as the batch command reads it: its pixels and what its writer must keep."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._engine.backend import module_of


@dataclass
class ImageFile:
    """An image as read from disk: its pixels and what its writer must keep."""

    path: Path
    data: Any                      # numpy array, or a dask array for zarr and big TIFFs
    kind: str                      # "tiff", "zarr", "nifti", "dicom" or "image"
    axes: str = ""                 # tifffile's axis codes where the file says them ("TZCYX", "YXS")
    colour: bool = False           # a last axis of RGB(A) samples
    grey_alpha: bool = False       # a last axis of two samples: grey, then alpha (PNG "LA", TIFF extra sample)
    tiff: dict = field(default_factory=dict)
    levels: tuple = ()             # zarr: every pyramid level as a dask array, full resolution first
    zarr_layout: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    close: Any = None
    volume: Any = None             # NIfTI, DICOM: the medical Volume (header, files, geometry) its writer keeps

    @property
    def samples(self) -> int:
        """1 when the last axis holds samples of one pixel (RGB(A), or grey and alpha), else 0."""
        return int(self.colour or self.grey_alpha)

    @property
    def grey_axes(self) -> str:
        """The axis codes of the axes before the samples ("" when the file names none)."""
        ndim = self.data.ndim - self.samples
        return self.axes[:ndim] if len(self.axes) >= ndim else ""

    def grey_view(self) -> ImageFile:
        """A grey+alpha image's grey sample alone (every pyramid level); others as they are."""
        if not self.grey_alpha:
            return self
        return replace(self, data=self.data[..., 0], levels=tuple(level[..., 0] for level in self.levels),
                       axes=self.grey_axes, grey_alpha=False)


def with_alpha(result, alpha):
    """``result`` with the image's alpha sample put back, unchanged, as its last axis."""
    xp = module_of(result)
    return xp.concatenate([result[..., None], alpha[..., None].astype(result.dtype)], axis=-1)


def is_zarr(path: Path) -> bool:
    return path.is_dir() and (path.suffix.lower() == ".zarr"
                              or any((path / name).exists() for name in (".zarray", ".zgroup", "zarr.json")))


def is_dicom_folder(path: Path) -> bool:
    """A folder whose own files (not its sub-folders') include DICOM files: one series, one image."""
    from .._medical.dicom import holds_dicom

    return not is_zarr(path) and holds_dicom(path)


def have(*modules) -> bool:
    """True when every module named can be imported."""
    return all(importlib.util.find_spec(module) is not None for module in modules)
