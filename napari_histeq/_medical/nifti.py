"""NIfTI-1 and NIfTI-2 files (``.nii``, ``.nii.gz``) through nibabel: read in real units, written back with
the source's header.

The file's array is (i, j, k[, t]); a :class:`~.volume.Volume` is in the
reverse order, (t,) k, j, i (slices, rows, columns), as napari shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .volume import MedicalFileError, Volume, require, rescaled

SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path) -> bool:
    name = Path(path).name.lower()
    return name.endswith(SUFFIXES)


def _nibabel():
    return require("nibabel", "reading NIfTI")


def read_nifti(path) -> Volume:
    """A NIfTI file's voxels in real units, in (z, y, x) order, with its spacing, origin, affine and header.

    Parameters
    ----------
    path : str or Path
        A ``.nii`` or ``.nii.gz`` file (NIfTI-1 or NIfTI-2).

    Returns
    -------
    volume : Volume
        ``scl_slope``/``scl_inter`` applied (integers kept integer where both are whole); a 4D
        file's time axis first.

    Raises
    ------
    MedicalFileError
        nibabel is not installed, or the file is not a NIfTI file nibabel can read (one line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from napari_histeq import ct_phantom, read_nifti
    >>> from napari_histeq._medical.samples import write_nifti_volume
    >>> path = write_nifti_volume(pathlib.Path(tempfile.mkdtemp()) / "ct.nii.gz", ct_phantom((4, 32, 32)))
    >>> volume = read_nifti(path)
    >>> volume.data.shape, volume.data.dtype
    ((4, 32, 32), dtype('int16'))
    """
    nibabel = _nibabel()
    path = Path(path)
    try:
        image = nibabel.load(str(path))
        header = image.header
        stored = np.asanyarray(image.dataobj.get_unscaled())
    except Exception as error:  # nibabel raises many kinds for a broken file: one line says which file and why
        why = " ".join(str(error).split())
        raise MedicalFileError(f"{path.name}: not a readable NIfTI file ({type(error).__name__}: {why})") from None
    if not isinstance(image, nibabel.Nifti1Image | nibabel.Nifti2Image):
        raise MedicalFileError(f"{path.name}: {type(image).__name__} is not a NIfTI image")
    if stored.ndim < 2 or stored.ndim > 4:
        raise MedicalFileError(f"{path.name}: a NIfTI image of {stored.ndim} dimensions; 2 to 4 are read")
    # nibabel moves the file's scl_slope/scl_inter into the array proxy and sets the header's to NaN
    slope, intercept = float(image.dataobj.slope), float(image.dataobj.inter)
    values = rescaled(stored, slope, intercept)
    spatial = min(stored.ndim, 3)
    affine = np.asarray(image.affine, np.float64)
    zooms = [float(z) for z in header.get_zooms()[:spatial]]
    data = values.transpose(tuple(reversed(range(values.ndim))))  # a view: (z, y, x) of the file's (i, j, k)
    reverse = np.eye(spatial + 1)[list(reversed(range(spatial))) + [spatial]]  # (i, j, k, 1) -> (k, j, i, 1)
    zyx_affine = reverse @ _spatial_affine(affine, spatial) @ reverse
    xyz_units, time_unit = header.get_xyzt_units()
    metadata = {
        "format": "nifti",
        "affine": affine.tolist(),
        "qform_code": int(header["qform_code"]),
        "sform_code": int(header["sform_code"]),
        "pixdim": [float(v) for v in header["pixdim"]],
        "units": xyz_units,
        "time_unit": time_unit,
        "description": header["descrip"].item().decode("latin-1").rstrip("\0"),
        "intent": header.get_intent()[0],
        "stored_dtype": str(stored.dtype),
        "scl_slope": None if slope is None else float(slope),
        "scl_inter": None if intercept is None else float(intercept),
        "header": header.copy(),  # what write_nifti starts from
    }
    name = path.name[: -len(".nii.gz")] if path.name.lower().endswith(".nii.gz") else path.stem
    spacing = tuple(reversed(zooms))
    if values.ndim == 4:  # time first, as napari's slider shows it
        spacing = (float(header.get_zooms()[3]) or 1.0, *spacing)
        zyx_affine = _with_leading_axis(zyx_affine)
    return Volume(data, spacing, tuple(zyx_affine[:-1, -1]), zyx_affine, name, "nifti", metadata)


def _spatial_affine(affine, spatial):
    """The affine of the first ``spatial`` axes (a 2D image's own 3x3)."""
    if spatial == 3:
        return affine
    keep = list(range(spatial)) + [3]
    return affine[np.ix_(keep, keep)]


def _with_leading_axis(affine):
    out = np.eye(affine.shape[0] + 1)
    out[1:, 1:] = affine
    return out


def write_nifti(path, data, source: Volume, description: str = "", *, record=None, compressed=None) -> None:
    """Write ``data`` ((z, y, x) order, the source's shape) as NIfTI with the source file's header: its
    affine, qform and sform codes, pixdim, units and intent; the data's own dtype, with
    ``scl_slope`` 1 and ``scl_inter`` 0 so that the stored values are the result's.

    Parameters
    ----------
    path : str or Path
        Where to write (any name: a temporary one is fine).
    data : ndarray
        The result, the source's shape.
    source : Volume
        What :func:`read_nifti` read: the header, affine and codes to keep.
    description : str
        Goes in ``descrip`` (80 bytes).
    record : dict, optional
        What was done, as JSON in a comment extension.
    compressed : bool, optional
        gzip; by default when the name ends in ``.gz``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from napari_histeq import ct_phantom, read_nifti, stretch_contrast, write_nifti
    >>> from napari_histeq._medical.samples import write_nifti_volume
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> source = read_nifti(write_nifti_volume(folder / "ct.nii.gz", ct_phantom((4, 32, 32))))
    >>> write_nifti(folder / "lung.nii.gz", stretch_contrast(source.data, window="lung"), source)
    >>> read_nifti(folder / "lung.nii.gz").affine.tolist() == source.affine.tolist()
    True
    """
    import gzip
    import json

    nibabel = _nibabel()
    if data.shape != source.data.shape:
        raise ValueError(f"the result's shape {data.shape} is not the source's {source.data.shape}")
    header = source.metadata.get("header")
    affine = np.asarray(source.metadata["affine"])
    array = np.asarray(data).transpose(tuple(reversed(range(data.ndim))))
    image = nibabel.Nifti1Image(array, affine, header=header)
    image.set_data_dtype(array.dtype)
    image.header.set_slope_inter(1.0, 0.0)
    image.set_qform(affine, code=source.metadata["qform_code"])
    image.set_sform(affine, code=source.metadata["sform_code"])
    image.header.set_xyzt_units(source.metadata["units"], source.metadata["time_unit"])
    if description:
        image.header["descrip"] = description.encode("latin-1", "replace")[:79]
    if record is not None:
        image.header.extensions.append(nibabel.nifti1.Nifti1Extension("comment", json.dumps(record).encode()))
    payload = image.to_bytes()  # written by us: the name may be a temporary one nibabel would not know
    if compressed if compressed is not None else str(path).lower().endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=1, mtime=0)  # nibabel's own default level
    Path(path).write_bytes(payload)
