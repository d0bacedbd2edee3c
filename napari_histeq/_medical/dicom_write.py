"""A derived DICOM series: the source's files copied, with the result's pixels and new identities.

One file per source file, in the same slice order: every tag of the source
kept (patient, study, geometry: ``ImagePositionPatient``,
``ImageOrientationPatient``, ``PixelSpacing``, ``SliceThickness``), then a new
``SeriesInstanceUID`` and ``SOPInstanceUID`` (pydicom's UID generator),
``ImageType`` DERIVED and SECONDARY, a ``SeriesDescription`` and
``DerivationDescription`` that say what was done, the pixels stored as they
are (``RescaleSlope`` 1, ``RescaleIntercept`` 0, ``PixelRepresentation`` for
their sign) uncompressed, and ``WindowCenter``/``WindowWidth`` over the
result's range.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from .volume import MedicalFileError, Volume, require

#: Tags that describe the source's stored values and would be wrong for the result's.
STALE_TAGS = ("SmallestImagePixelValue", "LargestImagePixelValue", "PixelPaddingValue", "PixelPaddingRangeLimit",
              "ModalityLUTSequence", "VOILUTSequence", "WindowCenterWidthExplanation", "SmallestPixelValueInSeries",
              "LargestPixelValueInSeries", "LossyImageCompression", "LossyImageCompressionRatio")


def _stored(result) -> np.ndarray:
    """The result as 16-bit stored values (signed or not, as it is), or a one-line refusal."""
    if result.dtype.kind not in "iu":
        raise MedicalFileError(f"a {result.dtype} result has no exact 16-bit DICOM pixels; write it as NIfTI or TIFF "
                               "(or give an integer --out-range)")
    for dtype in ((np.uint16,) if result.dtype.kind == "u" else (np.int16,)):
        info = np.iinfo(dtype)
        if result.size == 0 or (int(result.min()) >= info.min and int(result.max()) <= info.max):
            return result.astype(dtype)
    raise MedicalFileError(f"the result spans {result.min()}..{result.max()}, beyond 16-bit DICOM pixels")


def _copy_of(header, pydicom):
    """A dataset of its own holding copies of ``header``'s elements: pydicom sets a tag's new value
    inside the element it holds, which the source volume's header would otherwise share.
    """

    def copied(source, into):
        for tag, element in source.items():
            into[tag] = element if element.is_raw else copy.copy(element)  # raw elements are immutable tuples
        return into

    ds = copied(header, pydicom.Dataset())
    ds.file_meta = copied(header.file_meta, pydicom.dataset.FileMetaDataset())
    ds.preamble = header.preamble
    # the encoding it was read in: pydicom then writes the unchanged elements' bytes as they are,
    # instead of decoding each one to check for ambiguous VRs (which doubled the time to write)
    ds.set_original_encoding(*header.original_encoding, header.original_character_set)
    return ds


def write_derived_series(folder, result, source: Volume, record: dict) -> list[Path]:
    """Write ``result`` (the source series' shape, (z, y, x)) as a derived series in ``folder``, one file
    per source file under its name. Returns the files written.
    """
    pydicom = require("pydicom", "writing DICOM")
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    files = [Path(f) for f in source.metadata.get("files", [])]
    planes = np.asarray(result).reshape((-1, *result.shape[-2:]))
    if len(files) != len(planes):
        raise MedicalFileError(f"{len(planes)} result planes for {len(files)} source files: one file per slice "
                               "is written back")
    stored = _stored(np.asarray(result))
    signed = stored.dtype.kind == "i"
    what = f"napari-histeq {record.get('method') or record.get('operation', '')} {record.get('variant', '')}".strip()
    low, high = (int(stored.min()), int(stored.max())) if stored.size else (0, 0)
    same = pydicom.Dataset()  # the tags every file of the derived series shares, made once
    same.SeriesInstanceUID = generate_uid()
    same.DerivationDescription = json.dumps(record)[:1024]
    same.BitsAllocated, same.BitsStored, same.HighBit = 16, 16, 15
    same.PixelRepresentation = int(signed)
    same.RescaleSlope, same.RescaleIntercept = 1, 0
    same.WindowCenter, same.WindowWidth = (low + high) / 2, max(high - low + 1, 1)
    headers = source.headers if len(source.headers) == len(files) else [None] * len(files)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, header, plane in zip(files, headers, stored.reshape(planes.shape)):
        ds = _copy_of(header, pydicom) if header is not None else pydicom.dcmread(str(file), stop_before_pixels=True)
        for tag in STALE_TAGS:
            if tag in ds:
                delattr(ds, tag)
        ds.update(same)
        instance = generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = instance
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.ImageType = ["DERIVED", "SECONDARY", *list(ds.get("ImageType", []))[2:]]
        ds.SeriesDescription = f"{ds.get('SeriesDescription', '')} {what}".strip()[:64]
        ds.PixelData = np.ascontiguousarray(plane, plane.dtype.newbyteorder("<")).tobytes()
        ds["PixelData"].VR = "OW"
        target = folder / file.name
        ds.save_as(target, enforce_file_format=False)  # our file meta is whole: its validation costs a fifth
        written.append(target)
    return written
