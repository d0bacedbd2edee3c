"""Labels for messages of any length: notes, progress and failures in the dock widgets."""

from __future__ import annotations

from magicgui.widgets import Label
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QSizePolicy

from .._engine.backend import backend_info


class MessageLabel(Label):
    """A label whose text wraps to the dock's width instead of widening the dock.

    A plain label asks for its text's width on one line: one long message (a
    failure, or why the GPU cannot be used) widened the dock and left the
    canvas no room. ``tooltip`` can hold the whole of a message shown in part.

    Examples
    --------
    In a widget (a Qt application is running)::

        note = MessageLabel("auto picks numpy: no usable GPU (hover for why)", tooltip=reason)
        note.value = "failed: " + reason  # wraps; the dock keeps its width
    """

    def __init__(self, value: str = "", tooltip: str | None = None):
        super().__init__(tooltip=tooltip)
        native = self.native
        native.setWordWrap(True)
        # the layout gives the width and the text takes the lines it needs there
        native.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._fit_on_resize = _FitHeightOnResize(native)  # kept alive with the label
        native.installEventFilter(self._fit_on_resize)
        self.value = value

    def set_value(self, value) -> None:
        super().set_value(value)
        _fit_height(self.native)


def _fit_height(label) -> None:
    # A layout sizes a fixed-height label from its size hint, which Qt computes for a wider
    # label than the dock gives it: the lines that did not fit were cut off.
    height = label.heightForWidth(max(label.width(), 1))
    if height > 0:  # -1 until the label wraps
        label.setMinimumHeight(height)


class _FitHeightOnResize(QObject):
    def eventFilter(self, label, event):
        if event.type() == QEvent.Type.Resize:
            _fit_height(label)
        return False


def describe_auto_backend() -> tuple[str, str]:
    """The backend note and its tooltip: what ``auto`` picks in a few words, and all of why."""
    try:
        info = backend_info()
    except (ValueError, RuntimeError) as error:  # a bad NAPARI_HISTEQ_BACKEND: say so, keep the widget usable
        headline = str(error).split(": ", 1)[0]  # without the CUDA error, if any: it is in the tooltip
        return f"auto cannot choose: {headline}. Pick numpy or cupy here.", str(error)
    if info.name == "cupy":
        return f"auto picks {info.reason}", info.reason
    if ": " in info.reason:  # CuPy is there but failed: the error is long, and in the tooltip
        return "auto picks numpy: no usable GPU (hover for why)", info.reason
    return f"auto picks numpy: {info.reason}", info.reason


def notify_error(message: str) -> None:
    """``message`` in napari's notifications, as an error."""
    from napari.utils.notifications import show_error

    show_error(message)


def notify_info(message: str) -> None:
    """``message`` in napari's notifications, as information."""
    from napari.utils.notifications import show_info

    show_info(message)
