"""Image files for the batch command: read them with their metadata, write results alike.

TIFF (ImageJ hyperstacks, OME-TIFF, plain) goes through tifffile, zarr and
OME-Zarr through zarr (lazily, chunk by chunk), other formats through imageio
or, failing that, napari's reader plugins (npe2). A result goes where its
input's kind says: TIFF in, TIFF out with the same axes and calibration; zarr
in, zarr out with the same chunks and codecs; PNG in, PNG out; anything else
(JPEG is lossy) as TIFF. Every result records the operation in its metadata.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np

#: What a folder walk picks up (zarr stores are folders ending in .zarr).
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".npy", ".zarr")
#: Formats written back as they came; the others become TIFF.
SAME_FORMAT_SUFFIXES = (".tif", ".tiff", ".png", ".zarr")
#: TIFFs larger than this are read and written page by page instead of whole.
LAZY_TIFF_BYTES = 1 << 30
#: ImageJ metadata worth keeping; the display range (min, max, Ranges) no longer fits the result.
IMAGEJ_KEPT = ("spacing", "unit", "finterval", "fps", "loop", "mode", "Labels", "LUTs", "Properties", "Info",
               "xorigin", "yorigin", "zorigin", "yunit", "zunit", "tunit")
OME_PIXEL_KEPT = ("PhysicalSizeX", "PhysicalSizeXUnit", "PhysicalSizeY", "PhysicalSizeYUnit",
                  "PhysicalSizeZ", "PhysicalSizeZUnit", "TimeIncrement", "TimeIncrementUnit")


@dataclass
class ImageFile:
    """An image as read from disk: its pixels and what its writer must keep."""

    path: Path
    data: Any                      # numpy array, or a dask array for zarr and big TIFFs
    kind: str                      # "tiff", "zarr" or "image"
    axes: str = ""                 # tifffile's axis codes where the file says them ("TZCYX", "YXS")
    colour: bool = False           # a last axis of RGB(A) samples
    tiff: dict = field(default_factory=dict)
    levels: tuple = ()             # zarr: every pyramid level as a dask array, full resolution first
    zarr_layout: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    close: Any = None


def is_zarr(path: Path) -> bool:
    return path.is_dir() and (path.suffix.lower() == ".zarr"
                              or any((path / name).exists() for name in (".zarray", ".zgroup", "zarr.json")))


def output_name(path: Path) -> str:
    """The result's file name: the input's, or the input's stem with ``.tif``."""
    if is_zarr(path) or path.suffix.lower() in SAME_FORMAT_SUFFIXES:
        return path.name
    return f"{path.stem}.tif"


def read_image(path: Path, *, lazy_tiff_bytes: int | None = None) -> ImageFile:
    """Read ``path`` with the reader its kind needs; TIFFs above ``lazy_tiff_bytes`` stay on disk."""
    if is_zarr(path):
        return _read_zarr(path)
    if path.is_dir():
        raise ValueError("is a folder, not an image file")
    if not path.exists():
        raise FileNotFoundError("no such file")
    if path.suffix.lower() in (".tif", ".tiff"):
        return _read_tiff(path, LAZY_TIFF_BYTES if lazy_tiff_bytes is None else lazy_tiff_bytes)
    return _read_other(path)


def _read_tiff(path: Path, lazy_tiff_bytes: int) -> ImageFile:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if not tif.series:
            raise ValueError("a TIFF that holds no image")
        series = tif.series[0]
        page = series.keyframe
        axes = series.axes
        keep = {"photometric": "rgb" if page.photometric == tifffile.PHOTOMETRIC.RGB else "minisblack",
                "compression": None if page.compression == 1 else "zlib"}
        for name in ("XResolution", "YResolution", "ResolutionUnit"):
            tag = page.tags.get(name)
            if tag is not None:
                keep[name] = tag.value
        if tif.is_imagej:
            keep["imagej"] = {key: value for key, value in (tif.imagej_metadata or {}).items() if key in IMAGEJ_KEPT}
        elif tif.is_ome:
            keep["ome"] = _ome_pixels(tif.ome_metadata)
        notes = [f"only its first image series of {len(tif.series)} is equalised"] if len(tif.series) > 1 else []
        colour = axes.endswith("S") and series.shape[-1] in (3, 4)
        if series.nbytes > lazy_tiff_bytes and not _have("dask", "zarr"):
            notes.append("read whole: pip install 'napari-histeq[big]' to read big TIFFs page by page")
        if series.nbytes <= lazy_tiff_bytes or not _have("dask", "zarr"):
            return ImageFile(path, series.asarray(), "tiff", axes, colour, keep, notes=notes)
    import dask.array as da
    import zarr

    store = tifffile.imread(path, aszarr=True)
    data = da.from_zarr(zarr.open(store, mode="r"))
    return ImageFile(path, data, "tiff", axes, colour, keep, notes=notes, close=store.close)


def _have(*modules) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(module) is not None for module in modules)


def _ome_pixels(ome_xml: str) -> dict:
    """Physical sizes, time step and channel names from OME-XML's first image."""
    root = ElementTree.fromstring(ome_xml)
    pixels = next((element for element in root.iter() if element.tag.endswith("}Pixels") or element.tag == "Pixels"),
                  None)
    if pixels is None:
        return {}
    kept = {key: value if key.endswith("Unit") else float(value)
            for key in OME_PIXEL_KEPT if (value := pixels.get(key)) is not None}
    names = [channel.get("Name") for channel in pixels if channel.tag.endswith("Channel")]
    if names and all(names):
        kept["Channel"] = {"Name": names}
    return kept


