"""dask and zarr: adaptive equalisation in passes over chunks, the result lazy and equal to the eager one.

For each context (the whole volume, or each plane with ``axis``):

1. the counted pixels' range (scikit-image's 14-bit levels depend on it);
2. every region's histogram: each chunk counts the parts of the regions it
   holds (a region straddling chunks is summed from them; reflected border
   pixels are read where they lie), and the parts are summed in a tree;
3. the tables, on the client (tiny);
4. scikit-image's result before its stretch needs its own min and max, so
   the blend runs once to find them;
5. the returned array blends chunk by chunk: a chunk needs the tables and
   its own pixels only, no overlap with its neighbours.

OpenCV's variant skips steps 1 and 4. Peak memory is a few chunks plus the
tables; the graph holds module-level functions and plain objects only.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._engine.backend import as_dask, resolve_backend
from .._engine.lazy import counted_range, lazy_mask
from .._engine.validate import check_image_dtype, check_image_shape, check_region_tables_fit
from . import accel as _region_door
from .clahe import finish, output_limits, plan_for, stages_for, stretch_table
from .clipping import SKIMAGE_LEVELS


def equalize_adapthist_lazy(image, *, mask=None, **options):
    """:func:`equalize_adapthist` of a dask or zarr array: a lazy dask array."""
    import dask.array as da

    image = as_dask(image)
    check_image_dtype(image.dtype)
    check_image_shape(image.shape)
    plan = plan_for(image.shape, image.dtype, **options)
    resolve_backend(options["backend"])  # checked; the chunks compute with NumPy
    mask = lazy_mask(mask, image)
    blocks = da.moveaxis(image, plan.context, plan.contexts_last)
    masks = None if mask is None else da.moveaxis(mask, plan.context, plan.contexts_last)
    batch = blocks.shape[: blocks.ndim - len(plan.context)]
    results = [_context(blocks[index], None if masks is None else masks[index], plan) for index in np.ndindex(batch)]
    if not batch:
        return results[0]
    stacked = da.stack(results).reshape(batch + results[0].shape)
    return da.moveaxis(stacked, plan.contexts_last, plan.context).rechunk(image.chunks)


def _context(block, mask, plan):
    import dask
    import dask.array as da

    counted = mask
    if block.dtype.kind == "f":
        counted = da.isfinite(block) if counted is None else counted & da.isfinite(block)
    value_range = None
    if plan.variant == "skimage":
        lows, highs = counted_range(block, counted, None)
        if lows[0] is None:
            raise ValueError("no pixel to count: the mask selects none, or every value is NaN or infinite")
        value_range = (lows[0], highs[0])
    stages = stages_for(plan, block.dtype, block.shape, value_range)
    tables = stages.tables(_region_counts(block, counted, stages), counted)
    out_dtype = np.uint16 if stages.rule is not None else stages.bins.dtype
    levels = block.map_blocks(_blend_chunk, stages=stages, tables=tables, dtype=out_dtype,
                              meta=np.empty((0,) * block.ndim, out_dtype))
    if stages.rule is None:
        return levels
    chosen = levels if counted is None else da.where(counted, levels, SKIMAGE_LEVELS)
    low = chosen.min()
    high = levels.max() if counted is None else da.where(counted, levels, 0).max()
    low, high = (int(v) for v in dask.compute(low, high))
    lo, hi = output_limits(plan, value_range)
    table = stretch_table(low, high, lo, hi, plan.out_dtype)
    return da.map_blocks(_finish_chunk, levels, block, table=table, limits=(lo, hi), dtype=plan.out_dtype,
                         meta=np.empty((0,) * block.ndim, plan.out_dtype))


def _region_counts(block, counted, stages):
    """The regions' histograms ``(regions, nbins)``: each chunk counts its parts of the regions it touches
    (a sparse dict, about the size of the chunk), and the parts are summed in a tree.
    """
    from dask import delayed

    regions = int(np.prod([axis.regions for axis in stages.grid]))
    check_region_tables_fit(regions, stages.nbins, 16)  # int64 counts and tables
    starts = [np.cumsum((0,) + tuple(c)) for c in block.chunks]
    blocks = block.to_delayed()
    masks = None if counted is None else counted.to_delayed()
    parts = []
    for index in np.ndindex(blocks.shape):
        location = [(int(s[i]), int(s[i + 1])) for s, i in zip(starts, index)]
        parts.append(delayed(_chunk_counts)(blocks[index], None if masks is None else masks[index], location,
                                            stages))
    while len(parts) > 1:
        parts = [delayed(_merge)(*parts[i:i + 8]) for i in range(0, len(parts), 8)]
    counts = np.zeros((regions, stages.nbins), dtype=np.int64)
    for region, part in parts[0].compute().items():
        counts[region] = part
    return counts


def _merge(*parts):
    total = {}
    for part in parts:
        for region, counts in part.items():
            total[region] = total[region] + counts if region in total else counts
    return total


def _local_positions(axis, start, stop):
    """For each region: the positions of this chunk (from ``start``) that it reads, repeats included."""
    found = []
    for region, sources in enumerate(axis.sources):
        inside = sources[(sources >= start) & (sources < stop)] - start
        if inside.size:
            found.append((region, inside))
    return found


def _chunk_counts(block, counted, location, stages):
    """``{region: counts}`` for the regions this chunk holds pixels of."""
    per_axis = [_local_positions(axis, start, stop) for axis, (start, stop) in zip(stages.grid, location)]
    positions = [[inside for _, inside in axis] for axis in per_axis]
    found = _region_door.region_counts(np, stages.keys(np, block), stages.bins, positions, stages.nbins, counted)
    touched = itertools.product(*[[region for region, _ in axis] for axis in per_axis])
    shape = tuple(axis.regions for axis in stages.grid)
    return {int(np.ravel_multi_index(regions, shape)): row for regions, row in zip(touched, found)}


def _blend_chunk(block, *, stages, tables, block_info=None):
    location = block_info[0]["array-location"]
    part = tuple(axis.part(start, stop) for axis, (start, stop) in zip(stages.grid, location))
    keys = stages.keys(np, np.asarray(block))
    if stages.rule is None:
        return _region_door.blend_opencv(np, keys, tables, part)
    return _region_door.blend_skimage(np, keys, stages.bins, tables, part)[0]


def _finish_chunk(levels, block, *, table, limits):
    return finish(np, levels, block, table, limits, block.dtype.kind == "f")
