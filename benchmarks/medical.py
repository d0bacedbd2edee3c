"""Medical files and CLAHE on Hounsfield units, against pydicom, nibabel and scikit-image, interleaved.

Rows of ``python -m benchmarks --only medical``: a 512x512x300 int16 CT series read
and written back (ours: ``read_dicom`` and a derived series, new UIDs and all;
pydicom: ``dcmread`` and ``save_as`` of the same files), the same volume as NIfTI
(ours: ``read_nifti`` and ``write_nifti``; nibabel: ``load``, the array, ``save``),
and 3D CLAHE on it (ours on the signed Hounsfield units; scikit-image, which cannot
take them signed, on the same data shifted to unsigned).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np

import napari_histeq as nh

from .robust import paired


def medical_cases(quick: bool) -> dict:
    from napari_histeq._medical.samples import write_dicom_series, write_nifti_volume

    shape = (24, 96, 96) if quick else (300, 512, 512)
    volume = nh.ct_phantom(shape)
    folder = Path(tempfile.mkdtemp(prefix="napari-histeq-bench-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    write_dicom_series(folder / "series", volume)
    write_nifti_volume(folder / "ct.nii.gz", volume)
    size = "x".join(map(str, shape[::-1]))
    return {
        "dicom": {"name": f"DICOM series int16 {size}: read and write", "folder": folder, "volume": volume},
        "nifti": {"name": f"NIfTI int16 {size} (gzip): read and write", "folder": folder, "volume": volume},
        "clahe": {"name": f"CLAHE 3D on int16 Hounsfield units {size}", "volume": volume, "rounds": 2},
    }


def medical_contenders(key, case) -> dict:
    folder = case.get("folder")
    if key == "dicom":
        import pydicom

        from napari_histeq._medical.dicom_write import write_derived_series

        files = sorted((folder / "series").iterdir())

        def ours():
            (series,) = nh.read_dicom(folder / "series")
            write_derived_series(folder / "ours", series.data, series, {"operation": "benchmark"})

        def plain():
            out = folder / "pydicom"
            out.mkdir(exist_ok=True)
            for path in files:
                ds = pydicom.dcmread(path)
                ds.pixel_array  # noqa: B018 -- decoding the pixels is part of reading
                ds.save_as(out / path.name)

        return {"napari-histeq": ours, "pydicom dcmread + save_as": plain}
    if key == "nifti":
        import nibabel

        source = folder / "ct.nii.gz"

        def ours():
            volume = nh.read_nifti(source)
            nh.write_nifti(folder / "ours.nii.gz", volume.data, volume)

        def plain():
            image = nibabel.load(str(source))
            data = np.asarray(image.dataobj)
            nibabel.save(nibabel.Nifti1Image(data, image.affine, image.header), str(folder / "nibabel.nii.gz"))

        return {"napari-histeq": ours, "nibabel load + save": plain}
    from skimage import exposure

    volume = case["volume"]
    shifted = (volume.astype(np.int32) + 1024).astype(np.uint16)  # scikit-image refuses signed images
    kernel = tuple(max(1, s // 8) for s in volume.shape)
    return {"napari-histeq (numpy)": lambda: nh.equalize_adapthist(volume, kernel_size=kernel, backend="numpy"),
            "skimage equalize_adapthist (unsigned)": lambda: exposure.equalize_adapthist(shifted, kernel_size=kernel)}


def medical_ratios(timings: dict, cases: dict) -> list:
    return [
        paired(f"{cases['dicom']['name']}: ours / pydicom", timings["dicom"], "napari-histeq",
               "pydicom dcmread + save_as", "<= 1.2"),
        paired(f"{cases['nifti']['name']}: ours / nibabel", timings["nifti"], "napari-histeq",
               "nibabel load + save", "<= 1.2"),
        paired(f"{cases['clahe']['name']}: skimage / ours", timings["clahe"], "napari-histeq (numpy)",
               "skimage equalize_adapthist (unsigned)", ">= 20", invert=True),
    ]
