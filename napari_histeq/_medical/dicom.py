"""DICOM files and series through pydicom: one volume per series, its slices in order along the slice
normal, values in real units (``RescaleSlope``/``RescaleIntercept``: Hounsfield units for CT).

A series is sorted by each slice's position along the normal of its
orientation (``ImageOrientationPatient`` x ``ImagePositionPatient``), never
by file name. A gap, a duplicate position, slices of different orientation
or size, or a compressed transfer syntax without a decoder is one
:class:`~.volume.MedicalFileError` that says so, never a wrong geometry.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from .volume import MedicalFileError, Volume, require, rescaled

#: Two slice gaps differing by more than this share of the median gap are a gap in the series.
GAP_TOLERANCE = 0.05
#: Tags a series keeps in ``metadata`` (a layer's, a written file's provenance).
KEY_TAGS = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SeriesDescription", "Modality",
            "Manufacturer", "BodyPartExamined", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
            "RescaleSlope", "RescaleIntercept", "RescaleType", "WindowCenter", "WindowWidth")


def _pydicom():
    return require("pydicom", "reading DICOM")


def is_dicom(path) -> bool:
    """True for a file with DICOM's preamble and ``DICM`` marker (or a ``.dcm`` name)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix.lower() == ".dcm":
        return True
    with open(path, "rb") as handle:
        return handle.read(132)[128:132] == b"DICM"


