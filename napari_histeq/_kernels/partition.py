"""How the CPU kernels cut their work into tasks, and sum the tasks' sub-histograms."""

from __future__ import annotations

import numba
import numpy as np

from .threads import num_threads, run_parallel, split

#: int32 sub-histograms must not overflow: no task counts more pixels than this.
_MAX_TASK_PIXELS = 1 << 30
#: Below this many pixels a task costs more to hand to a thread than to run (measured on 2 cores,
#: uint8 equalisation: 1024x1024 took 0.27 ms in 4 tasks and 0.30 ms in 2; 512x512 on two
#: threads gained nothing over one, the GIL taken back between stages eating the second core's gain).
MIN_TASK_PIXELS = 1 << 18


def task_ranges(n: int, per_thread: int, pixels_per_item: int = 1, parts: int | None = None) -> list[tuple[int, int]]:
    """Split ``range(n)`` into tasks: ``per_thread`` per thread (or ``parts``), none too small or too large to count."""
    pixels = n * pixels_per_item
    worth = -(-pixels // MIN_TASK_PIXELS)  # the most tasks this work is worth
    if worth <= 1:  # one task (a table, a small image): no need to ask how many threads there are
        return split(n, 1)
    parts = min(parts or per_thread * num_threads(), worth)
    return split(n, max(parts, -(-pixels // _MAX_TASK_PIXELS), 1))


@numba.njit(nogil=True, cache=True)
def sum_rows(partial, total):
    # row after row: sequential, vectorised adds (bin by bin strides across the rows, 8x slower)
    for b in range(partial.shape[1]):
        total[b] = partial[0, b]
    for r in range(1, partial.shape[0]):
        row = partial[r]
        for b in range(row.size):
            total[b] += row[b]


def total_counts(partial) -> np.ndarray:
    """Sum the tasks' int32 sub-histograms ``(..., nbins)`` into int64 counts."""
    rows = partial.reshape(-1, partial.shape[-1])
    total = np.empty(rows.shape[1], np.int64)
    # each task sums every row over its slice of the bins: a wide (uint16) sum splits over the threads
    run_parallel(sum_rows, [(rows[:, a:b], total[a:b]) for a, b in task_ranges(rows.shape[1], 1, 4 * rows.shape[0])])
    return total
