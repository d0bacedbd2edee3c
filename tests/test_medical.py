"""DICOM series and NIfTI volumes: read in real units with their geometry, against pydicom and nibabel."""

import numpy as np
import pytest

from napari_histeq import MedicalFileError, ct_phantom, read_dicom, read_nifti, write_nifti

pydicom = pytest.importorskip("pydicom")


@pytest.fixture
def phantom():
    return ct_phantom((7, 40, 48))


@pytest.fixture
def series(tmp_path, phantom):
    from napari_histeq._medical.samples import write_dicom_series

    return write_dicom_series(tmp_path / "series", phantom, spacing=(2.5, 0.7, 0.8), origin=(-10.0, -20.0, 30.0))


# -- DICOM ----------------------------------------------------------------------------------------------
def test_a_series_is_sorted_along_its_normal_in_hounsfield_units(series, phantom):
    from pydicom.pixels import apply_rescale

    (volume,) = read_dicom(series[0].parent)
    # oracle: pydicom's own rescale of each file, ordered by the z of its ImagePositionPatient
    datasets = sorted((pydicom.dcmread(p) for p in series), key=lambda ds: float(ds.ImagePositionPatient[2]))
    expected = np.stack([apply_rescale(ds.pixel_array, ds) for ds in datasets])
    np.testing.assert_array_equal(volume.data, expected)
    np.testing.assert_array_equal(volume.data, phantom)
    assert volume.data.dtype == np.int16  # Hounsfield units stay integers
    assert volume.spacing == (2.5, 0.7, 0.8)
    assert volume.origin == (30.0, -20.0, -10.0)  # the first slice's position, (z, y, x)
    kwargs = volume.layer_kwargs()
    assert kwargs["scale"] == (2.5, 0.7, 0.8) and kwargs["translate"] == (30.0, -20.0, -10.0)
    assert kwargs["units"] == ("mm",) * 3
    assert kwargs["metadata"]["napari_histeq_medical"]["Modality"] == "CT"


def test_an_oblique_series_is_placed_by_its_affine(tmp_path, phantom):
    from napari_histeq._medical.samples import write_dicom_series

    paths = write_dicom_series(tmp_path / "oblique", phantom, spacing=(2.0, 0.5, 0.5))
    angle = np.deg2rad(20)
    row, column = np.array([np.cos(angle), np.sin(angle), 0.0]), np.array([0.0, 0.0, -1.0])  # a tilted coronal
    normal = np.cross(row, column)
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.ImageOrientationPatient = [*row, *column]
        ds.ImagePositionPatient = list(np.array([5.0, -3.0, 100.0]) + normal * 2.0 * ds.InstanceNumber)
        ds.save_as(path)
    (volume,) = read_dicom(tmp_path / "oblique")
    assert volume.needs_affine and "affine" in volume.layer_kwargs()
    for k in (0, 3, 6):  # each slice's first pixel lands where its file says it is (LPS, as (z, y, x))
        ds = next(pydicom.dcmread(p) for p in paths if pydicom.dcmread(p).InstanceNumber == k + 1)
        position = volume.affine @ np.array([k, 0, 0, 1.0])
        np.testing.assert_allclose(position[:3][::-1], [float(v) for v in ds.ImagePositionPatient], atol=1e-9)
        # one row down moves along the column direction by the row spacing
        step = volume.affine @ np.array([k, 1, 0, 1.0]) - position
        np.testing.assert_allclose(step[:3][::-1], column * 0.5, atol=1e-9)


def test_two_series_in_one_folder_are_two_volumes(tmp_path, phantom):
    from napari_histeq._medical.samples import write_dicom_series

    write_dicom_series(tmp_path / "study" / "a", phantom, description="soft tissue")
    write_dicom_series(tmp_path / "study" / "b", phantom[:3] + 100, description="contrast")
    volumes = read_dicom(tmp_path / "study")
    assert sorted(v.name for v in volumes) == ["contrast", "soft tissue"]
    assert sorted(v.data.shape[0] for v in volumes) == [3, 7]


