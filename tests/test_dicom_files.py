"""DICOM at the byte level: pixels as pydicom decodes them, values as the rescale formula gives them,
derived files as pydicom itself writes them.
"""

import io
import json

import numpy as np
import pytest

from napari_histeq import ct_phantom, read_dicom

pydicom = pytest.importorskip("pydicom")
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays


# -- pixels -----------------------------------------------------------------------------------------------
def _image(rng, bits, signed, frames, shape, syntax=ExplicitVRLittleEndian, bits_stored=None):
    from pydicom.dataset import Dataset, FileMetaDataset

    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max, (frames, *shape), dtype=dtype, endpoint=True)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.Rows, ds.Columns = shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits_stored or bits, (bits_stored or bits) - 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", int(signed)
    if frames > 1:
        ds.NumberOfFrames = frames
    data = values.astype(dtype.newbyteorder(">" if syntax == ExplicitVRBigEndian else "<")).tobytes()
    ds.PixelData = data + b"\x00" * (len(data) % 2)  # odd lengths padded, as the standard says
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    return ds


@pytest.mark.parametrize("bits, signed, frames, shape, bits_stored", [
    (8, False, 1, (5, 7), None), (8, True, 3, (4, 5), None), (16, False, 1, (6, 9), 12), (16, True, 1, (6, 9), 12),
    (16, True, 4, (3, 8), None), (32, False, 1, (2, 3), None), (32, True, 2, (5, 4), None),
])
def test_native_pixels_are_what_pydicom_decodes(rng, bits, signed, frames, shape, bits_stored):
    from napari_histeq._medical.dicom import native_pixels

    ds = _image(rng, bits, signed, frames, shape, bits_stored=bits_stored)
    ours, theirs = native_pixels(ds), ds.pixel_array
    assert ours is not None
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_pixels_native_reading_leaves_to_pydicom(rng):
    from napari_histeq._medical.dicom import native_pixels

    big = _image(rng, 16, False, 1, (4, 4), syntax=ExplicitVRBigEndian)
    assert native_pixels(big) is None  # big endian: pydicom swaps
    rgb = _image(rng, 8, False, 1, (4, 4))
    rgb.SamplesPerPixel = 3
    assert native_pixels(rgb) is None
    short = _image(rng, 16, False, 1, (4, 4))
    short.PixelData = short.PixelData[:-4]
    assert native_pixels(short) is None  # truncated: pydicom's decoder says what is wrong


# -- real units -------------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(stored=st.sampled_from(["u1", "u2", "i2", "u4", "i4", "i8", "u8"]).flatmap(
           lambda dtype: arrays(dtype, st.integers(1, 12))),
       slope=st.integers(-3000, 3000).filter(bool), intercept=st.integers(-2**40, 2**40))
def test_whole_slopes_and_intercepts_give_exact_integers_in_the_narrowest_type(stored, slope, intercept):
    from napari_histeq._medical.volume import rescaled

    exact = [int(v) * slope + intercept for v in stored.tolist()]  # Python integers: no overflow
    values = rescaled(stored, slope, intercept)
    if (slope, intercept) == (1, 0):  # no rescale: the stored values as they are, in their own type
        assert values.dtype == stored.dtype and values.tolist() == exact
        return
    fits = [t for t in (np.int16, np.int32, np.int64)
            if np.iinfo(t).min <= min(exact) and max(exact) <= np.iinfo(t).max]
    if fits:
        assert values.dtype == fits[0]
        assert values.tolist() == exact
    else:
        assert values.dtype.kind == "f"


