"""Waiting for another thread by watching one memory cell, without the GIL and without sleeping.

A thread that sleeps (a futex: ``threading.Event``, a lock, a queue) takes
tens of microseconds to run again once woken: 20-45 us on a 2-core KVM guest
whose idle core halts. That is as long as counting a 512x512 image, so the
kernels' helper threads and the thread waiting for them spin here for a
short, bounded time first (as OpenMP and OpenCV's pool do), offering the
core to any other thread between reads, then sleep.

The loops read the cell with an atomic *acquire* load: a plain load could be
hoisted out of the loop by the compiler, and the acquire orders the reads of
the task that follow the cell's change.
"""

from __future__ import annotations

import functools
import sys
import time

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


def _cell(context, builder, signature, args):
    """The address of ``cells[index]``: the first two arguments of the intrinsics below."""
    array_type = signature.args[0]
    array = context.make_array(array_type)(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, array_type, array, [args[1]])


@intrinsic
def load_acquire(typingctx, cells, index):
    """``cells[index]`` read atomically with acquire ordering (a 64-bit integer array)."""

    def codegen(context, builder, signature, args):
        return builder.load_atomic(_cell(context, builder, signature, args), "acquire", 8)

    return cells.dtype(cells, index), codegen


@intrinsic
def store_release(typingctx, cells, index, value):
    """``cells[index] = value`` written atomically with release ordering."""

    def codegen(context, builder, signature, args):
        builder.store_atomic(args[2], _cell(context, builder, signature, args), "release", 8)
        return context.get_dummy_value()

    return types.void(cells, index, cells.dtype), codegen


@intrinsic
def fetch_add(typingctx, cells, index, value):
    """``cells[index] += value`` as one atomic step (acquire and release); the value before."""

    def codegen(context, builder, signature, args):
        return builder.atomic_rmw("add", _cell(context, builder, signature, args), args[2], "acq_rel")

    return cells.dtype(cells, index, cells.dtype), codegen


@intrinsic
def claim(typingctx, cells, index):
    """Set ``cells[index]`` from 0 to 1 atomically: True for the one thread that did."""

    def codegen(context, builder, signature, args):
        zero, one = (context.get_constant(signature.args[0].dtype, v) for v in (0, 1))
        result = builder.cmpxchg(_cell(context, builder, signature, args), zero, one, "acq_rel", "acquire")
        return builder.extract_value(result, 1)

    return types.boolean(cells, index), codegen


#: The system call that lets another thread run on this core: a watcher on a busy machine must not
#: keep the core from the thread it waits for.
_YIELD = "SwitchToThread" if sys.platform == "win32" else "sched_yield"


@intrinsic
def _yield_core(typingctx):
    def codegen(context, builder, signature, args):
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), _YIELD)
        builder.call(function, [])
        return context.get_dummy_value()

    return types.void(), codegen


#: Offer this core to another thread (inside kernels that wait for one).
yield_core = _yield_core

#: Plain reads (about a microsecond) before each further read waits for the core to be offered away.
_READS = 1 << 12


@numba.njit(nogil=True, cache=True)
def wait_while(cells, value, spins, publish=None):
    """Watch ``cells[0]`` while it equals ``value``: a microsecond of reads, then up to ``spins`` reads,
    each after offering the core to another thread. Return the last value read.

    ``publish``: a cell counted up by 1 first, once the GIL is released: a
    thread that says "done" this way lets the waiting thread take the GIL at
    once, where the same store from Python would have it sleep on the GIL
    until this thread let go.
    """
    if publish is not None:
        fetch_add(publish, 0, np.int64(1))
    seen = load_acquire(cells, 0)
    for _ in range(_READS):
        if seen != value:
            return seen
        seen = load_acquire(cells, 0)
    for _ in range(spins):
        if seen != value:
            return seen
        _yield_core()
        seen = load_acquire(cells, 0)
    return seen


#: How long a helper keeps watching for work after its last task, and a caller for its helpers'
#: tasks, before sleeping: longer than the Python steps between a call's stages and between
#: calls in a loop (tens of microseconds), short enough to cost a busy machine little.
SPIN_SECONDS = 250e-6


def spins_for(seconds: float) -> int:
    """How many ``spins`` of :func:`wait_while` take about ``seconds`` on this idle core (measured once;
    on a busy core each takes longer, and this thread less of the core), or 0 where it cannot run.
    """
    cell = np.zeros(1, np.int64)
    trial = 1 << 10
    try:
        wait_while(cell, 0, 1)  # compile or load before timing
    except Exception:  # no such system call to link: sleep at once instead
        return 0
    start = time.perf_counter()
    wait_while(cell, 0, trial)
    elapsed = max(time.perf_counter() - start, 1e-9)
    return max(1, int(trial * seconds / elapsed))


@functools.lru_cache(maxsize=1)
def usable() -> bool:
    """Whether the waiting kernels link here (the system call :data:`_YIELD` exists)."""
    return spins_for(1e-6) > 0