@pytest.mark.parametrize("damage, message", [
    ("gap", "missing slice"),
    ("duplicate", "same position"),
    ("orientation", "orientation differs"),
    ("no_position", "place in the series is unknown"),
    ("truncated", "cannot decode|not a readable DICOM"),
    ("compressed", "cannot decode"),
])
def test_hostile_series_are_one_clear_line(series, damage, message):
    import re

    victim = series[3]
    ds = pydicom.dcmread(victim)
    if damage == "gap":
        victim.unlink()
    elif damage == "duplicate":
        ds.ImagePositionPatient = pydicom.dcmread(series[4]).ImagePositionPatient
        ds.save_as(victim)
    elif damage == "orientation":
        ds.ImageOrientationPatient = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]
        ds.save_as(victim)
    elif damage == "no_position":
        del ds.ImagePositionPatient
        ds.save_as(victim)
    elif damage == "truncated":
        victim.write_bytes(victim.read_bytes()[:-3000])
    else:  # JPEG 2000 said, garbage given: no decoder can make pixels of it
        from pydicom.uid import JPEG2000Lossless

        ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
        ds.PixelData = pydicom.encaps.encapsulate([b"\x00" * 64])
        ds["PixelData"].VR = "OB"
        ds.save_as(victim, enforce_file_format=True)
    with pytest.raises(MedicalFileError) as raised:
        read_dicom(series[0].parent)
    text = str(raised.value)
    assert "\n" not in text and re.search(message, text), text


def test_a_folder_without_dicom_and_a_file_without_pixels(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MedicalFileError, match="no DICOM file"):
        read_dicom(tmp_path / "empty")


# -- NIfTI ---------------------------------------------------------------------------------------------
@pytest.fixture
def nibabel():
    return pytest.importorskip("nibabel")


def test_nifti_in_real_units_and_zyx_order_as_nibabel_reads_it(nibabel, tmp_path, phantom):
    from napari_histeq._medical.samples import write_nifti_volume

    path = write_nifti_volume(tmp_path / "ct.nii.gz", phantom, spacing=(2.5, 0.7, 0.8))
    volume = read_nifti(path)
    image = nibabel.load(str(path))
    np.testing.assert_array_equal(volume.data, image.get_fdata().transpose(2, 1, 0))  # nibabel's scaling
    assert volume.data.dtype == np.int16  # a whole slope and intercept keep Hounsfield units integer
    np.testing.assert_array_equal(volume.data, phantom)
    np.testing.assert_allclose(volume.spacing, (2.5, 0.7, 0.8), rtol=1e-6)
    # the affine in (z, y, x): index (k, j, i) maps where nibabel's affine maps (i, j, k)
    for index in [(0, 0, 0), (6, 39, 47), (3, 5, 9)]:
        expected = image.affine @ np.array([*index[::-1], 1.0])
        np.testing.assert_allclose((volume.affine @ np.array([*index, 1.0]))[:3], expected[:3][::-1])
    assert volume.needs_affine  # x runs right to left, as converters write CT


def test_nifti_written_back_keeps_the_header_and_stores_the_result(nibabel, tmp_path, phantom):
    from napari_histeq import stretch_contrast
    from napari_histeq._medical.samples import write_nifti_volume

    source = read_nifti(write_nifti_volume(tmp_path / "ct.nii.gz", phantom))
    result = stretch_contrast(source.data, window="abdomen", out_range=(0, 255))
    write_nifti(tmp_path / "out.nii.gz", result, source, description="stretched")
    before, after = nibabel.load(str(tmp_path / "ct.nii.gz")), nibabel.load(str(tmp_path / "out.nii.gz"))
    np.testing.assert_array_equal(after.affine, before.affine)
    for field in ("qform_code", "sform_code", "pixdim", "xyzt_units", "intent_code"):
        np.testing.assert_array_equal(after.header[field], before.header[field])
    assert after.get_data_dtype() == result.dtype
    np.testing.assert_array_equal(np.asarray(after.dataobj).transpose(2, 1, 0), result)
    assert after.header["descrip"].item() == b"stretched"


def test_float_mri_keeps_its_scaling(nibabel, tmp_path):
    rng = np.random.default_rng(2)
    stored = rng.integers(0, 4000, (20, 16, 9)).astype(np.int16)
    image = nibabel.Nifti1Image(stored, np.diag([1.2, 1.2, 3.0, 1.0]))
    image.set_data_dtype(np.int16)
    path = tmp_path / "mri.nii"
    nibabel.save(image, str(path))
    raw = bytearray(path.read_bytes())  # scl_slope 0.37, scl_inter 2.5, written into the header's bytes
    raw[112:120] = np.array([0.37, 2.5], "<f4").tobytes()
    path.write_bytes(bytes(raw))
    volume = read_nifti(path)
    np.testing.assert_allclose(volume.data, nibabel.load(str(path)).get_fdata().transpose(2, 1, 0), rtol=1e-6)


