"""The "Histogram and CDF" dock widget: the user's plots, inside napari.

For the selected image layer and, when it exists, its equalised counterpart:
both histograms, both cumulative distributions, the transfer curve, the
uniform reference and the numbers (entropy, occupied levels, KS distance to
uniform). It follows the selection, the layers' data and the displayed plane;
updates are throttled and computed in a worker thread, and only the drawing
happens on the GUI thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QFont
from qtpy.QtWidgets import QBoxLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .._inspect.plot import draw_histogram_panel, histogram_panel_data, stats_text
from .layers import METADATA_KEY, displayed_index, find_output_layer, finest_level
from .window import give_plots_the_bottom, remembered_dock_areas
from .worker import OneWorker

if TYPE_CHECKING:
    import napari

SCOPE_CHOICES = [("Displayed plane", "plane"), ("Whole layer", "layer")]
#: Quiet time after the last change before the histograms are recomputed.
THROTTLE_MS = 150
#: Smallest canvas height. Small on purpose: a minimum the dock cannot give would resize the user's
#: window, where they put the plots in a crowded column themselves; the layouts this plugin picks (the
#: bottom of the window) give the plots far more (tests/test_napari.py measures them).
ROW_MIN_HEIGHT = 100
#: Below this canvas height the plots are drawn compact (no figure title, which would take a third of
#: a 120-pixel canvas: napari's default window on a 1280x800 screen gives about that).
COMPACT_BELOW = 250
#: Below this dock height (in a dock at least 2.5 times as wide) the controls sit in a column beside the plots.
SHORT_DOCK = 320
#: Smallest canvas width; the numbers' column beside the plots in a wide dock.
CANVAS_MIN_SIZE = (300, ROW_MIN_HEIGHT)
STATS_COLUMN_WIDTH = 330
QWIDGETSIZE_MAX = (1 << 24) - 1


def _panel_data(before, after, rgb, title, reference=None, limits=None, landmarks=None):
    """Read the selected planes (this runs in the worker thread) and compute the curves."""

    def read(selection):
        if selection is None:
            return None
        data, index = selection
        return data[index] if index else data

    return histogram_panel_data(read(before), read(after), rgb=rgb, title=title, reference=read(reference),
                                limits=limits, landmarks=landmarks)


class HistogramWidget(QWidget):
    """Histograms, CDFs and transfer curve of an image layer and its equalised copy."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        super().__init__()
        self._viewer = napari_viewer
        self._updates = OneWorker()
        self._pending = False
        self._watched = []
        self.data = None  # the last PanelData drawn
        self.draws = 0

        self.scope = ComboBox(choices=SCOPE_CHOICES, value="plane", label="scope")
        self.log = CheckBox(value=False, text="log counts")
        self.full_range = CheckBox(value=False, text="full dtype range",
                                   tooltip="the x-axes over the dtype's whole range, not the values the images occupy")
        self.density = CheckBox(value=True, text="density", tooltip="kernel density estimate (Scott's rule) "
                                "over each histogram, from its counts")
        self.controls = Container(widgets=[self.scope, self.log, self.full_range, self.density],
                                  layout="horizontal", labels=False)
        self.controls.native.layout().setContentsMargins(0, 0, 0, 0)
        self.figure = Figure(figsize=(7, 2.6), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumSize(CANVAS_MIN_SIZE[0], ROW_MIN_HEIGHT)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setVisible(False)  # an empty label still takes a row of a short dock's height
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.stats.setFont(QFont("monospace", 8))
        self.stats.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.stats.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        # (_follow_shape) the controls in a row above the plots, or in a column beside them in a short,
        # wide dock, where a row would cost the plots a fifth of their height; the numbers beneath the
        # plots, or beside them in a wide dock. No scroll area: every text stays in view, the plots
        # take what is left
        self.plots_row = QHBoxLayout()
        self.plots_row.addWidget(self.canvas, 1)
        self.body = QBoxLayout(QBoxLayout.Direction.TopToBottom)
        self.body.addLayout(self.plots_row, 1)
        self.body.addWidget(self.stats, 0)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(4, 0, 4, 4)
        self.layout_.addWidget(self.controls.native)
        self.layout_.addWidget(self.note)
        self.layout_.addLayout(self.body, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._placed = False
        self._remembered = remembered_dock_areas()  # before napari docks it (and records where)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._start_update)

        viewer = self._viewer
        viewer.layers.selection.events.active.connect(self.schedule_update)
        viewer.layers.events.inserted.connect(self.schedule_update)
        viewer.layers.events.removed.connect(self.schedule_update)
        viewer.dims.events.current_step.connect(self._on_step)
        viewer.events.theme.connect(self._redraw)
        self.canvas.mpl_connect("resize_event", self._redraw)
        self.scope.changed.connect(self.schedule_update)
        self.log.changed.connect(self._redraw)
        self.full_range.changed.connect(self._redraw)
        self.density.changed.connect(self._redraw)
        self.schedule_update()

    # -- what to show ---------------------------------------------------------------------------
    def _layers(self):
        """``(before, after, note)``: the layers to plot, or why there is nothing to plot."""
        from napari.layers import Image

        active = self._viewer.layers.selection.active
        if not isinstance(active, Image):
            return None, None, "Select an image layer to see its histogram."
        record = active.metadata.get(METADATA_KEY)
        if record and record.get("source") in self._viewer.layers:
            return self._viewer.layers[record["source"]], active, ""
        return active, find_output_layer(self._viewer, active.name), ""

    def _reference_of(self, result):
        """The layer a result was matched to (Match histograms), when it is still in the viewer."""
        record = {} if result is None else result.metadata.get(METADATA_KEY) or {}
        name = record.get("reference_layer")
        if record.get("operation") != "match" or name not in self._viewer.layers:
            return None
        reference = self._viewer.layers[name]
        return reference if reference.rgb == result.rgb else None

    def _limits_of(self, result, before):
        """A contrast stretch's limits for what is shown: its one pair, or the displayed plane's."""
        record = {} if result is None else result.metadata.get(METADATA_KEY) or {}
        limits = record.get("input_limits")
        if not limits:
            return None
        if len(limits) == 1:
            return limits[0]
        if self.scope.value != "plane" or record.get("scope") != "plane":
            return None  # one pair per plane, and the plot spans more than one
        index = displayed_index(self._viewer, before)[0]
        leading = finest_level(before).shape[:-2]  # the planes' axes, in the order the pairs were found
        if any(not isinstance(i, int) for i in index[:-2]) or len(limits) != int(np.prod(leading)):
            return None  # the view is not across the last two axes, the planes that were stretched
        return limits[int(np.ravel_multi_index(index[:-2], leading))]

    def _selection(self, layer):
        """The data and the index to read from it (the read itself happens in the worker)."""
        data = finest_level(layer)
        index = displayed_index(self._viewer, layer)[0] if self.scope.value == "plane" else ()
        return data, index

    # -- updating -------------------------------------------------------------------------------
    def schedule_update(self, *_args):
        """Recompute after a short quiet time (many events in a row cost one update)."""
        self._timer.start()

    def _on_step(self, *_args):
        if self.scope.value == "plane":
            self.schedule_update()

    def _watch(self, layers):
        for layer in self._watched:
            layer.events.data.disconnect(self.schedule_update)
        self._watched = [layer for layer in layers if layer is not None]
        for layer in self._watched:
            layer.events.data.connect(self.schedule_update)

    def _start_update(self):
        if self._updates.busy:
            self._pending = True
            return
        before, after, note = self._layers()
        reference = self._reference_of(after)
        self._watch([before, after, reference])
        if before is None:
            self._show_note(note)
            return
        if after is not None and (after.rgb != before.rgb or after.data.shape != before.data.shape):
            after = None
        title = before.name if after is None else f"{before.name}  ->  {after.name}"
        self._updates.start(
            _panel_data, self._selection(before), None if after is None else self._selection(after), before.rgb,
            title, None if reference is None else (finest_level(reference), ()), self._limits_of(after, before),
            ((after.metadata.get(METADATA_KEY) or {}).get("landmarks") if after is not None else None),
            returned=self._on_returned, finished=self._on_finished,
            errored=lambda exc: self._show_note(f"Cannot plot {before.name}: {exc}"),
        )

    def _on_returned(self, data):
        self.data = data
        self._set_note("")
        self._redraw()

    def _set_note(self, text):
        self.note.setText(text)
        self.note.setVisible(bool(text))

    def _on_finished(self):
        if self._pending:
            self._pending = False
            self.schedule_update()

    def _show_note(self, text):
        self.data = None
        self.figure.clear()
        self.canvas.draw_idle()
        self.stats.setText("")
        self._set_note(text)

    def _redraw(self, *_args):
        if self.data is None:
            return
        from napari.utils.theme import get_theme

        theme = get_theme(self._viewer.theme)
        vertical = self.canvas.width() < 1.6 * self.canvas.height()
        compact = self.canvas.height() < COMPACT_BELOW  # a short dock: no figure title, a smaller legend
        self._follow_shape()
        draw_histogram_panel(
            self.figure, self.data, log=self.log.value, density=self.density.value, vertical=vertical,
            span="dtype" if self.full_range.value else "data",
            foreground=theme.text.as_hex(), background=theme.background.as_hex(), compact=compact,
        )
        self.canvas.draw()
        self.stats.setText(stats_text(self.data))
        self._fit_stats()
        self.draws += 1

    def _follow_shape(self):
        """The numbers beside the plots when the dock is wide, beneath them when it is tall; in a short
        dock the controls in a column beside the plots, where they cost no height.
        """
        wide = self.width() >= 1.8 * self.height() and self.width() >= 760 + STATS_COLUMN_WIDTH
        short = self.height() < SHORT_DOCK and self.width() >= 2.5 * self.height()
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.body.direction() != direction:
            self.body.setDirection(direction)
            self.stats.setMinimumWidth(STATS_COLUMN_WIDTH if wide else 0)
            self.stats.setMaximumWidth(STATS_COLUMN_WIDTH if wide else QWIDGETSIZE_MAX)
        controls = self.controls.native
        beside = self.plots_row.indexOf(controls) >= 0
        if short != beside:
            (self.layout_ if beside else self.plots_row).removeWidget(controls)
            if short:
                self.plots_row.addWidget(controls, 0, Qt.AlignmentFlag.AlignTop)
            else:
                self.layout_.insertWidget(0, controls)
            controls.layout().setDirection(QBoxLayout.Direction.TopToBottom if short
                                           else QBoxLayout.Direction.LeftToRight)
        self._fit_stats()

    def _fit_stats(self):
        """Every line of the numbers in view: a word-wrapped label beneath the plots asks the layout for
        its height at its width, or the plots' canvas takes the rows the numbers need.
        """
        below = self.body.direction() == QBoxLayout.Direction.TopToBottom
        needed = self.stats.heightForWidth(max(self.stats.width(), 1)) if below and self.stats.text() else 0
        if self.stats.minimumHeight() != max(needed, 0):
            self.stats.setMinimumHeight(max(needed, 0))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._follow_shape()

    def showEvent(self, event):
        """The first time it is shown: out of a side column it would share with other widgets, to the
        bottom of the window, unless the user has put it somewhere before (napari remembers).
        """
        super().showEvent(event)
        if not self._placed:
            self._placed = True
            # once napari has finished docking it: moving a dock inside its own docking crashes Qt
            QTimer.singleShot(0, lambda: give_plots_the_bottom(self, self._remembered))

    @property
    def busy(self) -> bool:
        """True while an update is scheduled or computing."""
        return self._timer.isActive() or self._updates.busy or self._pending
