"""Image files in and out for the batch command: each kind to its reader and writer.

TIFF (ImageJ hyperstacks, OME-TIFF, plain) goes through tifffile, zarr and
OME-Zarr through zarr (lazily, chunk by chunk), NIfTI through nibabel (values
in real units), ``.npy`` through NumPy (no pickles), other formats through
imageio or, failing that, napari's reader plugins (npe2). A result goes where
its input's kind says: TIFF in, TIFF out with the same axes and calibration;
zarr in, zarr out with the same chunks and codecs; NIfTI in, NIfTI out with
the same header and geometry; PNG in, PNG out; anything else (JPEG is lossy)
as TIFF. Every result
records the operation in its metadata.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from .._medical.dicom import read_dicom
from .._medical.dicom_write import write_derived_series
from .._medical.nifti import is_nifti, read_nifti, write_nifti
from . import tiff, zarr_store
from .image import ImageFile, is_dicom_folder, is_zarr
from .safety import old_path, partial_path

#: What a folder walk picks up (zarr stores are folders ending in .zarr).
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".npy", ".zarr", ".nii")
def is_image_path(path: Path) -> bool:
    """A file or store the commands read as an image (not a hidden file): by its suffix, or a zarr
    store, a DICOM folder or a NIfTI file.
    """
    if is_zarr(path) or is_dicom_folder(path) or (is_nifti(path) and path.is_file() and not path.name.startswith(".")):
        return True
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


#: Formats written back as they came; the others become TIFF.
SAME_FORMAT_SUFFIXES = (".tif", ".tiff", ".png", ".zarr")


def output_name(path: Path) -> str:
    """The result's file name: the input's, or the input's stem with ``.tif``."""
    if is_zarr(path) or is_dicom_folder(path) or is_nifti(path) or path.suffix.lower() in SAME_FORMAT_SUFFIXES:
        return path.name
    return f"{path.stem}.tif"


def read_image(path: Path, *, lazy_tiff_bytes: int | None = None) -> ImageFile:
    """Read ``path`` with the reader its kind needs; TIFFs above ``lazy_tiff_bytes`` stay on disk."""
    if is_zarr(path):
        return zarr_store.read_zarr(path)
    if is_dicom_folder(path):
        volumes = read_dicom(path)
        if len(volumes) > 1:
            raise ValueError(f"{len(volumes)} DICOM series in this folder ({', '.join(v.name for v in volumes)}); "
                             "give each series' own folder")
        return ImageFile(path, volumes[0].data, "dicom", axes="ZYX"[-volumes[0].data.ndim:], volume=volumes[0])
    if path.is_dir():
        raise ValueError("is a folder, not an image file")
    if not path.exists():
        raise FileNotFoundError("no such file")
    if is_nifti(path):
        volume = read_nifti(path)
        return ImageFile(path, volume.data, "nifti", axes="TZYX"[-volume.data.ndim:], volume=volume)
    if path.suffix.lower() in (".tif", ".tiff"):
        return tiff.read_tiff(path, tiff.LAZY_TIFF_BYTES if lazy_tiff_bytes is None else lazy_tiff_bytes)
    return _read_other(path)


def _read_other(path: Path) -> ImageFile:
    import imageio.v3 as iio

    npy = path.suffix.lower() == ".npy"
    if npy:
        # no pickles: a file runs no code; mapped read-only, so a big array stays on disk
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    elif _png_bit_depth(path) == 16:  # Pillow keeps the high byte of 16-bit colour and grey+alpha
        import imagecodecs

        data = imagecodecs.png_decode(path.read_bytes())
    else:
        try:
            data = iio.imread(path)
        except Exception as imageio_error:
            data = _read_with_napari_plugins(path)
            if data is None:
                raise imageio_error from None
    data = np.asarray(data)
    if data.ndim < 2:  # a .npy can hold anything; tifffile cannot write a 1-D result as an image
        raise ValueError(f"a {data.ndim}-D array of shape {data.shape}; an image has two axes or more")
    samples = data.ndim >= 3 and data.dtype.kind in "ui" and not npy  # image formats' last axis: samples
    return ImageFile(path, data, "image", colour=samples and data.shape[-1] in (3, 4),
                     grey_alpha=samples and data.shape[-1] == 2)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_bit_depth(path: Path) -> int | None:
    """The bits per sample a PNG's header declares; None for other files."""
    with open(path, "rb") as file:
        head = file.read(25)
    return head[24] if len(head) == 25 and head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" else None


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


def write_whole(write, target: Path) -> None:
    """Write through a temporary name beside ``target`` and rename it when complete,
    so that an interrupt never leaves a partial file (or folder) under the final name.
    """
    partial = partial_path(target)
    _remove(partial)
    try:
        write(partial)
        if target.is_dir():  # a zarr store replaced (--overwrite): a folder cannot be renamed over
            old = old_path(target)
            os.replace(target, old)
            os.replace(partial, target)
            _remove(old)
        else:
            os.replace(partial, target)
    finally:
        _remove(partial)


def clean_up_after(target: Path) -> None:
    """What an interrupted :func:`write_whole` of ``target`` may have left: the partial copy goes, and
    a replaced store that was set aside but not yet succeeded comes back.
    """
    _remove(partial_path(target))
    old = old_path(target)
    if old.exists() and not target.exists():
        os.replace(old, target)
    else:
        _remove(old)


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
        write_whole(lambda partial: zarr_store.write_zarr(image, results, partial, provenance, progress), target)
    elif image.kind == "dicom":
        write_whole(lambda partial: write_derived_series(partial, np.asarray(results[0]), image.volume, provenance),
                    target)
    elif image.kind == "nifti":  # the source's description kept; what was done in a comment extension
        write_whole(lambda partial: write_nifti(partial, np.asarray(results[0]), image.volume, record=provenance,
                                                compressed=target.name.lower().endswith(".gz")),
                    target)
    elif suffix in (".tif", ".tiff"):
        write_whole(lambda partial: tiff.write_tiff(image, results[0], partial, provenance, progress), target)
    else:
        write_whole(lambda partial: _write_png(results[0], partial, provenance), target)


def _write_png(result, target: Path, provenance: dict) -> None:
    """A PNG of 8 or 16 bits per sample (grey, grey+alpha, RGB, RGBA), with the record in a text chunk."""
    import imagecodecs

    encoded = imagecodecs.png_encode(np.ascontiguousarray(result))
    target.write_bytes(with_text_chunk(encoded, "napari_histeq", json.dumps(provenance)))


def with_text_chunk(png: bytes, keyword: str, text: str) -> bytes:
    """``png`` with a ``tEXt`` chunk (PNG specification 11.3.4.3) before its closing ``IEND`` chunk."""
    body = b"tEXt" + keyword.encode("latin-1") + b"\0" + text.encode("latin-1")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:-12] + chunk + png[-12:]  # IEND: 4 bytes of length, its type, 4 of CRC


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
    lines = [(message.strip().splitlines() or [""])[0] for message in messages]
    return f" (the reader said: {'; '.join(dict.fromkeys(lines))})" if messages else ""
