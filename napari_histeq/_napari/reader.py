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

from .._medical.dicom import holds_dicom, is_dicom, read_dicom
from .._medical.nifti import is_nifti, read_nifti


def _one_path(path):
    """The path napari passes: a path, or a list of them (this reader takes one)."""
    if isinstance(path, list | tuple):
        return Path(path[0]) if len(path) == 1 else None
    return Path(path)


def get_reader(path):
    """The reader of ``path`` (a NIfTI file, a DICOM file, a folder with DICOM files), or None."""
    path = _one_path(path)
    if path is None:
        return None
    if is_nifti(path) and path.is_file():
        return read_medical
    if path.suffix.lower() != ".zarr" and holds_dicom(path, recursive=True, first_look=32):
        return read_medical
    return read_medical if is_dicom(path) else None


def read_medical(path):
    """Layer data of ``path``: one image layer per volume (NIfTI) or series (DICOM)."""
    path = _one_path(path)
    volumes = [read_nifti(path)] if is_nifti(path) else read_dicom(path)
    return [(volume.data, {**volume.layer_kwargs(), "colormap": "gray"}, "image") for volume in volumes]
