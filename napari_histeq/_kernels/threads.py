"""The CPU kernels' own worker threads.

The kernels are single-threaded, ``nogil`` numba functions; this module runs
several of them at once on a small pool of Python threads. We do not use
numba's ``parallel=True``: its threading layer is whatever the user's
environment provides (``workqueue``, OpenMP or TBB), is process-wide, and
with GNU OpenMP it spins after every parallel region and kills forked
children ("fork() called from a process already using GNU OpenMP"). Plain
threads behave the same everywhere, block instead of spinning, and leave the
user's numba settings alone.

Every call drains its own tasks: the calling thread works too, and the pool's
threads help as they become free. Concurrent callers (the widget's worker,
the live preview, dask's threads) therefore never wait for each other, and a
kernel called from a pool thread cannot deadlock. After ``fork()`` the child
forgets the parent's pool and starts its own on first use.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ENV_VAR = "NAPARI_HISTEQ_NUM_THREADS"

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
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


def _helpers(count: int) -> ThreadPoolExecutor:
    """The pool of ``count`` helper threads (made anew when the wanted size changes)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != count:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="napari-histeq")
            _pool_size = count
        return _pool


def _forget_pool_in_child() -> None:
    # The parent's threads do not exist in a forked child, and its lock may
    # have been held at the moment of the fork: start from nothing.
    global _pool, _pool_size, _pool_lock, _cores_seen
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()
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
    threads = num_threads()
    workers = min(len(tasks), threads)
    if workers <= 1:
        return [function(*task) for task in tasks]
    results = [None] * len(tasks)
    errors = []
    next_task = iter(range(len(tasks)))
    unfinished = [len(tasks)]
    lock = threading.Lock()
    all_done = threading.Event()

    def drain():
        while True:
            with lock:
                index = next(next_task, None)
            if index is None:
                return
            try:
                results[index] = function(*tasks[index])
            except BaseException as error:
                errors.append(error)
            with lock:
                unfinished[0] -= 1
                if unfinished[0] == 0:
                    all_done.set()

    pool = _helpers(threads - 1)
    for _ in range(workers - 1):
        pool.submit(drain)
    drain()
    all_done.wait()
    if errors:
        raise errors[0]
    return results