@pytest.mark.parametrize("content", [b"", b"not a nifti file at all" * 20, b"\x5c\x01\x00\x00" + b"\x00" * 400])
def test_broken_nifti_is_one_clear_line(nibabel, tmp_path, content):
    path = tmp_path / "broken.nii"
    path.write_bytes(content)
    with pytest.raises(MedicalFileError) as raised:
        read_nifti(path)
    assert "broken.nii" in str(raised.value) and "\n" not in str(raised.value)


# -- the napari reader ----------------------------------------------------------------------------------
def test_the_reader_takes_nifti_dicom_files_and_folders(nibabel, tmp_path, series, phantom):
    from napari_histeq._medical.samples import write_nifti_volume
    from napari_histeq._napari.reader import get_reader

    nifti = write_nifti_volume(tmp_path / "ct.nii.gz", phantom)
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    assert get_reader(str(tmp_path / "picture.png")) is None
    for path in (nifti, series[0].parent, series[2]):
        reader = get_reader(str(path))
        assert reader is not None
        (data, kwargs, kind), *_ = reader(str(path))
        assert kind == "image" and kwargs["units"][-1] == "mm"
    (data, kwargs, _), = get_reader(str(series[0].parent))(str(series[0].parent))
    np.testing.assert_array_equal(data, phantom)
    assert kwargs["scale"] == (2.5, 0.7, 0.8)


# -- the batch command: NIfTI in, NIfTI out ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nii"])
@pytest.mark.parametrize("flags, expected", [
    (["--method", "stretch", "--variant", "window", "--window", "abdomen", "--out-range", "0,255"],
     lambda hu: __import__("napari_histeq").stretch_contrast(hu, window="abdomen", out_range=(0, 255))),
    (["--method", "global"], lambda hu: __import__("napari_histeq").equalize(hu)),
])
def test_batch_writes_nifti_with_the_sources_header(nibabel, tmp_path, phantom, name, flags, expected):
    import json

    from napari_histeq._cli import main
    from napari_histeq._medical.samples import write_nifti_volume

    source = write_nifti_volume(tmp_path / name, phantom)
    assert main(["batch", str(source), "-o", str(tmp_path / "out"), *flags]) == 0
    before, after = nibabel.load(str(source)), nibabel.load(str(tmp_path / "out" / name))
    np.testing.assert_array_equal(after.affine, before.affine)
    for field in ("qform_code", "sform_code", "pixdim", "xyzt_units", "dim", "descrip", "intent_code"):
        np.testing.assert_array_equal(after.header[field], before.header[field])
    result = np.asarray(after.dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(result, expected(phantom))  # the API on the Hounsfield units nibabel reads
    assert after.get_data_dtype() == np.int16
    record = json.loads(after.header.extensions[0].get_content())
    assert record["source"] == name and record["method"] == flags[1]
    assert not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())  # no temporary left


def test_batch_sizes_clahe_regions_in_millimetres_from_the_nifti_header(nibabel, tmp_path, phantom):
    from napari_histeq import equalize_adapthist
    from napari_histeq._cli import main
    from napari_histeq._medical.samples import write_nifti_volume

    source = write_nifti_volume(tmp_path / "ct.nii.gz", phantom)
    zooms = nibabel.load(str(source)).header.get_zooms()[::-1]  # (z, y, x) mm, as nibabel reads the header
    voxels = tuple(max(1, round(12.0 / float(z))) for z in zooms)
    assert main(["batch", str(source), "-o", str(tmp_path / "out"), "--method", "adaptive",
                 "--kernel-size-mm", "12"]) == 0
    result = np.asarray(nibabel.load(str(tmp_path / "out" / "ct.nii.gz")).dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(result, equalize_adapthist(phantom, kernel_size=voxels))
    # --spacing overrides the header
    assert main(["batch", str(source), "-o", str(tmp_path / "given"), "--method", "adaptive",
                 "--kernel-size-mm", "12", "--spacing", "3,1,1"]) == 0
    result = np.asarray(nibabel.load(str(tmp_path / "given" / "ct.nii.gz")).dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(result, equalize_adapthist(phantom, kernel_size=(4, 12, 12)))


def test_millimetres_without_a_voxel_size_are_one_line(tmp_path, capsys):
    import imageio.v3 as iio

    from napari_histeq import equalize_adapthist
    from napari_histeq._cli import main

    image = (np.arange(64 * 80) % 251).astype(np.uint8).reshape(64, 80)
    iio.imwrite(tmp_path / "cells.png", image)
    assert main(["batch", str(tmp_path / "cells.png"), "-o", str(tmp_path / "out"), "--method", "adaptive",
                 "--kernel-size-mm", "5"]) == 1
    assert "needs the voxel size" in capsys.readouterr().err and not (tmp_path / "out" / "cells.png").exists()
    assert main(["batch", str(tmp_path / "cells.png"), "-o", str(tmp_path / "out"), "--method", "adaptive",
                 "--kernel-size-mm", "5", "--spacing", "0.5,0.25"]) == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "cells.png"),
                                  equalize_adapthist(image, kernel_size=(10, 20)))


