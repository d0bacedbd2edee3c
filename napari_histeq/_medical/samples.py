"""The CT phantom as files: a DICOM series and a NIfTI volume, written with pydicom and nibabel (for
tests, the docs and trying the readers without a scanner).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._samples import CT_PHANTOM_SPACING, ct_phantom

#: Stored CT values are unsigned, shifted by this intercept, as most scanners write them.
CT_INTERCEPT = -1024


def write_dicom_series(folder, volume=None, spacing=CT_PHANTOM_SPACING, origin=(-67.2, -67.2, 0.0),
                       description="CT phantom") -> list[Path]:
    """Write ``volume`` (int16 Hounsfield units, (z, y, x)) as an axial CT series, one file per slice,
    stored unsigned with ``RescaleIntercept`` -1024; the files' names run against the slice order (the
    readers sort by position). Returns the files' paths.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    volume = ct_phantom() if volume is None else np.asarray(volume)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    paths = []
    for k, plane in enumerate(volume):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientID, ds.PatientName, ds.Modality = "PHANTOM", "Phantom^CT", "CT"
        ds.SeriesDescription, ds.SeriesNumber, ds.InstanceNumber = description, 1, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.ImagePositionPatient = [float(origin[0]), float(origin[1]), float(origin[2] + k * spacing[0])]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[2])]
        ds.SliceThickness = float(spacing[0])
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = CT_INTERCEPT, 1, "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = (plane.astype(np.int32) - CT_INTERCEPT).astype("<u2").tobytes()
        path = folder / f"slice{len(volume) - k:04d}.dcm"  # names against the slice order
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths


def write_nifti_volume(path, volume=None, spacing=CT_PHANTOM_SPACING, description="CT phantom") -> Path:
    """Write ``volume`` ((z, y, x)) as NIfTI-1 in RAS+ with a radiological flip of x (as converters write CT),
    stored unsigned with nibabel's own ``scl_slope``/``scl_inter`` (slope 1, an integer intercept), qform and
    sform code 1 (scanner).
    """
    import nibabel

    volume = ct_phantom() if volume is None else np.asarray(volume)
    affine = np.diag([-spacing[2], spacing[1], spacing[0], 1.0])
    affine[:3, 3] = (67.2, -67.2, 0.0)
    image = nibabel.Nifti1Image(volume.transpose(2, 1, 0), affine)
    image.set_data_dtype(np.uint16)  # nibabel finds the intercept that holds the values
    image.header.set_xyzt_units("mm", "sec")
    image.header["descrip"] = description.encode()
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nibabel.save(image, str(path))
    return Path(path)
