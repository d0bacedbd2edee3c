"""The stages in order, for one request: histogram -> transfer -> apply.

Every operation that maps each histogram group's levels through one table
runs through here: global equalisation, matching of 8/16-bit levels, bleach
correction by histograms. (CLAHE blends the tables of neighbouring regions,
and exact matching of floats ranks values instead of binning them: both keep
this module's stage 1 and their own stages 2 and 3, in their family's
folder.) It takes a :class:`~.request.Request` and its *transfer* (what the
tables map to, see ``transfer``), counts through ``accel`` (which picks the
kernels or the reference), builds the tables on the host and applies them
where ``placement`` put the image. The eager API and the lazy path
(``lazy``, chunk by chunk) both call it; it imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import accel as _accel
from .backend import array_module, auto_is_numpy, resolve_backend, to_backend
from .binning import Binning, level_binning, nothing_to_count
from .groups import GroupLayout
from .placement import direct_target, into, on_backend
from .request import Request
from .validate import as_image, check_out, dtype_range


@dataclass(frozen=True, eq=False)
class Tables:
    """Fitted look-up tables and how pixels find their row in them (see ``Equalization``)."""

    lut: np.ndarray
    binning: Binning
    variant: str  # the transfer's name
    axis: tuple[int, ...]
    ndim: int
    out_range: tuple
    backend: str = "auto"

    @property
    def group_shape(self) -> tuple[int, ...]:
        return self.lut.shape[:-1]

    def check_dtype(self, dtype):
        if np.dtype(dtype).newbyteorder("=") != self.binning.dtype:
            raise TypeError(f"this equalisation was fitted on {self.binning.dtype} data; got {dtype}")

    def layout_for(self, shape) -> GroupLayout:
        if len(self.group_shape) == 0:
            return GroupLayout(tuple(shape), tuple(range(len(shape))))
        layout = GroupLayout(tuple(shape), self.axis)
        if len(shape) != self.ndim or layout.group_shape != self.group_shape:
            raise ValueError(
                f"this equalisation holds one table per group of shape {self.group_shape} "
                f"(axis={self.axis}); an image of shape {tuple(shape)} does not match"
            )
        return layout


# --- stage 1 -----------------------------------------------------------------------------------


def _rows(request: Request, staged):
    """The staged image and its mask as ``(n_groups, group_size)`` rows, where the image is.

    That is the host when the image is too big for the GPU: the stages then move it block by block.
    """
    layout, where = request.layout, array_module(staged)
    mask_rows = None if request.mask is None else layout.mask_rows(where, to_backend(where, request.mask))
    return layout.to_rows(where, staged), mask_rows


def _count_staged(request: Request, staged, block_elements, narrow=False):
    xp = request.xp
    rows, mask_rows = _rows(request, staged)
    binning = _accel.choose_binning(xp, rows, mask_rows, request.nbins, block_elements)
    return _accel.grouped_counts(xp, rows, mask_rows, binning, block_elements, narrow), binning


def counted_range(request: Request):
    """Min and max of the pixels each group of an in-memory image counts (masked, finite): two lists, None
    for a group with nothing to count (``lazy.counted_range`` for dask and zarr).
    """
    def find(staged, block_elements):
        rows, mask_rows = _rows(request, staged)
        return _accel.counted_min_max(request.xp, rows, mask_rows, block_elements)

    return on_backend(request.xp, request.image, None, find, convert=False)


def histogram(request: Request):
    """Counts ``group_shape + (nbins,)`` and edges of an in-memory image, like the input's module."""
    layout = request.layout

    def count(staged, block_elements):
        counts, binning = _count_staged(request, staged, block_elements)
        return counts.reshape(layout.group_shape + (binning.nbins,)), group_edges(binning, layout)

    counts, edges = on_backend(request.xp, request.image, None, count, convert=False)
    check_something_counted(counts, request.mask is not None)
    like = array_module(request.image)
    return to_backend(like, counts), to_backend(like, edges)


def group_edges(binning: Binning, layout: GroupLayout):
    """The bin edges; ``group_shape + (nbins + 1,)`` when each group has its own range."""
    edges = binning.edges
    return edges.reshape(layout.group_shape + (binning.nbins + 1,)) if edges.ndim == 2 else edges