# -- the batch command: a DICOM series in, a derived DICOM series out --------------------------------------------------
def test_batch_writes_a_derived_series_with_the_sources_geometry(tmp_path, series, phantom):
    from napari_histeq import stretch_contrast
    from napari_histeq._cli import main

    folder = series[0].parent
    assert main(["batch", str(folder), "-o", str(tmp_path / "out"), "--method", "stretch", "--variant", "window",
                 "--window", "abdomen", "--out-range", "0,255"]) == 0
    written = sorted((tmp_path / "out" / folder.name).iterdir())
    assert [p.name for p in written] == sorted(p.name for p in series)  # one file per source file, same names
    expected = stretch_contrast(phantom, window="abdomen", out_range=(0, 255))
    series_uids, instance_uids = set(), set()
    for path in written:
        source, derived = pydicom.dcmread(folder / path.name), pydicom.dcmread(path)
        for tag in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
                    "PatientID", "StudyInstanceUID", "FrameOfReferenceUID"):
            assert derived.get(tag) == source.get(tag), tag
        assert derived.SeriesInstanceUID != source.SeriesInstanceUID
        assert derived.SOPInstanceUID != source.SOPInstanceUID
        assert derived.file_meta.MediaStorageSOPInstanceUID == derived.SOPInstanceUID
        assert list(derived.ImageType[:2]) == ["DERIVED", "SECONDARY"]
        assert "stretch" in derived.SeriesDescription and '"window": "abdomen"' in derived.DerivationDescription
        k = round((float(source.ImagePositionPatient[2]) - 30.0) / 2.5)  # the slice this file holds
        # pydicom's own reading of the stored values, through the modality LUT
        from pydicom.pixels import apply_rescale

        np.testing.assert_array_equal(apply_rescale(derived.pixel_array, derived), expected[k])
        assert 0 <= float(derived.WindowCenter) <= 255
        series_uids.add(derived.SeriesInstanceUID)
        instance_uids.add(derived.SOPInstanceUID)
    assert len(series_uids) == 1 and len(instance_uids) == len(written)
    (volume,) = read_dicom(tmp_path / "out" / folder.name)
    np.testing.assert_array_equal(volume.data, expected)


def test_simpleitk_reads_the_derived_series_with_the_same_geometry(tmp_path, series):
    sitk = pytest.importorskip("SimpleITK")
    from napari_histeq._cli import main

    folder = series[0].parent
    assert main(["batch", str(folder), "-o", str(tmp_path / "out"), "--method", "global"]) == 0

    def read(where):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(where)))
        return reader.Execute()

    before, after = read(folder), read(tmp_path / "out" / folder.name)
    assert after.GetSize() == before.GetSize()
    np.testing.assert_allclose(after.GetSpacing(), before.GetSpacing())
    np.testing.assert_allclose(after.GetOrigin(), before.GetOrigin())
    np.testing.assert_allclose(after.GetDirection(), before.GetDirection())
    from napari_histeq import equalize

    np.testing.assert_array_equal(sitk.GetArrayFromImage(after), equalize(sitk.GetArrayFromImage(before)))


