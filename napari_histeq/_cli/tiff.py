"""TIFF files: ImageJ hyperstacks, OME-TIFF and plain TIFF, read and written with their metadata (tifffile)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from .._engine.backend import is_lazy_array
from .image import ImageFile, have

#: TIFFs larger than this are read and written page by page instead of whole.
LAZY_TIFF_BYTES = 1 << 30
#: ImageJ metadata worth keeping; the display range (min, max, Ranges) no longer fits the result.
IMAGEJ_KEPT = ("spacing", "unit", "finterval", "fps", "loop", "mode", "Labels", "LUTs", "Properties", "Info",
               "xorigin", "yorigin", "zorigin", "yunit", "zunit", "tunit")
OME_PIXEL_KEPT = ("PhysicalSizeX", "PhysicalSizeXUnit", "PhysicalSizeY", "PhysicalSizeYUnit",
                  "PhysicalSizeZ", "PhysicalSizeZUnit", "TimeIncrement", "TimeIncrementUnit")


def read_tiff(path: Path, lazy_tiff_bytes: int) -> ImageFile:
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
        grey_alpha = axes.endswith("S") and series.shape[-1] == 2  # grey and an extra sample (alpha)
        if page.extrasamples:
            keep["extrasamples"] = tuple(int(sample) for sample in page.extrasamples)
        if series.nbytes > lazy_tiff_bytes and not have("dask", "zarr"):
            notes.append("read whole: pip install 'napari-histeq[big]' to read big TIFFs page by page")
        if series.nbytes <= lazy_tiff_bytes or not have("dask", "zarr"):
            return ImageFile(path, series.asarray(), "tiff", axes, colour, grey_alpha, keep, notes=notes)
    import dask.array as da
    import zarr

    store = tifffile.imread(path, aszarr=True)
    data = da.from_zarr(zarr.open(store, mode="r"))
    return ImageFile(path, data, "tiff", axes, colour, grey_alpha, keep, notes=notes, close=store.close)


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


def write_tiff(image: ImageFile, result, target: Path, provenance: dict, progress) -> None:
    import tifffile

    from .. import __version__

    keep = image.tiff
    options = {"photometric": keep.get("photometric", "rgb" if image.colour else "minisblack"),
               "compression": keep.get("compression"), "software": f"napari-histeq {__version__}"}
    if "extrasamples" in keep:
        options["extrasamples"] = keep["extrasamples"]
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
    if not is_lazy_array(result):
        tifffile.imwrite(target, result, **options)
        return
    page_ndim = 2 + image.samples
    indices = list(np.ndindex(result.shape[:-page_ndim]))
    tick = progress(len(indices)) if progress else None

    def pages():
        for index in indices:
            yield np.asarray(result[index].compute())
            if tick:
                tick()

    tifffile.imwrite(target, pages(), shape=result.shape, dtype=result.dtype, **options)


