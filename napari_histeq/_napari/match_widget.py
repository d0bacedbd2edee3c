"""The "Match histograms / Bleach correction" dock widget: thin glue over ``match_histograms`` and
``correct_bleaching``.

Bleach correction works along a time axis of one layer (picked from the
layer's axis labels where it has them, "t" or "time" by default); matching
maps a layer onto another layer's histogram. The result is a new layer on
top of the source, with the parameters in its metadata; the work runs in a
worker with napari's progress bar and can be cancelled between dask chunks.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, PushButton, SpinBox

from .._bleach.correct import correct_time_point
from .._matching.match import QUANTILE_VARIANTS, reference_of
from .._operations.registry import OPERATIONS
from .._operations.run import run
from .._operations.settings import Settings
from .layers import (
    METADATA_KEY,
    displayed_index,
    find_preview,
    finest_level,
    output_kwargs,
    show_preview,
    show_result,
)
from .messages import MessageLabel
from .window import fit_side_column_when_shown
from .worker import Cancelled, OneWorker, ProgressRelay, widget_alive, with_dask_progress

if TYPE_CHECKING:
    import napari

PREVIEW_KEY = "napari_histeq_bleach_preview"
PREVIEW_SUFFIX = " bleach preview"
MODES = [(f"{OPERATIONS['bleach'].label} (time series)", "bleach"), ("Match to another layer", "match")]
TIME_LABELS = ("t", "time", "T", "frame", "frames")


def time_axis_of(layer) -> int:
    """The layer's time axis: the one labelled t/time, else the first."""
    labels = [str(label) for label in getattr(layer, "axis_labels", ())]
    return next((i for i, label in enumerate(labels) if label in TIME_LABELS), 0)


def corrected_layer_data(layer, options: dict):
    """Run the chosen operation on ``layer`` (any thread): a napari layer data tuple for the result."""
    start = time.perf_counter()
    data = finest_level(layer)
    if options["mode"] == "bleach":
        check_time_series(data, options)
        result = run(bleach_settings(options), data, time_axis=options["time_axis"], colour=layer.rgb)
        suffix = "bleach-corrected"
    else:
        reference = options["reference_layer"]
        if reference is None:
            raise ValueError("choose a reference layer to match to")
        colours = layer.rgb and reference.rgb  # each colour to the reference's same colour
        # a grey reference layer's distribution, counted once, serves a source of any dimensions
        # (ITK's variant reads the reference image itself: its mean, minimum and maximum)
        grey = np.asarray(finest_level(reference)) if options["variant"] == "itk" else None
        target = finest_level(reference)[..., :3] if colours else grey if grey is not None else reference_of(
            finest_level(reference))
        settings = Settings(operation="match", variant=options["variant"], parameters={"reference": target})
        result = run(settings, data, colour=colours)
        suffix = f"matched to {reference.name}"
    record = {"source": layer.name, "operation": options["mode"], "seconds": time.perf_counter() - start,
              **{key: getattr(value, "name", value) for key, value in options.items() if key != "mode"}}
    return result, output_kwargs(layer, record, name=f"{layer.name} {suffix}", multiscale=False), "image"


def check_time_series(data, options):
    """A layer of one plane (grey or RGB) has no time axis to correct along."""
    if data.ndim - (options["channel_axis"] is not None) < 3:
        raise ValueError("bleach correction needs a time series: this layer is a single 2D image")


def preview_plane(data, time_axis, index, options):
    """The displayed plane of time point ``index[time_axis]``, corrected (any thread): ``(plane, limits)``."""
    check_time_series(data, options)
    t = index[time_axis]
    colour = options["channel_axis"] is not None  # RGB(A): each colour alone, as the run corrects it
    frame = correct_time_point(data[..., :3] if colour else data, t, axis=time_axis,
                               channel_axis=-1 if colour else None, **bleach_settings(options).keywords())
    plane = np.asarray(frame[index[:time_axis] + index[time_axis + 1 :]])
    low, high = float(np.nanmin(plane)), float(np.nanmax(plane))
    return plane, (low, high if high > low else low + 1)


