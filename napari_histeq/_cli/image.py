"""An image file as the batch command reads it: its pixels and what its writer must keep."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ImageFile:
    """An image as read from disk: its pixels and what its writer must keep."""

    path: Path
    data: Any                      # numpy array, or a dask array for zarr and big TIFFs
    kind: str                      # "tiff", "zarr" or "image"
    axes: str = ""                 # tifffile's axis codes where the file says them ("TZCYX", "YXS")
    colour: bool = False           # a last axis of RGB(A) samples
    tiff: dict = field(default_factory=dict)
    levels: tuple = ()             # zarr: every pyramid level as a dask array, full resolution first
    zarr_layout: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    close: Any = None

    @property
    def grey_axes(self) -> str:
        """The axis codes of the axes before the colour samples ("" when the file names none)."""
        ndim = self.data.ndim - self.colour
        return self.axes[:ndim] if len(self.axes) >= ndim else ""


def is_zarr(path: Path) -> bool:
    return path.is_dir() and (path.suffix.lower() == ".zarr"
                              or any((path / name).exists() for name in (".zarray", ".zgroup", "zarr.json")))


def have(*modules) -> bool:
    """True when every module named can be imported."""
    return all(importlib.util.find_spec(module) is not None for module in modules)
