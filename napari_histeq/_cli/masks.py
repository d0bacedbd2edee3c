"""``--mask``: the pixels that count (a body, a brain, the cells), from one file or a folder of files.

A file serves every input; in a folder, each input takes the mask that
shares its name: the same file name, the same stem with any image suffix
(``scan.tif`` and ``scan.nii.gz``), or the stem followed by ``_mask``
(``scan_mask.png``, FSL's and nnU-Net's habit). Non-zero pixels count. A mask
is read like any input (TIFF, PNG, NIfTI, a DICOM series), must have the
image's shape (its pixels, without colour samples), and is never written
over: the command treats it as an input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import is_image_path, read_image
from .image import is_dicom_folder, is_zarr

_DOUBLE_SUFFIXES = (".nii.gz", ".ome.tif", ".ome.tiff", ".ome.zarr")


def stem(path: Path) -> str:
    """``path``'s name without its image suffix (both parts of ``.nii.gz`` and ``.ome.tif``)."""
    name = path.name
    for suffix in _DOUBLE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem if path.suffix else name


def is_mask_folder(mask: Path) -> bool:
    """A folder of masks (not a zarr store or a DICOM series, which are one mask)."""
    return mask.is_dir() and not is_zarr(mask) and not is_dicom_folder(mask)


def mask_path(source: Path, mask: Path) -> Path:
    """The mask file for ``source``: ``mask`` itself, or its match in the folder ``mask``."""
    if not is_mask_folder(mask):
        return mask
    wanted = stem(source)
    candidates = sorted(entry for entry in mask.iterdir()
                        if entry.name == source.name or stem(entry) in (wanted, f"{wanted}_mask"))
    exact = [entry for entry in candidates if entry.name == source.name]
    candidates = exact or [entry for entry in candidates if is_image_path(entry)]
    if not candidates:
        raise ValueError(f"--mask {mask}: no mask named {source.name}, {wanted}.* or {wanted}_mask.* in the folder")
    if len(candidates) > 1:
        raise ValueError(f"--mask {mask}: {len(candidates)} masks for {source.name} "
                         f"({', '.join(entry.name for entry in candidates)}); keep one")
    return candidates[0]


def read_mask(source: Path, mask: Path | None, shape: tuple) -> np.ndarray | None:
    """The boolean mask for ``source``'s pixels of ``shape`` (None without ``--mask``); a one-line
    ValueError where it is missing, of another shape, or selects nothing.
    """
    if mask is None:
        return None
    path = mask_path(source, mask)
    image = read_image(path)
    try:
        if image.colour:
            raise ValueError(f"--mask {path.name}: a colour image; a mask is one grey image (non-zero: counted)")
        data = np.asarray(image.grey_view().data if image.grey_alpha else image.data) != 0
    finally:
        if image.close is not None:
            image.close()
    if data.shape != tuple(shape):
        raise ValueError(f"--mask {path.name}: {data.shape} pixels, the image's are {tuple(shape)}")
    if not data.any():
        raise ValueError(f"--mask {path.name}: selects no pixel (every value is 0)")
    return data