def counts_with_binning(data, mask, layout: GroupLayout, binning: Binning, backend):
    """Counts ``(groups, nbins)`` of an in-memory array (a chunk) with a given binning, like its module."""
    xp = resolve_backend(backend, data)
    request = Request(data, layout, mask, None, backend, xp)

    def count(staged, block_elements):
        rows, mask_rows = _rows(request, staged)
        return _accel.grouped_counts(xp, rows, mask_rows, binning, block_elements)

    return to_backend(array_module(data), on_backend(xp, data, None, count, convert=False))


# --- stage 2 -----------------------------------------------------------------------------------


def fit(request: Request, transfer=None) -> Tables:
    """Histogram and tables of an in-memory image (``transfer``: the request's by default)."""
    return on_backend(request.xp, request.image, None,
                      lambda staged, block: _fit_staged(request, staged, block, transfer), convert=False)


def _fit_staged(request: Request, staged, block_elements, transfer=None, transfer_for=None) -> Tables:
    counts, binning = _count_staged(request, staged, block_elements, narrow=True)  # turned into tables here
    counts = to_backend(np, counts)
    if transfer_for is not None:
        transfer = transfer_for(counts, binning)
    return fit_from_counts(counts, binning, request, transfer)


def fit_from_counts(counts, binning: Binning, request: Request, transfer=None) -> Tables:
    """The transfer stage: host counts ``(groups, nbins)`` -> fitted tables."""
    transfer = transfer or request.transfer
    layout, masked = request.layout, request.mask is not None
    # without a mask an integer group counts every one of its pixels: no pass over the counts needed
    empty = counts.sum(axis=1) == 0 if masked or binning.is_float else np.zeros(len(counts), bool)
    # Only a float group with no finite pixel at all may be empty: it needs no table (below).
    if empty.any() and (masked or not binning.is_float or empty.all()):
        _check_every_group_counted(counts, layout, masked)
    out_dtype = request.out_dtype
    lo, hi = _resolve_out_range(request.out_range, binning, counts, out_dtype)
    if empty.any():
        # A float group with no finite pixel needs no table (NaN stays NaN, +-inf go to the ends);
        # a placeholder count keeps its unused table free of 0/0.
        counts = counts.copy()
        counts[empty, 0] = 1
    lut = _accel.tables_from_counts(counts, binning, transfer, lo, hi, out_dtype)
    return Tables(lut.reshape(layout.group_shape + (binning.nbins,)), binning, transfer.name, layout.axis,
                  len(layout.shape), (lo, hi), request.backend)


def check_something_counted(counts, masked: bool):
    """A histogram of an empty region of interest is an error for every dtype (not zeros for some)."""
    if masked and not int(counts.sum()):
        raise nothing_to_count(True)


def _check_every_group_counted(counts, layout: GroupLayout, masked: bool):
    empty = np.flatnonzero(counts.sum(axis=1) == 0)
    if empty.size == 0:
        return
    if layout.n_groups == 1:
        raise nothing_to_count(masked)
    where = np.unravel_index(int(empty[0]), layout.group_shape)
    raise nothing_to_count(
        masked,
        f" in {empty.size} of {layout.n_groups} histogram groups "
        f"(the first at index {tuple(int(i) for i in where)} of the axes outside axis={layout.axis})",
    )


def _resolve_out_range(out_range, binning: Binning, counts, out_dtype):
    if isinstance(out_range, tuple):
        return out_range
    if out_range == "dtype":
        return dtype_range(out_dtype)
    # "image": the counted pixels' own min..max (over every group).
    if binning.shared:
        counts = counts.sum(axis=0, keepdims=True)
    counted = [(binning.group(g), row) for g, row in enumerate(counts) if row.any()]
    if binning.is_float:
        return float(min(g.start for g, _ in counted)), float(max(g.stop for g, _ in counted))
    if all(g.width == 1 for g, _ in counted):
        occupied = [(int(g.start), np.flatnonzero(row)) for g, row in counted]
        return (min(start + int(bins[0]) for start, bins in occupied),
                max(start + int(bins[-1]) for start, bins in occupied))
    return int(min(g.start for g, _ in counted)), int(max(g.stop for g, _ in counted))


# --- stage 3 -----------------------------------------------------------------------------------


