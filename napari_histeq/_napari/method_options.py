"""The Equalize widget's choice of method: global, or adaptive (CLAHE) with its own options.

A helper, not a widget: it makes the controls the Equalize widget lays out
in its own column, keeps the variant list and the adaptive controls in step
with the method, and turns them into :func:`equalize_layer` keywords.
"""

from __future__ import annotations

from magicgui.widgets import ComboBox, FloatSpinBox, SpinBox

from .._clahe import DEFAULT_CLIP
from .._settings import ADAPTIVE_VARIANTS, DEFAULT_VARIANT, METHOD_LABELS
from .._variants import variant_choices

#: The clip limit's range in each variant's units (scikit-image: a fraction; OpenCV: its clipLimit).
CLIP_RANGE = {"skimage": (0.0, 1.0, 0.005), "opencv": (0.0, 1000.0, 0.5)}


class MethodOptions:
    """Method, variant and the adaptive controls (clip limit, region size or tiles)."""

    def __init__(self):
        self.method = ComboBox(choices=[(label, value) for value, label in METHOD_LABELS.items()], value="global",
                               name="method", label="method")
        self.variant = ComboBox(choices=self._variant_choices, value="standard", name="variant",
                                label="variant")
        self.clip_limit = FloatSpinBox(value=DEFAULT_CLIP["skimage"], min=0.0, max=1.0, step=0.005,
                                       name="clip_limit", label="clip limit")
        self.kernel_size = SpinBox(value=0, min=0, max=1 << 20, name="kernel_size", label="region size (px, 0: 1/8)")
        self.tile_grid = SpinBox(value=8, min=1, max=512, name="tile_grid", label="tiles per side")
        self.method.changed.connect(self._method_changed)
        self.variant.changed.connect(self._variant_changed)
        self._show_adaptive()

    @property
    def widgets(self) -> list:
        return [self.method, self.variant, self.clip_limit, self.kernel_size, self.tile_grid]

    @property
    def adaptive(self) -> bool:
        return self.method.value == "adaptive"

    def _variant_choices(self, _widget=None):
        return list(ADAPTIVE_VARIANTS) if self.adaptive else variant_choices()

    def _method_changed(self, _value=None):
        self.variant.reset_choices()
        self.variant.value = DEFAULT_VARIANT[self.method.value]
        self._show_adaptive()

    def _variant_changed(self, _value=None):
        if self.adaptive and self.variant.value in CLIP_RANGE:
            low, high, step = CLIP_RANGE[self.variant.value]
            self.clip_limit.min, self.clip_limit.max, self.clip_limit.step = low, high, step
            self.clip_limit.value = DEFAULT_CLIP[self.variant.value]
        self._show_adaptive()

    def _show_adaptive(self):
        adaptive, variant = self.adaptive, self.variant.value
        self.clip_limit.visible = adaptive
        self.kernel_size.visible = adaptive and variant == "skimage"
        self.tile_grid.visible = adaptive and variant == "opencv"

    def options(self) -> dict:
        """The method's keywords of :func:`napari_histeq.equalize_layer`."""
        if not self.adaptive:
            return {"method": "global", "variant": self.variant.value}
        skimage = self.variant.value == "skimage"
        return {
            "method": "adaptive",
            "variant": self.variant.value,
            "clip_limit": float(self.clip_limit.value),
            "kernel_size": int(self.kernel_size.value) if skimage and self.kernel_size.value else None,
            "tile_grid": None if skimage else (int(self.tile_grid.value),) * 2,
        }
