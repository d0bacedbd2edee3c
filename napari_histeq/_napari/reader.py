"""npe2 reader: NIfTI files and DICOM files or folders as image layers in real units, placed in millimetres.

A folder may hold several series: one layer per series, its slices sorted
along the slice normal. ``scale`` is the voxel spacing (z, y, x in mm) and
``translate`` the first voxel's position; a flipped or oblique volume gets
its ``affine`` instead. The header's key fields are in the layer's
``metadata["napari_histeq_medical"]``. A file that cannot be read as it is
raises one :class:`~napari_histeq._medical.volume.MedicalFileError` line
(napari shows it as a notification).
"""

from __future__ import annotations

from pathlib import Path

from .._medical.dicom import is_dicom, read_dicom
from .._medical.nifti import is_nifti, read_nifti

#: Files a folder's first look reads to decide whether it is a DICOM folder.
FIRST_LOOK = 32


def _holds_dicom(folder: Path) -> bool:
    for count, path in enumerate(folder.rglob("*")):
        if count >= FIRST_LOOK:
            return False
        if is_dicom(path):
            return True
    return False


def get_reader(path):
    """The reader of ``path`` (a NIfTI file, a DICOM file, a folder with DICOM files), or None."""
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    if is_nifti(path) and path.is_file():
        return read_medical
    if path.is_dir() and path.suffix.lower() != ".zarr" and _holds_dicom(path):
        return read_medical
    if is_dicom(path):
        return read_medical
    return None


def read_medical(path):
    """Layer data of ``path``: one image layer per volume (NIfTI) or series (DICOM)."""
    if isinstance(path, list | tuple):
        path = path[0]
    volumes = [read_nifti(path)] if is_nifti(path) else read_dicom(path)
    return [(volume.data, {**volume.layer_kwargs(), "colormap": "gray"}, "image") for volume in volumes]