def _apply_staged(tables: Tables, xp, staged, layout: GroupLayout, block_elements, out=None):
    """Apply to the staged image; straight into ``out`` where :func:`direct_target` allows."""
    out_xp = array_module(staged)  # the host when the image travels to the GPU in blocks
    rows = layout.to_rows(out_xp, staged)
    target = direct_target(out, staged, layout)
    out_rows = layout.to_rows(np, target) if target is not None else out_xp.empty(rows.shape, dtype=tables.lut.dtype)
    lut_rows = xp.asarray(tables.lut.reshape(-1, tables.binning.nbins))
    _accel.apply_lut(xp, rows, lut_rows, tables.binning, out_rows, tables.out_range, block_elements)
    return target if target is not None else layout.from_rows(out_xp, out_rows)


def apply(tables: Tables, image, backend=None, out=None):
    """``tables`` applied to an in-memory image (or chunk) of the fitted dtype."""
    data = as_image(image)
    tables.check_dtype(data.dtype)
    layout = tables.layout_for(data.shape)
    xp = resolve_backend(tables.backend if backend is None else backend, data)
    out = check_out(out, data, tables.lut.dtype)

    def run(staged, block_elements):
        return _apply_staged(tables, xp, staged, layout, block_elements, out)

    return into(out, on_backend(xp, data, tables.lut.dtype, run))


def fit_and_apply(request: Request, out=None, transfer=None, transfer_for=None):
    """Fit and apply in one staging of the image (it travels to the device once).

    ``transfer_for(counts, binning)``, when given, makes the transfer from
    the image's own host counts: bleach correction matches every time point
    to one of them, counted in the same pass.
    """
    out = check_out(out, request.image, request.out_dtype)
    one_group = transfer_for is None and request.mask is None and request.layout.n_groups == 1

    def run(staged, block_elements):
        lane = _accel.one_pass(request.xp, staged, direct_target(out, staged, request.layout)) if one_group else None
        if lane is not None:
            levels = level_binning(staged.dtype)
            return _through(lane, lambda counts: fit_from_counts(counts[None], levels, request, transfer).lut)
        tables = _fit_staged(request, staged, block_elements, transfer, transfer_for)
        return _apply_staged(tables, request.xp, staged, request.layout, block_elements, out)

    return into(out, on_backend(request.xp, request.image, request.out_dtype, run))


def fit_and_apply_plain(image, transfer, out=None, *, mask=None, axis=None, nbins=None, out_range="dtype",
                        backend="auto"):
    """:func:`fit_and_apply` for the plainest call, or None for any other (its caller makes a request).

    The plainest call is a NumPy uint8 or uint16 image computed on the CPU with every
    other option at its default (the operation passes its own): one histogram of every pixel, no mask,
    the dtype's range; ``out`` None or an array the result can go straight into.
    It is the camera frame equalised in a loop, where the request's checks
    and staging cost a third of counting and mapping a 512x512 image on warm
    caches, and as much as both on cold ones (a call after other work).
    The result is the request path's, bit for bit: the same lane and the
    same table builder.
    """
    if mask is not None or axis is not None or nbins is not None or not _is_dtype_range(out_range):
        return None
    if (type(image) is not np.ndarray or image.dtype not in _accel.ONE_PASS_DTYPES
            or image.size < _accel.MIN_KERNEL_ROW):  # (an empty or 0-d image gets the request's own error)
        return None
    if backend != "numpy" and (backend != "auto" or not auto_is_numpy()):
        return None
    out = check_out(out, image, image.dtype)
    target = None if out is None else direct_target(out, image)
    if out is not None and target is None:
        return None
    lane = _accel.one_pass(np, image, target)
    if lane is None:
        return None
    levels, span = level_binning(image.dtype), dtype_range(image.dtype)
    return _through(lane, lambda counts: _accel.tables_from_counts(counts[None], levels, transfer, *span,
                                                                   image.dtype))


def _is_dtype_range(out_range) -> bool:
    return isinstance(out_range, str) and out_range == "dtype"  # (an array's == would compare elements)


def _through(lane, table_for):
    """The lane's result: its counts, ``table_for(counts)`` (one entry per level) built meanwhile, the mapping."""
    with lane:
        lane.apply(table_for(lane.count()).reshape(-1))
    return lane.result
