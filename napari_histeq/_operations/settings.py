"""What a user chooses, checked once: the settings the layer functions, the widget and the command line share.

The operations take arrays and ``axis``; a user thinks in layers and files
and picks an *operation* and its *variant* and *parameters* (the registry,
``registry``), a *scope* (the whole layer, each plane, each volume) and, for
colour, an *rgb mode*. :class:`Settings` holds those choices, checked when
it is made, and gives the operation's keyword arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._engine.backend import BACKENDS
from .._engine.validate import check_nbins
from .._equalization.colour import RGB_MODES
from .registry import OPERATIONS, Operation, methods

SCOPES = ("layer", "plane", "volume")
SCOPE_LABELS = {"layer": "Whole layer", "plane": "Each 2D plane", "volume": "Each 3D volume"}
RGB_MODE_LABELS = {"channels": "Each channel", "value": "Brightness only (hue kept)"}
OUT_RANGE_LABELS = {"dtype": "Full dtype range", "image": "Image's own range"}
#: Where a result's record keeps the variant, per operation (the keys files and layers already carry).
RECORD_VARIANT_AS = {"global": "variant", "adaptive": "variant", "match": "matching", "bleach": "method"}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """One operation's settings as a user picks them (the image, its mask and axes stay with the caller).

    ``operation``: a name in the registry (``"global"``, ``"adaptive"``,
    ``"match"``, ``"bleach"``); ``variant`` None is the operation's default;
    ``parameters``: the operation's own parameters by name (None or absent:
    the function's default). Checked when made; values a function checks
    against the image (a clip limit, a tile grid) are checked when it runs.

    Examples
    --------
    >>> Settings(operation="adaptive", parameters={"clip_limit": 0.02}).keywords()["clip_limit"]
    0.02
    """

    operation: str = "global"
    variant: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    scope: str = "layer"
    nbins: int | None = None
    out_range: Any = "dtype"
    backend: str = "auto"
    rgb_mode: str = "channels"

    def __post_init__(self):
        if self.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {tuple(OPERATIONS)}, got {self.operation!r}")
        spec = self.spec
        if self.variant is None:
            object.__setattr__(self, "variant", spec.default_variant)
        spec.check_variant(self.variant)
        object.__setattr__(self, "parameters", dict(self.parameters))
        spec.keywords(self.variant, self.parameters)  # unknown parameters
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.rgb_mode not in RGB_MODES:
            raise ValueError(f"mode must be one of {RGB_MODES}, got {self.rgb_mode!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.nbins is not None:
            check_nbins(self.nbins, "float64")

    @property
    def spec(self) -> Operation:
        """The operation's registry entry."""
        return OPERATIONS[self.operation]

    @property
    def equalizes(self) -> bool:
        return self.operation in methods()

    def keywords(self) -> dict:
        """The operation function's keyword arguments these settings stand for (no image, mask or axis)."""
        spec = self.spec
        out = spec.keywords(self.variant, self.parameters)
        if "nbins" in spec.takes and self.nbins is not None:
            out["nbins"] = self.nbins
        if "out_range" in spec.takes:
            out["out_range"] = self.out_range
        out["backend"] = self.backend
        return out

    def record(self) -> dict:
        """What a result layer or file records of these settings (an image parameter is not recorded)."""
        record = {"method": self.operation} if self.equalizes else {}
        record[RECORD_VARIANT_AS.get(self.operation, "variant")] = self.variant
        if self.operation != "bleach":
            record.update(scope=self.scope, nbins=self.nbins)
        for parameter in self.spec.parameters:
            if parameter.kind != "image" and parameter.used_by(self.variant):
                record[parameter.name] = self.parameters.get(parameter.name, parameter.default)
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
