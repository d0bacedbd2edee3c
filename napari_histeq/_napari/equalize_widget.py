"""The "Equalize Histogram" dock widget (magicgui), thin glue over ``layers``.

Calling the widget (``widget()``) runs it on the chosen layer in a worker
thread (``worker.OneWorker``) with napari's progress indicator; the result
is added on the GUI thread when complete, so the viewer never sees a
half-made layer. The live preview computes in a worker too; the latest
request wins. When the source is removed or its data replaced while a run
computes, the result is discarded with a notification.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, PushButton, SpinBox
from qtpy.QtWidgets import QSizePolicy

from .._engine.backend import BACKENDS
from .._operations.run import warm_up_in_background
from .._operations.settings import OUT_RANGE_LABELS, RGB_MODE_LABELS, SCOPE_LABELS
from .auto_contrast import auto_contrast, channel_layers
from .layers import (
    displayed_index,
    equalize_layer,
    equalize_plane,
    find_output_layer,
    find_preview,
    finest_level,
    show_preview,
    show_result,
)
from .messages import MessageLabel, describe_auto_backend, notify_error, notify_info
from .method_options import MethodOptions
from .window import fit_side_column_when_shown
from .worker import Cancelled, OneWorker, ProgressRelay, widget_alive, with_dask_progress

if TYPE_CHECKING:
    import napari

PREVIEW_SUFFIX = " preview"
#: Metadata key marking the live-preview layer (never offered as a source).
PREVIEW_KEY = "napari_histeq_preview"


def _choices(labels: dict) -> list[tuple[str, str]]:
    return [(label, value) for value, label in labels.items()]


def _run_equalize(layer, options):
    """What the worker runs: :func:`equalize_layer` on the chosen layer."""
    return equalize_layer(layer, **options)


def _preview_of(data, index, rgb, options):
    """The displayed plane, read and equalised (in a worker): ``(result, contrast_limits)``."""
    return equalize_plane(np.asarray(data[index]), rgb=rgb, **options)


class EqualizeWidget(Container):
    """Equalise the histogram of an image layer into a new layer."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self.warm_up = warm_up_in_background()  # kernels compiled off the GUI thread: a fast first click
        # the height its controls need, not the whole column: a widget docked under it keeps the rest
        self.native.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        fit_side_column_when_shown(self.native)  # not as wide as a column the plots left
        self._viewer = viewer
        self._runs = OneWorker()
        self._run = None  # (source layer, its data when the run started, progress bar)
        self._previews = OneWorker()
        self._preview_request = None  # the latest preview asked for while one computes
        self.image = ComboBox(choices=self._image_choices, label="image")
        self.methods = MethodOptions()
        self.method, self.variant = self.methods.method, self.methods.variant
        self.scope = ComboBox(choices=_choices(SCOPE_LABELS), value="layer", label="histogram of")
        self.nbins = SpinBox(value=256, min=2, max=65536, label="bins")
        self.mask = ComboBox(choices=self._mask_choices, label="mask (ROI)", nullable=True)
        self.out_range = ComboBox(choices=_choices(OUT_RANGE_LABELS), value="dtype", label="output range")
        self.rgb_mode = ComboBox(choices=_choices(RGB_MODE_LABELS), value="channels", label="RGB")
        self.backend = ComboBox(choices=list(BACKENDS), value="auto", label="backend")
        self.backend_note = MessageLabel(*describe_auto_backend())
        self.fit_level = SpinBox(value=0, min=0, max=0, label="fit on level")
        self.preview = CheckBox(value=False, text="live preview of the displayed plane")
        self.run_button = PushButton(text="Equalize")
        self.auto_contrast_button = PushButton(text="Auto-contrast channels (display only)")
        self.auto_contrast_button.tooltip = (
            "set the contrast limits of the selected image layers (one selected: every layer of its shape, "
            "the channels of one image) where this stretch would start and end, without changing their data")
        self.cancel_button = PushButton(text="Cancel", visible=False)
        self.status = MessageLabel()
        self.extend([
            self.image, *self.methods.widgets, self.scope, self.nbins, self.mask, self.out_range, self.rgb_mode,
            self.fit_level, self.backend, self.backend_note, self.preview, self.run_button, self.auto_contrast_button,
            self.cancel_button, self.status,
        ])
        self.auto_contrast_button.changed.connect(self.auto_contrast)
        self.cancel_button.changed.connect(self.cancel)
        self.run_button.changed.connect(self.__call__)
        for option in (self.image, *self.methods.widgets, self.nbins, self.mask, self.out_range, self.rgb_mode,
                       self.backend):
            option.changed.connect(self._update_preview)
        for option in (self.image, self.method, self.variant):
            option.changed.connect(self._show_relevant_options)
        self.preview.changed.connect(self._update_preview)
        viewer.dims.events.current_step.connect(self._update_preview)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self.reset_choices)
        self.reset_choices()
        self._show_relevant_options()

    # -- options --------------------------------------------------------------------------------
    def _image_choices(self, _widget=None):
        from napari.layers import Image

        return [(layer.name, layer) for layer in self._viewer.layers
                if isinstance(layer, Image) and not layer.metadata.get(PREVIEW_KEY)]

    def _mask_choices(self, _widget=None):
        from napari.layers import Labels, Shapes

        return [(layer.name, layer) for layer in self._viewer.layers if isinstance(layer, (Labels, Shapes))]

    def _show_relevant_options(self, _event=None):
        layer = self.image.value
        self.nbins.visible = self._uses_nbins()
        self.auto_contrast_button.visible = self.methods.spec.limits is not None
        self.rgb_mode.visible = layer is not None and layer.rgb
        levels = len(layer.data) if layer is not None and layer.multiscale else 1
        self.fit_level.max = levels - 1
        self.fit_level.visible = levels > 1 and self.methods.spec.fit is not None and not layer.rgb
        spatial_ndim = 0 if layer is None else finest_level(layer).ndim - (1 if layer.rgb else 0)
        if self.methods.adaptive and self.variant.value == "opencv" and spatial_ndim > 2 and \
                self.scope.value != "plane":
            self.scope.value = "plane"  # OpenCV's CLAHE is 2D: each plane alone, as it would be run

    def _uses_nbins(self) -> bool:
        """Float data are binned, where the method takes bins at all; scikit-image's CLAHE bins every dtype."""
        if "nbins" not in self.methods.spec.takes:  # a contrast stretch finds its limits without bins
            return False
        layer = self.image.value
        is_float = layer is not None and np.dtype(finest_level(layer).dtype).kind == "f"
        return is_float or (self.methods.adaptive and self.variant.value == "skimage")

    def options(self) -> dict:
        """The keyword arguments of :func:`napari_histeq.equalize_layer` the widget is set to."""
        layer = self.image.value
        return {
            **self.methods.options(),
            "scope": self.scope.value,
            "nbins": int(self.nbins.value) if self._uses_nbins() else None,
            "mask": self.mask.value,
            "out_range": self.out_range.value,
            "backend": self.backend.value,
            "rgb_mode": self.rgb_mode.value,
            "fit_level": int(self.fit_level.value) if layer is not None and layer.multiscale else 0,
        }

    def auto_contrast(self, *_args) -> dict:
        """Set napari's contrast limits of the channel layers from the stretch's limits (data unchanged)."""
        layers = channel_layers(self._viewer, self.image.value)
        if not layers:
            notify_error("choose an image layer to auto-contrast")
            return {}
        options = {name: value for name, value in self.methods.options().items() if name != "method"}
        try:
            found = auto_contrast(layers, **options)
        except (ValueError, TypeError) as error:
            notify_error(f"napari-histeq: {error}")
            return {}
        self.status.value = f"display limits set on {len(found)} layer(s); data unchanged"
        return found

    @property
    def running(self) -> bool:
        return self._runs.busy

    # -- running --------------------------------------------------------------------------------
    def __call__(self, *_args):
        """Equalise the chosen layer in a worker thread; returns the worker (None if nothing to do).

        A call while a run is in progress returns that run's worker instead
        of starting another on top of it.
        """
        if self._runs.busy:
            notify_info("equalisation is already running; wait for it to finish")
            return self._runs.worker
        from napari.utils import progress

        layer = self.image.value
        if layer is None:
            notify_error("choose an image layer to equalise")
            return None
        options = self.options()
        self.run_button.enabled = False
        self.cancel_button.visible = True
        self.status.value = f"equalising {layer.name}..."
        bar = progress(total=0, desc=f"Equalizing {layer.name}")  # made here, on the GUI thread
        relay = ProgressRelay(bar)
        self._run = (layer, layer.data, bar, relay)
        return self._runs.start(with_dask_progress, _run_equalize, (layer, options), self._runs.cancel_requested,
                                relay, returned=self._on_returned, errored=self._on_errored,
                                finished=self._on_finished)

    def _alive(self) -> bool:
        return widget_alive(self.native)

    def _source_changed(self) -> str | None:
        """Why the run's result no longer fits its source (None when it does)."""
        layer, data_at_start = self._run[0], self._run[1]
        if layer not in self._viewer.layers:
            return f"{layer.name} was removed while it was being equalised; the result was discarded"
        if layer.data is not data_at_start:
            return f"{layer.name}'s data changed while it was being equalised; the result was discarded: run again"
        return None

    def _on_returned(self, layer_data):
        if not self._alive():
            return
        problem = self._source_changed()
        if problem is not None:
            self.status.value = "discarded"
            notify_info(f"napari-histeq: {problem}")
            return
        data, kwargs, _ = layer_data
        show_result(self._viewer, data, kwargs)
        record = kwargs["metadata"]["napari_histeq"]
        self.status.value = f"{kwargs['name']}: {record['seconds'] * 1000:.0f} ms on {record['backend']}"

    def _on_errored(self, exc):
        if not self._alive():
            return
        if isinstance(exc, Cancelled):
            self.status.value = "cancelled"
            notify_info("napari-histeq: equalisation cancelled; no layer was added")
            return
        self.status.value = f"failed: {exc}"
        notify_error(f"napari-histeq: {exc}")

    def _on_finished(self):
        if self._run is not None:
            self._run[2].close()
            self._run = None
        if not self._alive():
            return
        self.run_button.enabled = True
        self.cancel_button.visible = False

    def cancel(self, *_args):
        """Stop the running equalisation at its next chunk (dask and zarr layers)."""
        self._runs.cancel()

    # -- live preview ---------------------------------------------------------------------------
    def _update_preview(self, _event=None):
        """Ask for the preview of the displayed plane; it computes in a worker, the latest request wins."""
        layer = self.image.value
        if not self.preview.value or layer is None:
            self._preview_request = None
            preview_layer = self._preview_layer()
            if preview_layer is not None:
                self._viewer.layers.remove(preview_layer)
            return
        options = self.options()
        options = {key: value for key, value in options.items() if key not in ("scope", "mask", "fit_level")}
        index, displayed = displayed_index(self._viewer, layer)
        options["spacing"] = tuple(float(layer.scale[axis]) for axis in displayed)  # the plane's pixel size
        self._preview_request = (layer, finest_level(layer), index, displayed, options)
        if not self._previews.busy:
            self._start_preview()

    def _start_preview(self):
        request, self._preview_request = self._preview_request, None
        layer, data, index, _, options = request
        self._previews.start(
            _preview_of, data, index, layer.rgb, options,
            returned=lambda result: self._show_preview(request, *result),
            errored=lambda exc: self._alive() and setattr(self.status, "value", f"preview: {exc}"),
            finished=self._preview_finished,
        )

    def _preview_finished(self):
        if self._preview_request is not None and self._alive():
            self._start_preview()

    def _show_preview(self, request, result, contrast_limits):
        layer, _, _, displayed, _ = request
        if self._preview_request is not None or not self._alive() or not self.preview.value:
            return  # a newer request replaces this one, or the preview was switched off
        if layer not in self._viewer.layers or self.image.value is not layer:
            return
        show_preview(self._viewer, layer, displayed, result, contrast_limits, PREVIEW_KEY, PREVIEW_SUFFIX)

    def _preview_layer(self):
        return find_preview(self._viewer, PREVIEW_KEY)

    @property
    def previewing(self) -> bool:
        """True while a preview computes or waits to."""
        return self._previews.busy or self._preview_request is not None

    def output_layer(self):
        """The output layer of the chosen source, if it was made already."""
        layer = self.image.value
        return None if layer is None else find_output_layer(self._viewer, layer.name)


__all__ = ["EqualizeWidget"]
