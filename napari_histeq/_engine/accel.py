"""The one door to the accelerators: for each stage, the numba kernels or the reference, and why.

The pipeline calls the stages through here. Each function decides once per
call whether the CPU kernels (``_kernels.cpu``) can take the rows, runs them
through their adapters below if so, and otherwise the reference code of the
stage (``_histogram``, ``_transfer``, ``_apply``), which serves NumPy and
CuPy alike. Every decision is logged at DEBUG level on the ``napari_histeq``
logger with its reason, e.g. ``histogram: reference (rows of 4096 pixels:
under 16384, the kernels' minimum)``; :func:`last_route` returns the latest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .._kernels import ENV_VAR as JIT_ENV_VAR
from .._kernels import FLOAT_DTYPES, cpu_kernels
from . import apply as _apply
from . import histogram as _histogram
from . import transfer as _transfer
from .backend import native
from .binning import Binning, binning_for, check_counter_memory

#: Rows at least this long go through the CPU kernels (one call per row).
MIN_KERNEL_ROW = 1 << 14
log = logging.getLogger("napari_histeq")


@dataclass(frozen=True)
class Route:
    """Which code runs a stage: ``"numba"``, ``"reference"`` or ``"cupy"``, and why."""

    stage: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.stage}: {self.path} ({self.reason})"


_last: dict[str, Route] = {}


def last_route(stage: str) -> Route | None:
    """The latest decision for ``stage`` ("range", "histogram", "transfer", "apply", "ranks", "select" or
    "linear") in this process.
    """
    return _last.get(stage)


def _decide(stage, xp, rows=None, binning=None, floats_only=False):
    """``(kernels or None, Route)`` for rows of an image (``binning`` None: before it is chosen)."""
    if xp is not np:
        route = Route(stage, "cupy", "array operations on the GPU")
    elif cpu_kernels() is None:
        route = Route(stage, "reference", f"numba kernels unavailable or off ({JIT_ENV_VAR})")
    elif rows is not None and rows.shape[1] < MIN_KERNEL_ROW:
        route = Route(stage, "reference",
                      f"rows of {rows.shape[1]} pixels: under {MIN_KERNEL_ROW}, the kernels' minimum")
    elif rows is not None and (dtype := rows.dtype.newbyteorder("=")) in FLOAT_DTYPES and (
            binning is None or binning.is_float):
        route = Route(stage, "numba", f"{dtype} rows")
    elif not floats_only and binning is not None and binning.is_per_level:
        route = Route(stage, "numba", "one bin per level")
    else:
        why = "float16 and 32/64-bit integers" if rows is not None else "this table"
        route = Route(stage, "reference", f"no kernel for {why}")
    _last[stage] = route
    log.debug("%s", route)
    return (cpu_kernels() if route.path == "numba" else None), route


# --- stage 1: range and counts ---------------------------------------------------------------------


def counted_min_max(xp, rows, mask_rows, max_elements):
    """Min and max of the pixels each row counts (see ``_histogram.counted_min_max``)."""
    kernels, _ = _decide("range", xp, rows, floats_only=True) if rows.dtype.kind == "f" else (None, None)
    if kernels is None:
        return _histogram.counted_min_max(xp, rows, mask_rows, max_elements)
    ranges = [kernels.finite_min_max(as_native(rows[g]), _mask_row(mask_rows, g)) for g in range(rows.shape[0])]
    lows = [float(low) if np.isfinite(low) else None for low, _ in ranges]
    highs = [float(high) if np.isfinite(high) else None for _, high in ranges]
    return lows, highs


def choose_binning(xp, rows, mask_rows, nbins, max_elements) -> Binning:
    """The binning for an image seen as ``rows`` (``_binning.binning_for``), its range found here."""
    return binning_for(rows.dtype, nbins, lambda: counted_min_max(xp, rows, mask_rows, max_elements),
                       masked=mask_rows is not None)


def grouped_counts(xp, rows, mask_rows, binning: Binning, max_elements, narrow=False):
    """Histogram of every row: int64 ``(n_groups, nbins)`` on ``xp`` (see ``_histogram.grouped_counts``).

    ``narrow``: int32 counts where the kernels count each row in one task
    (never more than 2**30 pixels), for counts used at once, never summed.
    """
    kernels, _ = _decide("histogram", xp, rows, binning)
    if kernels is None:
        return _histogram.grouped_counts(xp, rows, mask_rows, binning, max_elements)
    check_counter_memory(rows.shape[0], binning.nbins)
    if binning.is_float:
        counts = np.empty((rows.shape[0], binning.nbins), dtype=np.int64)
        for g in range(rows.shape[0]):
            counts[g] = kernels.float_counts(as_native(rows[g]), binning.group(g).bin_rule, binning.nbins,
                                             _mask_row(mask_rows, g))
        return counts
    order = binning.unsigned_order()
    if mask_rows is None and rows.shape[0] > 1:  # many planes: one parallel launch for all of them
        counts = kernels.level_counts_rows(as_native(rows, unsigned=True), narrow=narrow)
        if counts is not None:
            return counts if order is None else counts[:, order]
    counts = np.empty((rows.shape[0], binning.nbins), dtype=np.int64)
    for g in range(rows.shape[0]):
        row_counts = kernels.level_counts(as_native(rows[g], unsigned=True), _mask_row(mask_rows, g))
        counts[g] = row_counts if order is None else row_counts[order]
    return counts


# --- stage 2: tables -------------------------------------------------------------------------------


def tables_from_counts(counts, binning: Binning, transfer, lo, hi, out_dtype):
    """Look-up tables for host counts (see ``_transfer.tables_from_counts``).

    A transfer whose ``table_kernel(binning)`` gives a builder has its
    integer tables up to 32 bits made by a numba loop that repeats the
    reference's float64 operations in their order.
    """
    out_dtype = np.dtype(out_dtype)
    if hasattr(transfer, "for_output"):  # a transfer that needs the output's range gets it first
        transfer = transfer.for_output(lo, hi)
    small_integers = out_dtype.kind in "ui" and out_dtype.itemsize <= 4
    build = getattr(transfer, "table_kernel", lambda binning: None)(binning) if small_integers else None
    name = getattr(transfer, "name", type(transfer).__name__)
    if build is not None and cpu_kernels() is not None:
        route = Route("transfer", "numba", f"{name}, integer table")
    elif build is not None:
        route = Route("transfer", "reference", f"numba kernels unavailable or off ({JIT_ENV_VAR})")
    else:
        route = Route("transfer", "reference", f"no kernel for {name} and {out_dtype}")
    _last["transfer"] = route
    log.debug("%s", route)
    if route.path == "reference":
        return _transfer.tables_from_counts(counts.astype(np.int64, copy=False), binning, transfer, lo, hi, out_dtype)
    tables = np.empty(counts.shape, dtype=out_dtype)
    counts = np.ascontiguousarray(counts, dtype=counts.dtype if counts.dtype == np.int32 else np.int64)
    build(cpu_kernels(), counts, lo, hi, tables)
    return tables


# --- stages 1 and 3 at once: one uint8 or uint16 group ---------------------------------------------


def one_pass(xp, staged, target):
    """A lane (``_kernels.onepass.OnePass``) that counts every pixel of a uint8 or uint16 image and maps
    them in one launch of the threads, its table built between (see there), or None: the stages one by one
    serve.

    For one histogram group without a mask (the caller's to know); ``target``: where the result goes
    (None: a new array). Both arrays are read and written a 64-bit word at a time: they start on one.
    """
    kernels = cpu_kernels() if xp is np else None
    if (kernels is None or staged.dtype not in ONE_PASS_DTYPES or staged.size < MIN_KERNEL_ROW
            or not staged.flags.c_contiguous or staged.ctypes.data % 8
            or (target is not None and (target.dtype != staged.dtype or target.ctypes.data % 8))
            or not kernels.onepass.usable()):
        return None
    route = _ONE_PASS_ROUTES[staged.dtype.itemsize]
    _last["histogram"] = _last["apply"] = route
    log.debug("%s", route)
    return kernels.onepass.OnePass(staged, np.empty_like(staged) if target is None else target)


#: What the one-pass lane counts and maps.
ONE_PASS_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
_ONE_PASS_ROUTES = {dtype.itemsize: Route("histogram", "numba",
                                          f"one group of {dtype}: counted and mapped in one launch")
                    for dtype in ONE_PASS_DTYPES}


# --- stage 3: apply --------------------------------------------------------------------------------


def apply_lut(xp, rows, lut_rows, binning: Binning, out_rows, out_range, max_elements):
    """Map every pixel through its group's table into ``out_rows`` (see ``_apply.apply_lut``)."""
    kernels, _ = _decide("apply", xp, rows, binning)
    if kernels is None or not (isinstance(out_rows, np.ndarray) and out_rows.flags.c_contiguous):
        _apply.apply_lut(xp, rows, lut_rows, binning, out_rows, out_range, max_elements)
        return
    if binning.is_float:
        lo, hi = (out_rows.dtype.type(v) for v in out_range)
        for g in range(rows.shape[0]):
            table = lut_rows[0 if lut_rows.shape[0] == 1 else g]
            kernels.float_gather(as_native(rows[g]), binning.group(g).bin_rule, table, lo, hi, out_rows[g])
        return
    order = binning.unsigned_order()  # all rows (groups) in few launches
    tables = as_native(lut_rows if order is None else lut_rows[:, order], unsigned=True)
    kernels.gather_rows(as_native(rows, unsigned=True), tables, out_rows.view(tables.dtype))


# --- adapters ------------------------------------------------------------------------------------


#: What exact matching (floats, 32/64-bit integers) runs in the kernels.
RANK_DTYPES = tuple(np.dtype(name) for name in ("float32", "float64", "int32", "uint32", "int64", "uint64"))


def matched_exactly(row, keep, quantiles, target_values, low, high, convert, out):
    """One group matched to a target distribution by the kernels into ``out``: True, or False where they
    do not run (too small a group, another dtype, no numba) and the reference must, with the same results.

    ``convert`` turns float64 results into ``out``'s dtype. A group with no counted pixel gives False
    too, for the reference to say so.
    """
    row = native(row)
    if cpu_kernels() is None:
        route = Route("ranks", "reference", f"numba kernels unavailable or off ({JIT_ENV_VAR})")
    elif row.size < MIN_KERNEL_ROW or row.dtype not in RANK_DTYPES:
        route = Route("ranks", "reference", f"no kernel for {row.size} pixels of {row.dtype}")
    else:
        route = Route("ranks", "numba", f"{row.dtype} values dealt into buckets")
    _last["ranks"] = route
    log.debug("%s", route)
    if route.path != "numba" or not out.flags.c_contiguous:
        return False
    keep = None if keep is None else np.ascontiguousarray(keep)
    return cpu_kernels().matched_by_ranks(np.ascontiguousarray(row), keep, quantiles, target_values, low, high,
                                          convert, out)


def _float_route(stage, row, what):
    """``(kernels or None)`` for one float group of a value-by-value operation, the decision logged."""
    if cpu_kernels() is None:
        route = Route(stage, "reference", f"numba kernels unavailable or off ({JIT_ENV_VAR})")
    elif row.size < MIN_KERNEL_ROW or row.dtype.newbyteorder("=") not in FLOAT_DTYPES:
        route = Route(stage, "reference", f"no kernel for {row.size} pixels of {row.dtype}")
    else:
        route = Route(stage, "numba", what)
    _last[stage] = route
    log.debug("%s", route)
    return cpu_kernels() if route.path == "numba" else None


def key_counts(row, mask=None):
    """One float group's values counted by their sortable keys' top 16 bits (``_kernels.select.KeyCounts``:
    ``counts`` and ``copy_wanted``), or None where the kernels do not run and the caller's reference must.
    """
    kernels = _float_route("select", row, f"{row.dtype} order statistics by their keys' top bits")
    if kernels is None:
        return None
    mask = None if mask is None else np.ascontiguousarray(mask).reshape(-1)
    return kernels.KeyCounts(as_native(row).reshape(-1), mask)


def linear_map(row, low, high, lo, hi, clip, out):
    """``out = lo + clip((row - low) / (high - low)) * (hi - lo)`` by the kernels into a contiguous float
    ``out``: True, or False where they do not run. ``high - low`` is taken in the limits' own type
    (NumPy scalars: float32 limits give a float32 width, as MONAI's formula computes it).
    """
    kernels = _float_route("linear", row, f"{row.dtype} values mapped between two limits")
    if kernels is None or not out.flags.c_contiguous or out.dtype.kind != "f":
        return False
    with np.errstate(over="ignore"):  # limits further apart than their type holds: inf, as NumPy has it
        width = high - low
    kernels.linear_map(as_native(row).reshape(-1), low, width, lo, hi, clip, out.reshape(-1))
    return True


def as_native(array, unsigned=False):
    """``array`` in native byte order and C-contiguous (for the CPU kernels).

    ``unsigned`` views integers as the unsigned type of the same width.
    """
    array = np.ascontiguousarray(native(array))
    return array.view(f"u{array.dtype.itemsize}") if unsigned else array


def _mask_row(mask_rows, g):
    return None if mask_rows is None else np.ascontiguousarray(mask_rows[g])
