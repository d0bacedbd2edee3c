"""The CPU kernels' own worker threads.

The kernels are single-threaded, ``nogil`` numba functions; this module runs
several of them at once on a small pool of Python threads. We do not use
numba's ``parallel=True``: its threading layer is whatever the user's
environment provides (``workqueue``, OpenMP or TBB), is process-wide, and
with GNU OpenMP it spins after every parallel region and kills forked
children ("fork() called from a process already using GNU OpenMP"). Plain
threads behave the same everywhere, spin for a bounded 250 us at most
(:mod:`.spin`: waking a sleeping thread costs more than a small image's
stage), then sleep, and leave the user's numba settings alone.

Every call drains its own tasks: the calling thread works too, and the pool's
threads help as they become free. Concurrent callers (the widget's worker,
the live preview, dask's threads) therefore never wait for each other, and a
kernel called from a pool thread cannot deadlock. After ``fork()`` the child
forgets the parent's pool and starts its own on first use.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
import time

import numpy as np

ENV_VAR = "NAPARI_HISTEQ_NUM_THREADS"

_pool: _Helpers | None = None
_pool_lock = threading.Lock()


def num_threads() -> int:
    """Threads a kernel call uses: ``NAPARI_HISTEQ_NUM_THREADS``, else the cores this process may run on."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        try:
            threads = int(value)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a whole number of threads, got {value!r}") from None
        if threads < 1:
            raise ValueError(f"{ENV_VAR} must be at least 1, got {threads}")
        return threads
    return _cores()


#: How long the cores this process may run on are taken as known: a kernel call asks for the thread
#: count a dozen times, and the system call cost a fifth of equalising a 512x512 image.
_CORES_FRESH_FOR = 0.25
_cores_seen = (-1.0, 1)


def _cores() -> int:
    """The cores this process may run on (``taskset``, cgroup CPU sets), read again at most every 0.25 s."""
    global _cores_seen
    now = time.monotonic()
    seen_at, cores = _cores_seen
    if now - seen_at > _CORES_FRESH_FOR or now < seen_at:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        _cores_seen = (now, cores)
    return cores


class _Helpers:
    """``count`` daemon threads that run the drains queued by :func:`run_parallel`.

    A helper with nothing to do watches :attr:`generation` (bumped by every
    launch) for :data:`.spin.SPIN_SECONDS` without the GIL, so that the next
    stage of a call finds it awake; then it sleeps on :attr:`wake`.
    """

    def __init__(self, count: int):
        self.count = count
        self.queue: collections.deque = collections.deque()
        self.generation = np.zeros(1, np.int64)
        self._bumps = itertools.count(1)  # next() is atomic: two launches at once still change the cell
        self.wake = threading.Condition(threading.Lock())
        self.sleeping = 0
        self.stopped = False
        from . import spin  # numba: imported by the first launch, so that the engine imports without it

        self.wait_while = spin.wait_while
        self.spins = spin.spins_for(spin.SPIN_SECONDS)
        for i in range(count):
            threading.Thread(target=self._serve, name=f"napari-histeq-{i}", daemon=True).start()

    def submit(self, drain, copies: int, announce: bool = True) -> int:
        """Queue ``drain`` for ``copies`` helpers; the generation that announces it (stored here unless
        ``announce`` is False: then the caller stores it, from a kernel, once it has let go of the GIL).
        """
        self.queue.extend([drain] * copies)
        generation = next(self._bumps)
        if announce:
            self.generation[0] = generation
        # A helper counts itself asleep before it looks at the generation one last time (under the
        # GIL, in this order), so one that missed the bump above is counted here.
        if self.sleeping:
            with self.wake:
                self.wake.notify(copies)
        return generation

    def withdraw(self, drain) -> None:
        """Take back the copies of ``drain`` no helper has started: their caller is done without them,
        and they hold its arrays.
        """
        try:
            while True:
                self.queue.remove(drain)
        except ValueError:
            pass

    def rouse(self) -> None:
        """Every helper watching or asleep looks again (for work, or whether it is stopped)."""
        self.generation[0] = next(self._bumps)
        with self.wake:
            self.wake.notify_all()

    def stop(self) -> None:
        self.stopped = True
        self.rouse()

    def _serve(self) -> None:
        seen = int(self.generation[0])
        finished = None  # a cell the last drain asks to count up once this helper has let go of the GIL
        while not self.stopped:
            try:
                drain = self.queue.popleft()
            except IndexError:
                seen = self._wait(seen, finished)
                finished = None
                continue
            if finished is not None:
                finished[0] += 1
            finished = drain()
            del drain  # its tasks hold the caller's arrays (the output among them): let them go now

    def _wait(self, seen: int, finished) -> int:
        """The generation once it differs from ``seen``: watched first, then slept for.

        ``finished`` (a completion cell or None) is set once the GIL is released.
        """
        if self.spins:
            now = int(self.wait_while(self.generation, seen, self.spins, finished))
            if now != seen:
                return now
        elif finished is not None:
            finished[0] += 1
        with self.wake:
            self.sleeping += 1
            while int(self.generation[0]) == seen and not self.queue and not self.stopped:
                self.wake.wait()
            self.sleeping -= 1
        return int(self.generation[0])