def test_a_volume_writes_derived_series_from_the_headers_it_read(tmp_path, series):
    # the headers are read once (not again to write): each derived series gets copies, the volume keeps its own
    from napari_histeq._medical.dicom_write import write_derived_series

    (source,) = read_dicom(series[0].parent)
    before = [(h.SOPInstanceUID, h.SeriesInstanceUID, "PixelData" in h) for h in source.headers]
    first = write_derived_series(tmp_path / "a", source.data, source, {"operation": "a"})
    second = write_derived_series(tmp_path / "b", source.data, source, {"operation": "b"})
    assert [(h.SOPInstanceUID, h.SeriesInstanceUID, "PixelData" in h) for h in source.headers] == before
    assert not any(pixels for _, _, pixels in before)  # the volume holds the pixels once, in its array
    uids = [{pydicom.dcmread(p).SOPInstanceUID for p in files} for files in (first, second)]
    assert not uids[0] & uids[1] and not uids[0] & {uid for uid, _, _ in before}
    for path in first:
        raw = path.read_bytes()
        assert raw[128:132] == b"DICM"  # preamble and file meta: a DICOM file, not a bare dataset
        assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    np.testing.assert_array_equal(read_dicom(tmp_path / "b")[0].data, source.data)


@pytest.mark.parametrize("result, message", [
    (np.zeros((7, 40, 48), np.float32), "NIfTI or TIFF"),
    (np.full((7, 40, 48), 70000, np.int32), "beyond 16-bit"),
    (np.zeros((6, 40, 48), np.int16), "6 result planes for 7 source files"),
])
def test_results_dicom_cannot_hold_exactly_are_refused(tmp_path, series, result, message):
    from napari_histeq._medical.dicom_write import write_derived_series

    (source,) = read_dicom(series[0].parent)
    with pytest.raises(MedicalFileError, match=message):
        write_derived_series(tmp_path / "out", result, source, {"operation": "test"})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# -- regions in millimetres ---------------------------------------------------------------------------------
def test_regions_in_millimetres_are_cubes_in_space_as_scikit_image_sizes_them(rng):
    exposure = pytest.importorskip("skimage.exposure")
    from napari_histeq import equalize_adapthist

    volume = rng.random((12, 48, 40))  # float64: scikit-image's own result, to the bit
    spacing = (2.5, 0.7, 0.8)
    ours = equalize_adapthist(volume, kernel_size_mm=10.0, spacing=spacing, clip_limit=0.02)
    voxels = (4, 14, 12)  # 10 mm over 2.5, 0.7 and 0.8 mm, rounded
    np.testing.assert_array_equal(ours, exposure.equalize_adapthist(volume, kernel_size=voxels, clip_limit=0.02))
    planes = equalize_adapthist(volume, kernel_size_mm=(7.0, 4.0), spacing=spacing, axis=(-2, -1))
    for plane, got in zip(volume, planes):
        np.testing.assert_array_equal(got, exposure.equalize_adapthist(plane, kernel_size=(10, 5)))


@pytest.mark.parametrize("keywords, message", [
    (dict(kernel_size_mm=10), "needs spacing"),
    (dict(kernel_size_mm=10, spacing=(1, 1)), "3 positive numbers"),
    (dict(kernel_size_mm=10, spacing=(1, 0, 1)), "3 positive numbers"),
    (dict(kernel_size_mm=-1, spacing=(1, 1, 1)), "positive"),
    (dict(kernel_size_mm=10, spacing=(1, 1, 1), kernel_size=4), "not both"),
    (dict(kernel_size_mm=10, spacing=(1, 1, 1), variant="opencv"), "tile_grid"),
])
def test_regions_in_millimetres_refuse_what_cannot_be_sized(keywords, message):
    from napari_histeq import equalize_adapthist

    with pytest.raises(ValueError, match=message):
        equalize_adapthist(np.zeros((4, 8, 8), np.uint8), **keywords)


def test_the_mri_sample_has_a_bias_field_across_one_tissue():
    from napari_histeq import mri_bias_field

    volume = mri_bias_field()
    z, y, x = (np.indices(volume.shape) / (np.array(volume.shape) - 1)[:, None, None, None]) * 2 - 1
    white = (np.sqrt((x / 0.85) ** 2 + (y / 0.95) ** 2 + (z / 1.1) ** 2) < 0.6) & (np.abs(x) > 0.3)
    left, right = np.median(volume[white & (x < 0)]), np.median(volume[white & (x > 0)])
    assert right / left > 1.3  # one tissue, a third brighter on one side: the field a scanner's coil leaves
    assert volume.dtype == np.float32 and volume.min() >= 0
