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


def _stored(result):
    """The result as 16-bit stored values (signed or not, as it is) and its lowest and highest value,
    or a one-line refusal.
    """
    if result.dtype.kind not in "iu":
        raise MedicalFileError(f"a {result.dtype} result has no exact 16-bit DICOM pixels; write it as NIfTI or TIFF "
                               "(or give an integer --out-range)")
    low, high = (int(result.min()), int(result.max())) if result.size else (0, 0)
    dtype = np.uint16 if result.dtype.kind == "u" else np.int16
    if not np.iinfo(dtype).min <= low <= high <= np.iinfo(dtype).max:
        raise MedicalFileError(f"the result spans {low}..{high}, beyond 16-bit DICOM pixels")
    return result.astype(dtype, copy=False), low, high


def _target_syntax(header, uid):
    """The source's own uncompressed little-endian syntax (its elements' bytes are then written as they
    are, private ones included), else explicit VR little endian (the pixels are written uncompressed).
    """
    syntax = header.file_meta.get("TransferSyntaxUID") if hasattr(header, "file_meta") else None
    return syntax if syntax in (uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian) else uid.ExplicitVRLittleEndian


def _elements(header, implicit_vr, signed):
    """``header``'s elements by tag: as read where they were read in the encoding written (pydicom writes
    their bytes as they are), else decoded, their ambiguous VRs (US or SS) settled for the result's sign.
    """
    if header.original_encoding == (implicit_vr, True):
        return dict(header.items())
    import pydicom
    from pydicom.filewriter import correct_ambiguous_vr

    ds = pydicom.Dataset()  # copies: pydicom settles a VR inside the element, which the header holds
    for tag, element in header.items():
        ds[tag] = element if element.is_raw else copy.copy(element)  # raw elements are immutable tuples
    ds.set_original_encoding(*header.original_encoding, header.original_character_set)  # to decode them
    ds.PixelRepresentation = int(signed)
    correct_ambiguous_vr(ds, True)
    return {tag: ds[tag] for tag in ds.keys()}


def _derived_elements(encoder, header, same, same_meta, replaced, what):
    """One derived file's file meta and data set elements, as bytes by tag: ``header``'s elements but
    those ``replaced``, the series' own (``same``, ``same_meta``), a new instance UID, an ImageType and
    SeriesDescription that say DERIVED and ``what``.
    """
    from pydicom.charset import default_encoding
    from pydicom.tag import Tag
    from pydicom.uid import generate_uid

    charset = header.get("SpecificCharacterSet") or default_encoding
    signed = bool(same.PixelRepresentation)
    elements = {tag: encoder.element(element, charset) for tag, element in
                _elements(header, encoder.implicit_vr, signed).items() if tag not in replaced}
    elements.update((tag, encoder.element(element, charset)) for tag, element in same.items())
    instance = generate_uid()
    elements[Tag("SOPInstanceUID")] = encoder.value(Tag("SOPInstanceUID"), "UI", instance, charset)
    image_type = header.get("ImageType") or ()
    image_type = [image_type] if isinstance(image_type, str) else list(image_type)
    image_type = ("DERIVED", "SECONDARY", *map(str, image_type[2:]))
    elements[Tag("ImageType")] = encoder.value(Tag("ImageType"), "CS", image_type, charset)
    description = f"{header.get('SeriesDescription', '')} {what}".strip()[:64]
    elements[Tag("SeriesDescription")] = encoder.value(Tag("SeriesDescription"), "LO", description, charset)
    meta = {tag: encoder.element(element, default_encoding, meta=True)  # the meta group has no charset
            for tag, element in getattr(header, "file_meta", {}).items() if tag not in same_meta}
    meta.update((tag, encoder.element(element, default_encoding, meta=True)) for tag, element in same_meta.items())
    meta[Tag("MediaStorageSOPInstanceUID")] = encoder.value(Tag("MediaStorageSOPInstanceUID"), "UI", instance,
                                                            default_encoding, meta=True)
    return meta, elements


def write_derived_series(folder, result, source: Volume, record: dict) -> list[Path]:
    """Write ``result`` (the source series' shape, (z, y, x)) as a derived series in ``folder``, one file
    per source file under its name. Returns the files written.
    """
    pydicom = require("pydicom", "writing DICOM")
    from pydicom import uid
    from pydicom.tag import Tag

    from .dicom_encode import SeriesEncoder

    files = [Path(f) for f in source.metadata.get("files", [])]
    planes = np.asarray(result).reshape((-1, *result.shape[-2:]))
    if len(files) != len(planes):
        raise MedicalFileError(f"{len(planes)} result planes for {len(files)} source files: one file per slice "
                               "is written back")
    stored, low, high = _stored(np.asarray(result))
    what = f"napari-histeq {record.get('method') or record.get('operation', '')} {record.get('variant', '')}".strip()
    same = pydicom.Dataset()  # the tags every file of the derived series shares, made once
    same.SeriesInstanceUID = uid.generate_uid()
    same.DerivationDescription = json.dumps(record)[:1024]
    same.BitsAllocated, same.BitsStored, same.HighBit = 16, 16, 15
    same.PixelRepresentation = int(stored.dtype.kind == "i")
    same.RescaleSlope, same.RescaleIntercept = 1, 0
    same.WindowCenter, same.WindowWidth = (low + high) / 2, max(high - low + 1, 1)
    same_meta = pydicom.dataset.FileMetaDataset()  # the writer's identity, not the source's
    same_meta.ImplementationClassUID = uid.PYDICOM_IMPLEMENTATION_UID
    same_meta.ImplementationVersionName = f"PYDICOM {pydicom.__version__}"[:16]
    headers = source.headers if len(source.headers) == len(files) else [None] * len(files)
    first = headers[0] if headers[0] is not None else pydicom.dcmread(str(files[0]), stop_before_pixels=True)
    same_meta.TransferSyntaxUID = _target_syntax(first, uid)
    encoder = SeriesEncoder(implicit_vr=same_meta.TransferSyntaxUID == uid.ImplicitVRLittleEndian)
    encoder.share([*same.values(), *same_meta.values()])
    replaced = {Tag(t) for t in ("SOPInstanceUID", "ImageType", "SeriesDescription", *STALE_TAGS)} | set(same.keys())
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file, header, plane in zip(files, headers, stored.reshape(planes.shape)):
        if header is None:
            header = pydicom.dcmread(str(file), stop_before_pixels=True)
        meta, elements = _derived_elements(encoder, header, same, same_meta, replaced, what)
        pixels = np.ascontiguousarray(plane, plane.dtype.newbyteorder("<"))
        preamble = header.preamble if len(header.preamble or b"") == 128 else bytes(128)
        target = folder / file.name
        with open(target, "wb") as handle:
            handle.write(encoder.head(preamble, meta, elements, pixels.nbytes))
            handle.write(pixels.data)
        written.append(target)
    return written