def _helpers(count: int) -> _Helpers:
    """The ``count`` helper threads (made anew when the wanted number changes)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.count != count:
            if _pool is not None:
                _pool.stop()
            _pool = _Helpers(count)
        return _pool


def start_on_helpers(task, copies: int, threads: int | None = None):
    """Queue ``task(spins)`` for up to ``copies`` helper threads: ``(cell, value, withdraw)``.

    For work whose caller claims whatever no helper has started (see
    :mod:`.onepass`): it never waits for a queued helper. ``spins`` is how
    long a helper may watch for the caller's next step (:func:`.spin.wait_while`).
    The caller stores ``value`` in ``cell[0]`` from inside its own kernel:
    a watching helper then takes the GIL while the caller does not hold it
    (taken from Python, the helper would wait for the GIL asleep, see
    :mod:`.spin`). ``withdraw()`` takes back the copies no helper started,
    once the work is done. None without helpers. ``threads``: the caller's
    :func:`num_threads`, when it has it.
    """
    threads = threads or num_threads()
    if threads < 2:
        return None
    pool = _helpers(threads - 1)

    def drain():
        return task(pool.spins)

    generation = pool.submit(drain, min(copies, threads - 1), announce=False)
    return pool.generation, generation, lambda: pool.withdraw(drain)


def helpers_asleep() -> bool:
    """True when no helper thread watches for work: none started yet, or every one asleep."""
    pool = _pool
    return pool is None or pool.sleeping >= pool.count


def wake_helpers(threads: int | None = None) -> None:
    """Have sleeping helpers start watching for work now, ahead of a launch a few dozen microseconds away.

    A sleeping thread takes 25-45 us to run again once woken (see :mod:`.spin`):
    woken before a call's checks and set-up, it is awake by its first launch.
    ``threads``: the caller's :func:`num_threads`, for the helpers to be started if they are not yet.
    """
    pool = _pool if threads is None or threads < 2 else _helpers(threads - 1)
    if pool is not None and pool.sleeping:
        pool.rouse()


def _forget_pool_in_child() -> None:
    # The parent's threads do not exist in a forked child, and its lock may
    # have been held at the moment of the fork: start from nothing.
    global _pool, _pool_lock, _cores_seen
    _pool, _pool_lock = None, threading.Lock()
    _cores_seen = (-1.0, 1)  # a child may be pinned elsewhere


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges that cover ``range(n)`` in at most ``parts`` near-equal pieces."""
    parts = max(1, min(parts, n))
    step = -(-n // parts)
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def run_parallel(function, tasks) -> list:
    """``[function(*task) for task in tasks]``, spread over the calling thread and the pool.

    ``function`` must release the GIL (a ``nogil`` kernel) for this to run in
    parallel. Results come back in the order of ``tasks``; the first
    exception is raised once every task has stopped.

    The caller waits only for tasks that a thread has already taken, never
    for a helper still queued behind other work, so calls from inside a task
    (or from a pool thread) cannot deadlock.
    """
    tasks = list(tasks)
    if len(tasks) <= 1:  # nothing to share: no need to ask how many threads there are
        return [function(*task) for task in tasks]
    threads = num_threads()
    workers = min(len(tasks), threads)
    if workers <= 1:
        return [function(*task) for task in tasks]
    results = [None] * len(tasks)
    errors = []
    # No lock: next() on these iterators is atomic under the GIL, and a thread that blocked on a
    # lock here would sleep (see :mod:`.spin`) where it should spin.
    next_task = iter(range(len(tasks)))
    finished = itertools.count(1)
    all_finished = np.zeros(1, np.int64)
    all_done = threading.Event()

    def drain():
        """Run tasks while any is left; ``all_finished`` if this thread ran the last, for it to set."""
        last = None
        while (index := next(next_task, None)) is not None:
            try:
                results[index] = function(*tasks[index])
            except BaseException as error:
                errors.append(error)
            if next(finished) == len(tasks):
                all_done.set()
                last = all_finished
        return last

    pool = _helpers(threads - 1)
    pool.submit(drain, workers - 1)
    # the tasks still running were taken by helpers, which are awake: watch for the last one first
    if drain() is None and (not pool.spins or pool.wait_while(all_finished, 0, pool.spins) == 0):
        all_done.wait()  # long tasks: sleep until the last one ends
    pool.withdraw(drain)
    if errors:
        raise errors[0]
    return results