# -- derived series, byte for byte -------------------------------------------------------------------------
def _source_series(folder, volume, syntax):
    """A CT series in ``syntax`` with what real ones carry: a charset and a name beyond ASCII, a sequence
    of undefined length, a private block, tags that describe the stored values.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import CTImageStorage, generate_uid

    folder.mkdir()
    study, series = generate_uid(), generate_uid()
    paths = []
    for k, plane in enumerate(volume):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        ds.file_meta.TransferSyntaxUID = syntax
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study, series, "CT"
        ds.PatientName, ds.PatientID, ds.SeriesDescription = "Müller^Jörg", "P1", "Thorax"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [-10.0, -20.0, 2.5 * k]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.8], 2.5
        reference = Dataset()
        reference.ReferencedSOPClassUID, reference.ReferencedSOPInstanceUID = CTImageStorage, generate_uid()
        ds.ReferencedImageSequence = Sequence([reference])
        ds["ReferencedImageSequence"].is_undefined_length = True
        ds.private_block(0x0011, "NAPARI TEST", create=True).add_new(0x01, "LO", f"private {k}")
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.SmallestImagePixelValue, ds.LargestImagePixelValue = int(plane.min()) + 1024, int(plane.max()) + 1024
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        stored = (plane.astype(np.int32) + 1024).astype(np.uint16)
        ds.PixelData = stored.astype(">u2" if syntax == ExplicitVRBigEndian else "<u2").tobytes()
        ds["PixelData"].VR = "OW"
        paths.append(folder / f"im{k}.dcm")
        pydicom.dcmwrite(paths[-1], ds, enforce_file_format=True)
    return paths


def _as_pydicom_writes_it(source, ours, plane, result, record, syntax):
    """The derived file as pydicom writes it from the source file, made by pydicom's own API. Only the
    new identities are taken from ours: nothing else could know them.
    """
    from napari_histeq._medical.dicom_write import STALE_TAGS

    ds, made = pydicom.dcmread(source), pydicom.dcmread(ours, stop_before_pixels=True)
    for tag in STALE_TAGS:
        if tag in ds:
            delattr(ds, tag)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = made.SOPInstanceUID
    ds.SeriesInstanceUID = made.SeriesInstanceUID
    ds.DerivationDescription = json.dumps(record)
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.SeriesDescription = "Thorax napari-histeq equalize"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.WindowCenter, ds.WindowWidth = (int(result.min()) + int(result.max())) / 2, int(result.max() - result.min()) + 1
    ds.PixelData = plane.astype("<i2").tobytes()
    ds["PixelData"].VR = "OW"
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = f"PYDICOM {pydicom.__version__}"
    written = io.BytesIO()
    pydicom.dcmwrite(written, ds, enforce_file_format=True)
    return written.getvalue()


@pytest.mark.parametrize("source_syntax, written_syntax", [
    (ExplicitVRLittleEndian, ExplicitVRLittleEndian),
    (ImplicitVRLittleEndian, ImplicitVRLittleEndian),  # kept: private tags keep their bytes
    (ExplicitVRBigEndian, ExplicitVRLittleEndian),  # retired: decoded and written little endian
])
def test_a_derived_series_is_byte_for_byte_what_pydicom_writes(tmp_path, source_syntax, written_syntax):
    from napari_histeq import equalize
    from napari_histeq._medical.dicom_write import write_derived_series

    sources = _source_series(tmp_path / "source", ct_phantom((4, 24, 20)), source_syntax)
    (volume,) = read_dicom(tmp_path / "source")
    result = (equalize(volume.data).astype(np.int32) - 600).astype(np.int16)  # signed: the sign changes
    record = {"operation": "equalize"}
    written = write_derived_series(tmp_path / "derived", result, volume, record)
    assert [p.name for p in written] == [p.name for p in sources]
    for source, ours, plane in zip(sources, written, result):
        assert ours.read_bytes() == _as_pydicom_writes_it(source, ours, plane, result, record, written_syntax)
    assert len({pydicom.dcmread(p).SOPInstanceUID for p in written}) == len(written)
    np.testing.assert_array_equal(read_dicom(tmp_path / "derived")[0].data, result)


def test_mixed_and_compressed_sources_give_one_readable_uncompressed_series(tmp_path):
    # the first file in explicit VR, then RLE-compressed (pydicom's own codec) and implicit VR files:
    # the derived series is written in the first's syntax, each file's tags as its source's, its
    # pixels the result's
    from pydicom.uid import RLELossless

    from napari_histeq._medical.dicom_write import write_derived_series

    sources = _source_series(tmp_path / "source", ct_phantom((4, 16, 20)), ExplicitVRLittleEndian)
    for k, path in enumerate(sources):
        ds = pydicom.dcmread(path)
        if k % 2:
            ds.compress(RLELossless)
            ds.save_as(path, enforce_file_format=True)
        elif k:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
            ds.save_as(path, enforce_file_format=True, implicit_vr=True)
    (volume,) = read_dicom(tmp_path / "source")
    result = volume.data[:, ::-1].copy()  # any int16 result
    written = write_derived_series(tmp_path / "derived", result, volume, {"operation": "flip"})
    for source, ours, plane in zip(sources, written, result):
        before, after = pydicom.dcmread(source), pydicom.dcmread(ours)
        assert after.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian  # the first file's
        for keyword in ("PatientName", "ImagePositionPatient", "InstanceNumber", "PixelSpacing"):
            assert after[keyword].value == before[keyword].value, keyword
        assert after.ReferencedImageSequence[0].ReferencedSOPInstanceUID == \
            before.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        assert after[0x0011, 0x1001].value == before[0x0011, 0x1001].value  # the private tag's text
        np.testing.assert_array_equal(after.pixel_array, plane)
