"""zarr arrays and OME-Zarr groups: read lazily, written chunk by chunk in the input's layout."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .image import ImageFile


def read_zarr(path: Path) -> ImageFile:
    import dask.array as da
    import zarr

    node = zarr.open(str(path), mode="r")
    if isinstance(node, zarr.Array):
        names = getattr(node.metadata, "dimension_names", None) or ()  # zarr v3 may name its axes
        axes = "".join(str(name)[0].upper() for name in names) if names and all(names) else ""
        return ImageFile(path, da.from_zarr(node), "zarr", axes, levels=(da.from_zarr(node),),
                         zarr_layout={"arrays": {"": node}, "attrs": None})
    attrs = node.attrs.asdict()
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not multiscales:
        raise ValueError("a zarr group without OME-Zarr multiscales: name one of its arrays (e.g. "
                         f"{path / 'name-of-array'})")
    paths = [dataset["path"] for dataset in multiscales[0]["datasets"]]
    arrays = {name: node[name] for name in paths}
    axes = "".join((axis["name"] if isinstance(axis, dict) else axis)[0].upper()
                   for axis in multiscales[0].get("axes", []))
    levels = tuple(da.from_zarr(arrays[name]) for name in paths)
    return ImageFile(path, levels[0], "zarr", axes, levels=levels, zarr_layout={"arrays": arrays, "attrs": attrs})


def write_zarr(image: ImageFile, results, target: Path, provenance: dict, progress) -> None:
    import zarr

    arrays, attrs = image.zarr_layout["arrays"], image.zarr_layout["attrs"]
    laid_out = [_in_writer_chunks(result, source) for source, result in zip(arrays.values(), results)]
    tick = progress(sum(result.npartitions for result in laid_out)) if progress else None
    first = next(iter(arrays.values()))
    if attrs is not None:  # an OME-Zarr group: its attributes, and the record of what was done
        zarr.open_group(str(target), mode="w", zarr_format=first.metadata.zarr_format,
                        attributes={**_without_display_range(attrs), "napari_histeq": provenance})
    for (name, source), result in zip(arrays.items(), laid_out):
        array = zarr.create_array(str(target), name=name or None, **_array_like(source, result.dtype))
        if attrs is None:
            array.attrs.update({"napari_histeq": provenance})
        if tick is not None:
            result = result.map_blocks(_ticker(tick), dtype=result.dtype)
        _store_joined(result, array)


def _store_joined(result, array) -> None:
    """``da.store`` on threads of our own, all stopped and joined before an error or interrupt goes on:
    the caller then removes the temporary store, and no writer is left to add chunks to it.
    """
    import dask.array as da

    pool = ThreadPoolExecutor(max(1, os.cpu_count() or 1))
    try:
        da.store(result, array, lock=False, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_writer_chunks(result, source):
    """Chunks that each touch one stored chunk (or shard), so that writers never share one."""
    import dask.array as da

    chunks = source.shards or source.chunks
    if result.chunks != da.core.normalize_chunks(chunks, result.shape):
        result = result.rechunk(chunks)
    return result


def _ticker(tick):
    def passthrough(block):
        tick()
        return block

    return passthrough


def _array_like(source, dtype) -> dict:
    """zarr.create_array's arguments for an array laid out as ``source``."""
    metadata = source.metadata
    like = {"shape": source.shape, "chunks": source.shards or source.chunks, "dtype": dtype,
            "compressors": source.compressors or None, "filters": source.filters or None,
            "zarr_format": metadata.zarr_format, "attributes": source.attrs.asdict()}
    if metadata.zarr_format == 2:
        like["chunk_key_encoding"] = {"name": "v2", "separator": metadata.dimension_separator}
    else:
        like.update(chunk_key_encoding=metadata.chunk_key_encoding, dimension_names=metadata.dimension_names,
                    serializer=source.serializer)
        if source.shards is not None:
            like.update(chunks=source.chunks, shards=source.shards)
    return like


def _without_display_range(attrs: dict) -> dict:
    """OME-Zarr's omero display windows describe the input's range, not the result's: dropped."""
    attrs = json.loads(json.dumps(attrs))
    for holder in (attrs, attrs.get("ome", {})):
        for channel in holder.get("omero", {}).get("channels", []):
            channel.pop("window", None)
    return attrs


