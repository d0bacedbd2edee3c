"""What a user chooses, checked once: the settings the layer functions, the widget and the command line share.

The core functions take arrays and ``axis``; a user thinks in layers and
files and picks a *scope* (the whole layer, each plane, each volume) and, for
colour, a *mode*. :class:`Settings` holds those choices, checked when it is
made, and turns into the core's keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._backend import BACKENDS
from ._validate import check_nbins, check_variant

SCOPES = ("layer", "plane", "volume")
SCOPE_LABELS = {"layer": "Whole layer", "plane": "Each 2D plane", "volume": "Each 3D volume"}
RGB_MODES = ("channels", "value")
RGB_MODE_LABELS = {"channels": "Each channel", "value": "Brightness only (hue kept)"}
OUT_RANGE_LABELS = {"dtype": "Full dtype range", "image": "Image's own range"}


@dataclass(frozen=True)
class Settings:
    """One equalisation's options as a user picks them (``mask`` stays with the caller)."""

    variant: str = "standard"
    scope: str = "layer"
    nbins: int | None = None
    out_range: Any = "dtype"
    backend: str = "auto"
    rgb_mode: str = "channels"

    def __post_init__(self):
        check_variant(self.variant)
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.rgb_mode not in RGB_MODES:
            raise ValueError(f"mode must be one of {RGB_MODES}, got {self.rgb_mode!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.nbins is not None:
            check_nbins(self.nbins, "float64")

    def core(self) -> dict:
        """The keyword arguments of :func:`napari_histeq.equalize` these settings stand for (no axis)."""
        return {"variant": self.variant, "nbins": self.nbins, "out_range": self.out_range, "backend": self.backend}


def scope_axis(scope: str, spatial_ndim: int):
    """The ``axis`` argument for a histogram scope of an image with ``spatial_ndim`` axes."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if scope == "layer":
        return None
    needed = 2 if scope == "plane" else 3
    if spatial_ndim < needed:
        raise ValueError(f"a {spatial_ndim}D layer has no {scope}s to equalise one by one")
    return tuple(range(-needed, 0))