def _read_zarr(path: Path) -> ImageFile:
    import dask.array as da
    import zarr

    node = zarr.open(str(path), mode="r")
    if isinstance(node, zarr.Array):
        return ImageFile(path, da.from_zarr(node), "zarr", levels=(da.from_zarr(node),),
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


def _read_other(path: Path) -> ImageFile:
    import imageio.v3 as iio

    try:
        data = iio.imread(path)
    except Exception as imageio_error:
        data = _read_with_napari_plugins(path)
        if data is None:
            raise imageio_error from None
    data = np.asarray(data)
    colour = data.ndim >= 3 and data.shape[-1] in (3, 4) and data.dtype.kind in "ui"
    return ImageFile(path, data, "image", colour=colour)


def _read_with_napari_plugins(path: Path):
    """The first image layer napari's reader plugins make of ``path``, or None."""
    try:
        import npe2
    except ImportError:
        return None
    manager = npe2.PluginManager.instance()
    manager.discover()
    try:
        layers = npe2.read([str(path)], stack=False)
    except ValueError:  # no plugin reads it
        return None
    images = [data for data, *rest in layers if (rest[1] if len(rest) > 1 else "image") == "image"]
    if not images:
        return None
    data = images[0]
    return data[0] if isinstance(data, list) else data  # a multiscale layer: its full resolution


# --- writing ---------------------------------------------------------------------------------------


def partial_path(target: Path) -> Path:
    return target.with_name(f".{target.stem}.partial{target.suffix}")


def write_whole(write, target: Path) -> None:
    """Write through a temporary name beside ``target`` and rename it when complete,
    so that an interrupt never leaves a partial file (or folder) under the final name."""
    partial = partial_path(target)
    _remove(partial)
    try:
        write(partial)
        if target.is_dir():  # a zarr store replaced (--overwrite): a folder cannot be renamed over
            old = target.with_name(f".{target.stem}.old{target.suffix}")
            os.replace(target, old)
            os.replace(partial, target)
            _remove(old)
        else:
            os.replace(partial, target)
    finally:
        _remove(partial)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_result(image: ImageFile, results, target: Path, provenance: dict, *, progress=None) -> None:
    """Write ``results`` (one array per pyramid level; one for most files) as ``image``'s kind says.

    ``progress(n)`` is called with the number of parts (pages, chunks) to come,
    and returns a callable to tick per part; None: no progress.
    """
    suffix = target.suffix.lower()
    if image.kind == "zarr":
        write_whole(lambda partial: _write_zarr(image, results, partial, provenance, progress), target)
    elif suffix in (".tif", ".tiff"):
        write_whole(lambda partial: _write_tiff(image, results[0], partial, provenance, progress), target)
    else:
        write_whole(lambda partial: _write_png(results[0], partial, provenance), target)


def _write_tiff(image: ImageFile, result, target: Path, provenance: dict, progress) -> None:
    import tifffile

    from . import __version__

    keep = image.tiff
    options = {"photometric": keep.get("photometric", "rgb" if image.colour else "minisblack"),
               "compression": keep.get("compression"), "software": f"napari-histeq {__version__}"}
    if "XResolution" in keep and "YResolution" in keep:
        options["resolution"] = (keep["XResolution"], keep["YResolution"])
        options["resolutionunit"] = keep.get("ResolutionUnit")
    axes = {"axes": image.axes} if image.axes else {}
    record = json.dumps(provenance)
    if "imagej" in keep:
        metadata = dict(keep["imagej"])
        metadata["Info"] = f"{metadata['Info']}\n" if metadata.get("Info") else ""
        metadata["Info"] += f"napari_histeq = {record}"
        options.update(imagej=True, metadata={**axes, **metadata})
    elif "ome" in keep:
        options.update(ome=True, metadata={**axes, **keep["ome"], "Description": record})
    else:
        options["metadata"] = {**axes, "napari_histeq": provenance}
    if not _is_dask(result):
        tifffile.imwrite(target, result, **options)
        return
    page_ndim = 3 if image.colour else 2
    indices = list(np.ndindex(result.shape[:-page_ndim]))
    tick = progress(len(indices)) if progress else None

    def pages():
        for index in indices:
            yield np.asarray(result[index].compute())
            if tick:
                tick()

    tifffile.imwrite(target, pages(), shape=result.shape, dtype=result.dtype, **options)


def _write_png(result, target: Path, provenance: dict) -> None:
    import imageio.v3 as iio
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("napari_histeq", json.dumps(provenance))
    iio.imwrite(target, np.asarray(result), extension=".png", pnginfo=info)


def _write_zarr(image: ImageFile, results, target: Path, provenance: dict, progress) -> None:
    import dask.array as da
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
        da.store(result, array, lock=False)


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


def _is_dask(array) -> bool:
    return type(array).__module__.split(".")[0] == "dask"


# --- what readers say -----------------------------------------------------------------------------


@contextlib.contextmanager
def reader_messages():
    """Collect what an image reader warns or logs, instead of letting it print around our lines."""
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler, root = Collect(logging.WARNING), logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():  # restores showwarning on the way out
            warnings.simplefilter("always")
            for noise in (DeprecationWarning, PendingDeprecationWarning, ResourceWarning):  # about the reader itself
                warnings.simplefilter("ignore", noise)
            warnings.showwarning = lambda message, *_args, **_kwargs: messages.append(str(message))
            yield messages
    finally:
        root.removeHandler(handler)


def reader_said(messages) -> str:
    return f" (the reader said: {'; '.join(dict.fromkeys(messages))})" if messages else ""
