"""The "Saved fits" dock widget: one model fitted on several layers, saved, and applied to others.

The frames of a time lapse opened as layers, the wells of a plate, the scans of
a study: select the layers to fit on, *Fit and save* pools their histograms into
one table (or learns one standard scale from their landmarks) within the ROI if
one is chosen, and writes it to the model file; *Apply* reads a model file and
maps the chosen layer through it into a new layer, data never modified.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, PushButton

from .._equalization.model import fit_equalization_pooled
from .._equalization.variants import VARIANTS
from .._models.load import load_model
from .._standardization.standardize import Standardization, fit_standardization
from .layers import finest_level, layer_mask, output_kwargs, show_result
from .messages import MessageLabel
from .window import fit_side_column_when_shown

if TYPE_CHECKING:
    import napari


class ModelWidget(Container):
    """Fit one model (an equalisation, a standardisation) on the selected layers, save it, apply a saved one."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        fit_side_column_when_shown(self.native)  # not as wide as a column the plots left
        self._viewer = napari_viewer
        self.image = ComboBox(choices=self._image_choices, label="apply to")
        self.method = ComboBox(choices=[("Equalize (one table)", "equalize"),
                                        ("Standardize (Nyul and Udupa, MRI)", "standardize")],
                               value="equalize", label="fit")
        self.variant = ComboBox(choices=list(VARIANTS), value="standard", label="variant")
        self.method.changed.connect(lambda value: setattr(self.variant, "visible", value == "equalize"))
        self.mask = ComboBox(choices=self._mask_choices, label="mask (ROI)", nullable=True,
                             tooltip="the pixels each layer counts (a Labels or Shapes layer of their shape); "
                                     "a standardisation's landmarks come from them when applying too")
        self.file = FileEdit(mode="w", filter="*.npz", label="model file")
        self.fit_button = PushButton(text="Fit on the selected layers and save")
        self.apply_button = PushButton(text="Apply the model file")
        self.status = MessageLabel()
        self.extend([self.method, self.variant, self.mask, self.file, self.fit_button, self.image, self.apply_button,
                     self.status])
        self.fit_button.changed.connect(self.fit_and_save)
        self.apply_button.changed.connect(self.apply_model)
        for event in (napari_viewer.layers.events.inserted, napari_viewer.layers.events.removed):
            event.connect(self.reset_choices)

    def _image_choices(self, _widget=None):
        from napari.layers import Image

        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Image) and not layer.rgb]

    def _mask_choices(self, _widget=None):
        from napari.layers import Labels, Shapes

        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, Labels | Shapes)]

    def _selected(self):
        from napari.layers import Image

        selected = self._viewer.layers.selection  # a set: the layer list gives the order
        return [layer for layer in self._viewer.layers
                if layer in selected and isinstance(layer, Image) and not layer.rgb]

    def fit_and_save(self, *_args):
        """Pool the selected grey layers' histograms into one table; write it to the model file."""
        layers = self._selected()
        if not layers:
            return self._say("select the image layers to fit on (grey, one dtype)", error=True)
        path = Path(self.file.value)
        if not path.name or path.is_dir():
            return self._say("choose a model file to write", error=True)
        images = [finest_level(layer) for layer in layers]
        try:
            masks = [layer_mask(self.mask.value, layer) for layer in layers]
            described = [{"name": layer.name, "shape": list(image.shape), "dtype": str(image.dtype),
                          **({} if mask is None else {"mask": self.mask.value.name,
                                                      "mask_pixels": int(np.broadcast_to(mask, image.shape).sum())})}
                         for layer, image, mask in zip(layers, images, masks)]
            if self.method.value == "standardize":
                fitted = fit_standardization(images, masks=masks)
                written = replace(fitted, provenance={**fitted.provenance, "inputs": described}).save(path)
            else:
                fitted = fit_equalization_pooled(images, variant=self.variant.value, masks=masks)
                written = fitted.save(path, provenance={"layers": described})
        except (TypeError, ValueError, OSError) as error:
            return self._say(str(error), error=True)
        return self._say(f"fitted on {len(layers)} layer(s), saved to {written.name}", path=written)

    def apply_model(self, *_args):
        """Map the chosen layer through the model file's table into a new layer."""
        layer = self.image.value
        if layer is None:
            return self._say("choose a layer to apply the model to", error=True)
        path = Path(self.file.value)
        try:
            model = load_model(path)
            levels = list(layer.data) if layer.multiscale else [layer.data]
            # a standardisation's landmarks are the ROI's percentiles (the finest level's ROI: one level)
            mask = layer_mask(self.mask.value, layer) if isinstance(model, Standardization) else None
            if mask is not None and len(levels) > 1:
                raise ValueError("a mask (ROI) with a multiscale layer: apply the standardisation without one")
            results = [model.apply(level) if mask is None else model.apply(level, mask=mask) for level in levels]
        except (TypeError, ValueError, OSError) as error:
            return self._say(str(error), error=True)
        record = {"source": layer.name, "operation": "model", "model": path.name,
                  "variant": getattr(model, "variant", "standardize")}
        if isinstance(model, Standardization):  # the plots draw where the layer's own landmarks went
            record["landmarks"] = [model.landmarks_of(levels[0], mask=mask).tolist(), model.landmarks.tolist()]
            record["mask"] = getattr(self.mask.value, "name", None) if mask is not None else None
        kwargs = output_kwargs(layer, record, name=f"{layer.name} ({path.stem})",
                               limits=getattr(model, "out_range", None))  # a standardisation: from the data
        out = show_result(self._viewer, results if layer.multiscale else results[0], kwargs, by_name=True)
        self._say(f"{layer.name} mapped through {path.name}")
        return out

    def _say(self, text, *, error=False, path=None):
        self.status.value = text
        if error:
            from napari.utils.notifications import show_error

            show_error(f"napari-histeq: {text}")
        return path