def bleach_settings(options) -> Settings:
    """The widget's bleach-correction options as settings (the registry's words)."""
    parameters = {"reference_frame": "previous" if options["previous"] else options["reference"],
                  "background": options["background"] if options["method"] == "ratio" else None,
                  "matching": options["variant"] if options["method"] == "histogram" else None}
    return Settings(operation="bleach", variant=options["method"],
                    parameters={name: value for name, value in parameters.items() if value is not None})


def _run(layer, options):
    """What the worker runs (looked up here at call time, so tests can slow it down)."""
    return corrected_layer_data(layer, options)


class MatchWidget(Container):
    """Bleach-correct a time series, or match a layer's histogram to another's, into a new layer."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        fit_side_column_when_shown(self.native)  # not as wide as a column the plots left
        self._viewer = viewer
        self._runs = OneWorker()
        self._bar = None
        self.image = ComboBox(choices=self._image_choices, label="image")
        self.mode = ComboBox(choices=MODES, value="bleach", label="operation")
        bleach, match = OPERATIONS["bleach"], OPERATIONS["match"]
        self.method = ComboBox(choices=bleach.variant_names, value=bleach.default_variant, label="method")
        self.variant = ComboBox(choices=self._variant_choices, value=match.default_variant, label="matching")
        self.time_axis = SpinBox(value=0, min=0, max=0, label="time axis")
        self.reference = SpinBox(value=0, min=0, max=0, label="reference time point")
        self.previous = CheckBox(value=False, text="match each time point to the previous corrected one")
        self.background = FloatSpinBox(value=0.0, min=0.0, max=1e9, label="background (ratio)")
        self.preview = CheckBox(value=False, text="live preview of the displayed time point")
        self._previews = OneWorker()
        self._preview_request = None  # the latest preview asked for while one computes
        self.reference_layer = ComboBox(choices=self._image_choices, label="reference layer", nullable=True)
        self.run_button = PushButton(text="Correct")
        self.cancel_button = PushButton(text="Cancel", visible=False)
        self.status = MessageLabel()
        self.note = MessageLabel("For segmentation and display, not intensity quantification.")
        self.extend([self.image, self.mode, self.method, self.variant, self.time_axis, self.reference, self.previous,
                     self.background, self.reference_layer, self.preview, self.run_button, self.cancel_button,
                     self.status, self.note])
        self.run_button.changed.connect(self.__call__)
        self.cancel_button.changed.connect(self._runs.cancel)
        self.image.changed.connect(self._on_image_changed)
        for widget in (self.mode, self.method, self.time_axis):
            widget.changed.connect(self._show_relevant_options)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self.reset_choices)
        for widget in (self.preview, self.image, self.mode, self.method, self.variant, self.time_axis,
                       self.reference, self.previous, self.background):
            widget.changed.connect(self._update_preview)
        viewer.dims.events.current_step.connect(self._update_preview)
        self.reset_choices()
        self._on_image_changed()

    def _on_image_changed(self, _event=None):
        layer = self.image.value
        if layer is not None:
            self.time_axis.max = max(finest_level(layer).ndim - (1 if layer.rgb else 0) - 1, 0)
            self.time_axis.value = time_axis_of(layer)
        self._show_relevant_options()

    def _image_choices(self, _widget=None):
        from napari.layers import Image

        return [(layer.name, layer) for layer in self._viewer.layers
                if isinstance(layer, Image) and not layer.metadata.get(PREVIEW_KEY)]

    def _variant_choices(self, _widget=None):
        """Matching's variants; bleach correction's are those that match every quantile (not ITK's)."""
        bleach = getattr(self, "mode", None) is not None and self.mode.value == "bleach"
        return [(label, name) for name, label in OPERATIONS["match"].variants
                if not bleach or name in QUANTILE_VARIANTS]

    def _show_relevant_options(self, _event=None):
        layer = self.image.value
        bleach = self.mode.value == "bleach"
        self.variant.reset_choices()
        for widget in (self.method, self.time_axis, self.reference, self.previous, self.note, self.preview):
            widget.visible = bleach
        self.background.visible = bleach and self.method.value == "ratio"
        self.previous.visible = bleach and self.method.value == "histogram"
        self.variant.visible = not bleach or self.method.value == "histogram"
        self.reference_layer.visible = not bleach
        self.run_button.text = "Correct" if bleach else "Match"
        if layer is None:
            return
        frames = finest_level(layer).shape[self.time_axis.value]
        self.reference.max = max(frames - 1, 0)

    # -- live preview ---------------------------------------------------------------------------
    def _update_preview(self, _event=None):
        """Ask for the preview of the displayed time point; it computes in a worker, the latest request wins."""
        layer = self.image.value
        if not self.preview.value or layer is None or self.mode.value != "bleach":
            self._preview_request = None
            preview = find_preview(self._viewer, PREVIEW_KEY)
            if preview is not None:
                self._viewer.layers.remove(preview)
            return
        index, displayed = displayed_index(self._viewer, layer)
        time_axis = int(self.time_axis.value)
        if time_axis in displayed:
            self.status.value = "preview: the time axis is displayed; step through time to preview a time point"
            return
        self._preview_request = (layer, finest_level(layer), time_axis, index, displayed, self.options())
        if not self._previews.busy:
            self._start_preview()

    def _start_preview(self):
        request, self._preview_request = self._preview_request, None
        _, data, time_axis, index, _, options = request
        self._previews.start(
            preview_plane, data, time_axis, index, options,
            returned=lambda result: self._show_preview(request, *result),
            errored=lambda exc: widget_alive(self.native) and setattr(self.status, "value", f"preview: {exc}"),
            finished=self._preview_finished,
        )

    def _preview_finished(self):
        if self._preview_request is not None and widget_alive(self.native):
            self._start_preview()

    def _show_preview(self, request, plane, limits):
        layer, _, _, _, displayed, _ = request
        if self._preview_request is not None or not widget_alive(self.native) or not self.preview.value:
            return  # a newer request replaces this one, or the preview was switched off
        if layer in self._viewer.layers and self.image.value is layer:
            show_preview(self._viewer, layer, displayed, plane, limits, PREVIEW_KEY, PREVIEW_SUFFIX)

    @property
    def previewing(self) -> bool:
        return self._previews.busy or self._preview_request is not None

    def options(self) -> dict:
        layer = self.image.value
        return {"mode": self.mode.value, "method": self.method.value, "variant": self.variant.value,
                "time_axis": int(self.time_axis.value),
                "channel_axis": -1 if layer is not None and layer.rgb else None,  # RGB: each colour alone
                "reference": int(self.reference.value), "previous": bool(self.previous.value),
                "background": float(self.background.value), "reference_layer": self.reference_layer.value}

    @property
    def running(self) -> bool:
        return self._runs.busy

    def __call__(self, *_args):
        """Run on the chosen layer in a worker; returns the worker (None if there is nothing to do)."""
        if self._runs.busy:
            return self._runs.worker
        from napari.utils import progress
        from napari.utils.notifications import show_error

        layer = self.image.value
        if layer is None:
            show_error("choose an image layer")
            return None
        self.run_button.enabled, self.cancel_button.visible = False, True
        self.status.value = f"working on {layer.name}..."
        self._bar = progress(total=0, desc=f"{self.run_button.text} {layer.name}")
        relay = ProgressRelay(self._bar)
        return self._runs.start(with_dask_progress, _run, (layer, self.options()), self._runs.cancel_requested,
                                relay, returned=self._on_returned, errored=self._on_errored,
                                finished=self._on_finished)

    def _on_returned(self, layer_data):
        if not widget_alive(self.native):
            return
        data, kwargs, _ = layer_data
        show_result(self._viewer, data, kwargs, by_name=True)
        self.status.value = f"{kwargs['name']}: {kwargs['metadata'][METADATA_KEY]['seconds'] * 1000:.0f} ms"

    def _on_errored(self, exc):
        if not widget_alive(self.native):
            return
        from napari.utils.notifications import show_error, show_info

        if isinstance(exc, Cancelled):
            self.status.value = "cancelled"
            show_info("napari-histeq: cancelled; no layer was added")
            return
        self.status.value = f"failed: {exc}"
        show_error(f"napari-histeq: {exc}")

    def _on_finished(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if widget_alive(self.native):
            self.run_button.enabled, self.cancel_button.visible = True, False
