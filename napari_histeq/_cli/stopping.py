"""Stopping the command line on request: Ctrl-C, ``kill`` (SIGTERM) and a closed terminal (SIGHUP) alike.

Ctrl-C raises :class:`KeyboardInterrupt` in the main thread; SIGTERM and SIGHUP raise
:class:`Stopped`, a kind of it, so that one path cleans up after all three: temporary files
are removed, worker processes stop, and the exit status is 128 + the signal's number
(130, 143, 129), as shells report a process ended by that signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

#: The signals that stop a run besides Ctrl-C (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """The run was asked to stop by ``signum``."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    def __reduce__(self):  # a worker's stop travels back to the parent pickled
        return Stopped, (self.signum,)


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


def _ignore_further_stops() -> None:
    """Cleaning up after the first request is not interrupted by a second one."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _raise_stopped(signum, _frame):
    _ignore_further_stops()
    raise Stopped(signum)


@contextlib.contextmanager
def stop_on_signals():
    """While inside, SIGTERM and SIGHUP raise :class:`Stopped` in the main thread; handlers restored after."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stopped)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- in worker processes ------------------------------------------------------------------------

_busy = False
_stopped_by = None


def _worker_handler(signum, _frame):
    global _stopped_by
    _stopped_by = signum
    if _busy:  # inside a file: unwind through its clean-up, then the pool's loop takes the exception
        _raise_stopped(signum, _frame)
    os._exit(128 + signum)  # idle between files: nothing to clean up


def _worker_interrupt(signum, _frame):
    """Ctrl-C in a worker: it reaches the parent too, which shuts the pool down. A worker inside a
    file unwinds it; an idle one stays to take the parent's word to stop, since leaving from inside
    the pool's queue (it holds its lock while it waits) could leave the other workers stuck, and
    Python's own handler printed multiprocessing's KeyboardInterrupt traceback there.
    """
    global _stopped_by
    _stopped_by = signum
    if _busy:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the clean-up short
        raise Stopped(signum)


def stop_worker_on_signals() -> None:
    """A worker process's SIGTERM and SIGHUP: stop the file at hand, cleaning up, or exit when idle;
    Ctrl-C: stop the file at hand (see :func:`_worker_interrupt`). Where the parent ignores SIGINT
    (a script in the background), the workers keep ignoring it.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, _worker_handler)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _worker_interrupt)


def run_busy(function, *args, **kwargs):
    """``function(*args, **kwargs)`` in a worker, marked as work that a stop must unwind.

    After a stop, the files the pool had already queued for this worker are refused, not run.
    """
    global _busy
    if _stopped_by is not None:
        raise Stopped(_stopped_by)
    _busy = True
    try:
        return function(*args, **kwargs)
    finally:
        _busy = False


def stop_workers(pool, signum: int) -> None:
    """Pass ``signum`` on to ``pool``'s worker processes (a SIGTERM sent to the parent alone reaches no child)."""
    # ProcessPoolExecutor keeps its processes by pid in ``_processes``; it has no public way to signal them.
    for pid in list(getattr(pool, "_processes", None) or {}):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
