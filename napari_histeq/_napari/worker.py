"""The worker life cycle both dock widgets share: one run at a time, progress, cancel, errors.

Threads: the GUI thread starts workers and receives their results; every Qt
object (a progress bar included) is made and touched there. The worker
computes and reports progress through Qt signals, which Qt queues to the GUI
thread.
"""

from __future__ import annotations

import threading

from qtpy.QtCore import QObject, Signal


class Cancelled(Exception):
    """The user pressed Cancel."""


class OneWorker:
    """At most one worker at a time: ``start`` one, know whether one runs, ask it to stop.

    ``returned(result)``, ``errored(exception)`` and ``finished()`` run on the
    GUI thread; an error never opens napari's traceback dialog.
    """

    def __init__(self):
        self.worker = None
        self.cancel_requested = threading.Event()

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self, function, *args, returned, errored, finished=None):
        from napari.qt.threading import create_worker

        self.cancel_requested.clear()
        worker = create_worker(function, *args, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(returned)
        worker.errored.connect(errored)
        worker.finished.connect(lambda: self._finished(finished))
        self.worker = worker
        worker.start()
        return worker

    def _finished(self, then):
        self.worker = None
        if then is not None:
            then()

    def cancel(self):
        """Ask the running work to stop at its next chunk (see :func:`with_dask_progress`)."""
        self.cancel_requested.set()


class ProgressRelay(QObject):
    """Carries a worker's progress to a napari progress bar that lives on the GUI thread.

    Made on the GUI thread; the worker only emits, and Qt queues each signal
    to the slots here, which run on the GUI thread.
    """

    total_known = Signal(int)
    advanced = Signal()

    def __init__(self, bar):
        super().__init__()
        self.bar = bar
        self.total_known.connect(self._set_total)
        self.advanced.connect(self._advance)

    def _set_total(self, total):
        self.bar.total = total

    def _advance(self):
        self.bar.update(1)


def with_dask_progress(function, args, cancel: threading.Event, relay: ProgressRelay):
    """Run ``function(*args)`` (in a worker), reporting dask's tasks through ``relay``.

    For dask and zarr data the bar counts the tasks and Cancel stops at the
    next one; in-memory data shows a busy bar.
    """
    from dask.callbacks import Callback

    class DaskProgress(Callback):
        def _start_state(self, dsk, state):
            relay.total_known.emit(sum(len(state[key]) for key in ("ready", "waiting", "running")))

        def _pretask(self, key, dsk, state):
            if cancel.is_set():
                raise Cancelled()

        def _posttask(self, key, result, dsk, state, worker_id):
            relay.advanced.emit()

    if cancel.is_set():
        raise Cancelled()
    with DaskProgress():
        return function(*args)


def widget_alive(qt_widget) -> bool:
    """False once the viewer (and the dock widget with it) was closed."""
    try:
        qt_widget.objectName()
    except RuntimeError:  # wrapped C/C++ object deleted
        return False
    return True