def holds_dicom(folder, *, recursive=False, first_look=64) -> bool:
    """True when one of the first ``first_look`` entries of ``folder`` (and its sub-folders, ``recursive``)
    is a DICOM file: a quick look, not a walk of a big folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return False
    entries = folder.rglob("*") if recursive else folder.iterdir()
    for count, entry in enumerate(entries):
        if count >= first_look:
            return False
        if is_dicom(entry):
            return True
    return False


def dicom_files(folder) -> list[Path]:
    """The DICOM files in ``folder`` and below, by name."""
    return sorted(path for path in Path(folder).rglob("*") if is_dicom(path))


def _read(path, pydicom):
    try:
        return pydicom.dcmread(str(path))
    except Exception as error:  # pydicom's errors for a broken file are many: one line names the file
        why = " ".join(str(error).split())
        raise MedicalFileError(f"{Path(path).name}: not a readable DICOM file ({why})") from None


def read_dicom(path) -> list[Volume]:
    """The image series in a DICOM file or a folder of them: one :class:`Volume` per series.

    Parameters
    ----------
    path : str or Path
        A DICOM file (its slice, or its frames) or a folder (searched with its sub-folders).

    Returns
    -------
    volumes : list of Volume
        In ``SeriesNumber`` order; each series' slices sorted along their normal, values through
        ``RescaleSlope``/``RescaleIntercept`` (integers kept where both are whole).

    Raises
    ------
    MedicalFileError
        A series that cannot be placed or decoded, in one line.

    Examples
    --------
    >>> import tempfile
    >>> from napari_histeq import ct_phantom, read_dicom
    >>> from napari_histeq._medical.samples import write_dicom_series
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_dicom_series(folder, ct_phantom((4, 32, 32)))
    >>> (series,) = read_dicom(folder)
    >>> series.data.shape, series.data.dtype, series.spacing
    ((4, 32, 32), dtype('int16'), (2.5, 0.7, 0.7))
    """
    pydicom = _pydicom()
    path = Path(path)
    files = dicom_files(path) if path.is_dir() else [path]
    if not files:
        raise MedicalFileError(f"{path.name}: no DICOM file in this folder")
    series = defaultdict(list)
    for file in files:
        dataset = _read(file, pydicom)
        if "PixelData" not in dataset:
            continue  # a report, a presentation state: no image
        series[str(peek(dataset, "SeriesInstanceUID") or file)].append((file, dataset))
    if not series:
        raise MedicalFileError(f"{path.name}: no DICOM image (the files hold no pixel data)")
    volumes = [_volume(members, path) for members in series.values()]
    return sorted(volumes, key=lambda v: (v.metadata.get("SeriesNumber") or 0, v.name))


#: Uncompressed little-endian transfer syntaxes: their pixels are the element's bytes as they are.
NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99")


def peek(dataset, keyword, default=None):
    """``keyword``'s value in ``dataset``, its element left as it was read: pydicom decodes an element
    asked for by name in place, and a derived series writes the bytes of an element as read without
    encoding it again.
    """
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataelem import convert_raw_data_element

    element = dataset.get_item(tag_for_keyword(keyword))
    if element is None:
        return default
    return (convert_raw_data_element(element, ds=dataset) if element.is_raw else element).value


def native_pixels(dataset):
    """The pixels of an uncompressed little-endian grey image, as ``dataset.pixel_array`` gives them
    (read-only), or None for anything else: pydicom's decoder set-up costs as much as reading the slice.
    """
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    bits = peek(dataset, "BitsAllocated")
    signed = peek(dataset, "PixelRepresentation")
    if (syntax not in NATIVE_SYNTAXES or bits not in (8, 16, 32) or peek(dataset, "SamplesPerPixel", 1) != 1
            or signed not in (0, 1)):
        return None
    rows, columns = peek(dataset, "Rows"), peek(dataset, "Columns")
    try:
        frames = int(peek(dataset, "NumberOfFrames") or 1)
    except (TypeError, ValueError):
        return None
    if not (isinstance(rows, int) and isinstance(columns, int) and rows > 0 and columns > 0 and frames > 0):
        return None
    pixels = dataset.PixelData
    count = frames * rows * columns
    if len(pixels) < count * (bits // 8):
        return None  # truncated: pydicom's decoder says so
    dtype = np.dtype(f"<{'ui'[signed]}{bits // 8}")
    values = np.frombuffer(pixels, dtype, count).reshape((frames, rows, columns) if frames > 1 else (rows, columns))
    unused = bits - (peek(dataset, "BitsStored") or bits)
    if 0 < unused < bits:  # the bits above BitsStored are not the value's: pydicom shifts them out, as here
        values = np.left_shift(values, unused, dtype=values.dtype.newbyteorder("="))
        np.right_shift(values, unused, out=values)  # arithmetic for signed values: their sign extended
    return values if values.dtype.isnative else values.astype(dtype.newbyteorder("="))


def _pixels(dataset, file):
    native = native_pixels(dataset)
    if native is not None:
        return native
    try:
        return dataset.pixel_array
    except Exception as error:  # no decoder for a compressed syntax, truncated pixel data, ...
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax)
        hint = (" (install pylibjpeg with its plugins, or python-gdcm, for compressed DICOM)"
                if syntax is not None and getattr(syntax, "is_compressed", False) else "")
        why = " ".join(str(error).split())  # one line, whatever the decoders said
        raise MedicalFileError(f"{Path(file).name}: cannot decode its pixels, {name}: {why}{hint}") from None


def _numbers(dataset, file, keyword, count):
    """``count`` numbers of ``keyword`` (a position or an orientation), or a one-line refusal."""
    try:
        values = [float(v) for v in peek(dataset, keyword)]
    except (TypeError, ValueError):
        values = []
    if len(values) != count:
        raise MedicalFileError(f"{Path(file).name}: no ImageOrientationPatient/ImagePositionPatient: "
                               "its place in the series is unknown")
    return values


def _volume(members, where) -> Volume:
    first_file, first = members[0]
    slope = float(first.get("RescaleSlope", 1.0))
    intercept = float(first.get("RescaleIntercept", 0.0))
    spacing_rc = [float(v) for v in first.get("PixelSpacing", (1.0, 1.0))]
    metadata = {tag: _plain(first.get(tag)) for tag in KEY_TAGS if tag in first}
    metadata.update(format="dicom", SeriesNumber=_plain(first.get("SeriesNumber")),
                    files=[str(f) for f, _ in members])
    name = str(first.get("SeriesDescription", "") or Path(where).name).strip() or "DICOM series"
    if len(members) == 1:  # one file: a slice, or a multi-frame image
        pixels = _pixels(first, first_file)
        data = rescaled(pixels, slope, intercept)
        data = data if data.flags.writeable else data.copy()  # not a view of the file's bytes
        del first.PixelData  # its bytes are in ``data`` now
        if data.ndim == 2:
            affine = np.diag([*spacing_rc, 1.0])
            return Volume(data, tuple(spacing_rc), (0.0, 0.0), affine, name, "dicom", metadata, (first,))
        thickness = float(first.get("SpacingBetweenSlices", first.get("SliceThickness", 1.0)) or 1.0)
        spacing = (thickness, *spacing_rc)
        return Volume(data, spacing, (0.0, 0.0, 0.0), np.diag([*spacing, 1.0]), name, "dicom", metadata, (first,))
    orientations = np.array([_numbers(ds, f, "ImageOrientationPatient", 6) for f, ds in members])
    points = np.array([_numbers(ds, f, "ImagePositionPatient", 3) for f, ds in members])
    differs = ~np.isclose(orientations, orientations[0], rtol=1e-5, atol=1e-4).all(axis=1)
    if differs.any():
        raise MedicalFileError(f"{Path(members[int(np.argmax(differs))][0]).name}: its orientation differs from "
                               f"the rest of the series {name!r}")
    row, column = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row, column)
    along = points @ normal
    order = np.argsort(along, kind="stable")
    ordered = [members[k] for k in order]
    positions = along[order]
    gaps = np.diff(positions)
    if (gaps < 1e-4).any():
        duplicate = Path(ordered[int(np.argmin(gaps)) + 1][0]).name
        raise MedicalFileError(f"series {name!r}: two slices at the same position ({duplicate})")
    step = float(np.median(gaps))
    if (np.abs(gaps - step) > GAP_TOLERANCE * step).any():
        worst = int(np.argmax(np.abs(gaps - step)))
        raise MedicalFileError(f"series {name!r}: slices {step:.3g} mm apart, but {gaps[worst]:.3g} mm between "
                               f"{Path(ordered[worst][0]).name} and {Path(ordered[worst + 1][0]).name}: "
                               "a missing slice or an inconsistent spacing")
    data = None
    for k, (f, ds) in enumerate(ordered):
        values = rescaled(_pixels(ds, f), slope, intercept)  # plane by plane: no copy of the whole series
        del ds.PixelData  # its bytes are in ``data`` now
        if data is None:
            data = np.empty((len(ordered), *values.shape), values.dtype)
        elif values.shape != data.shape[1:]:
            raise MedicalFileError(f"{Path(f).name}: {values.shape} pixels, the series' slices are {data.shape[1:]}")
        if not np.can_cast(values.dtype, data.dtype, "safe"):  # a wider plane: the volume widens once
            data = data.astype(np.result_type(data.dtype, values.dtype))
        data[k] = values
    origin = points[order[0]]
    # columns of the affine: index (slice, row, column) -> LPS; a row index moves along the column direction
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = normal * step, column * spacing_rc[0], row * spacing_rc[1]
    affine[:3, 3] = origin
    zyx = np.eye(4)[[2, 1, 0, 3]]  # LPS (x, y, z) rows as (z, y, x), as the array's axes are
    affine = zyx @ affine
    metadata["slice_positions"] = positions.tolist()
    metadata["files"] = [str(f) for f, _ in ordered]  # in slice order: a derived series follows it
    return Volume(data, (step, *spacing_rc), tuple(affine[:3, 3]), affine, name, "dicom", metadata,
                  tuple(ds for _, ds in ordered))


def _plain(value):
    """A tag's value as plain Python (lists, floats, strings) for metadata."""
    if value is None:
        return None
    if isinstance(value, str | int | float):
        return value
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return str(value)
