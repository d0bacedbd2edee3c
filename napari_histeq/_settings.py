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

METHODS = ("global", "adaptive")
METHOD_LABELS = {"global": "Global (one table)", "adaptive": "Adaptive (CLAHE)"}
#: The variants of adaptive equalisation (``equalize_adapthist``); the global ones are ``_variants.VARIANTS``.
ADAPTIVE_VARIANTS = ("skimage", "opencv")
DEFAULT_VARIANT = {"global": "standard", "adaptive": "skimage"}
SCOPES = ("layer", "plane", "volume")
SCOPE_LABELS = {"layer": "Whole layer", "plane": "Each 2D plane", "volume": "Each 3D volume"}
RGB_MODES = ("channels", "value")
RGB_MODE_LABELS = {"channels": "Each channel", "value": "Brightness only (hue kept)"}
OUT_RANGE_LABELS = {"dtype": "Full dtype range", "image": "Image's own range"}


@dataclass(frozen=True)
class Settings:
    """One equalisation's options as a user picks them (``mask`` stays with the caller).

    ``method="adaptive"`` is CLAHE (:func:`napari_histeq.equalize_adapthist`),
    with its ``clip_limit``, ``kernel_size`` and ``tile_grid`` (checked when
    it runs, against the image). ``variant`` None is the method's default.
    """

    variant: str | None = None
    scope: str = "layer"
    nbins: int | None = None
    out_range: Any = "dtype"
    backend: str = "auto"
    rgb_mode: str = "channels"
    method: str = "global"
    clip_limit: float | None = None
    kernel_size: Any = None
    tile_grid: Any = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.variant is None:
            object.__setattr__(self, "variant", DEFAULT_VARIANT[self.method])
        if self.method == "global":
            check_variant(self.variant)
        elif self.variant not in ADAPTIVE_VARIANTS:
            raise ValueError(f"adaptive equalisation's variant must be one of {ADAPTIVE_VARIANTS}, "
                             f"got {self.variant!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.rgb_mode not in RGB_MODES:
            raise ValueError(f"mode must be one of {RGB_MODES}, got {self.rgb_mode!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.nbins is not None:
            check_nbins(self.nbins, "float64")

    @property
    def adaptive(self) -> bool:
        return self.method == "adaptive"

    def core(self) -> dict:
        """The keyword arguments of :func:`napari_histeq.equalize` (or, adaptive, of
        :func:`napari_histeq.equalize_adapthist`) these settings stand for (no axis)."""
        common = {"variant": self.variant, "out_range": self.out_range, "backend": self.backend}
        if not self.adaptive:
            return {**common, "nbins": self.nbins}
        return {**common, "nbins": 256 if self.nbins is None else self.nbins, "clip_limit": self.clip_limit,
                "kernel_size": self.kernel_size, "tile_grid": self.tile_grid}

    def record(self) -> dict:
        """What a result layer or file records of these settings."""
        record = {"method": self.method, "variant": self.variant, "scope": self.scope, "nbins": self.nbins}
        if self.adaptive:
            record.update(clip_limit=self.clip_limit, kernel_size=self.kernel_size, tile_grid=self.tile_grid)
        return record


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
