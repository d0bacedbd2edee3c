"""``batch --mask`` and ``fit --mask``: the pixels that count, from a mask file or a folder of masks named as the
inputs (a NIfTI body mask for a CT, a PNG ROI for a microscope image); every pixel mapped, the mask recorded.
"""

import json

import imageio.v3 as iio
import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import equalize, fit_equalization_pooled, load_model
from napari_histeq._cli import main


@pytest.fixture
def cells(tmp_path, rng):
    folder = tmp_path / "cells"
    folder.mkdir()
    images = {}
    for name in ("a.png", "b.png"):
        image = rng.gamma(2.0, 20.0, (40, 50)).clip(0, 255).astype(np.uint8)
        image[:, :10] = 250  # a bright border the ROI leaves out
        iio.imwrite(folder / name, image)
        images[name] = image
    roi = np.zeros((40, 50), np.uint8)
    roi[5:35, 15:45] = 255
    iio.imwrite(tmp_path / "roi.png", roi)
    return folder, images, roi > 0


def test_one_mask_file_for_every_input(tmp_path, cells):
    folder, images, roi = cells
    assert main(["batch", str(folder), "-o", str(tmp_path / "out"), "--mask", str(tmp_path / "roi.png")]) == 0
    for name, image in images.items():
        result = iio.imread(tmp_path / "out" / name)
        np.testing.assert_array_equal(result, equalize(image, mask=roi))
        np.testing.assert_array_equal(result, textbook_equalize(image, mask=roi))
        assert not np.array_equal(result, equalize(image))  # the border would have counted


def test_a_folder_of_masks_named_as_the_inputs(tmp_path, cells):
    folder, images, roi = cells
    masks = tmp_path / "masks"
    masks.mkdir()
    other = np.zeros_like(roi)
    other[:20] = True
    iio.imwrite(masks / "a_mask.png", roi.astype(np.uint8))
    iio.imwrite(masks / "b.tif", other.astype(np.uint8) * 7)
    assert main(["batch", str(folder), "-o", str(tmp_path / "out"), "--mask", str(masks)]) == 0
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "a.png"), equalize(images["a.png"], mask=roi))
    np.testing.assert_array_equal(iio.imread(tmp_path / "out" / "b.png"), equalize(images["b.png"], mask=other))


@pytest.mark.parametrize("make, message", [
    (lambda tmp, roi: iio.imwrite(tmp / "bad.png", np.ones((10, 10), np.uint8)), "(10, 10) pixels, the image's are"),
    (lambda tmp, roi: iio.imwrite(tmp / "bad.png", np.zeros(roi.shape, np.uint8)), "selects no pixel"),
    (lambda tmp, roi: (tmp / "bad.png").mkdir(), "no mask named a.png"),
])
def test_a_mask_that_cannot_serve_is_one_line_per_file(tmp_path, cells, capsys, make, message):
    folder, _, roi = cells
    make(tmp_path, roi)
    assert main(["batch", str(folder), "-o", str(tmp_path / "out"), "--mask", str(tmp_path / "bad.png")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "a.png").exists()


def test_masks_inside_an_input_folder_are_not_images_to_do(tmp_path, cells):
    folder, _, roi = cells
    (folder / "masks").mkdir()
    iio.imwrite(folder / "masks" / "a.png", roi.astype(np.uint8) * 255)
    iio.imwrite(folder / "masks" / "b.png", roi.astype(np.uint8) * 255)
    assert main(["batch", str(folder), "-r", "-o", str(tmp_path / "out"), "--mask", str(folder / "masks")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.png")) == ["a.png", "b.png"]
    assert iio.imread(folder / "masks" / "a.png").max() == 255  # read, never written


def test_a_model_is_fitted_with_masks_and_batch_refuses_both(tmp_path, cells, capsys):
    folder, images, roi = cells
    model = tmp_path / "model.npz"
    assert main(["fit", *(str(folder / name) for name in images), "-o", str(model),
                 "--mask", str(tmp_path / "roi.png")]) == 0
    expected = fit_equalization_pooled(list(images.values()), masks=[roi, roi])
    np.testing.assert_array_equal(load_model(model).lut, expected.lut)
    header = json.loads(bytes(np.load(model)["header"]).decode())  # the file's JSON header, read as documented
    assert [entry["mask_pixels"] for entry in header["provenance"]["inputs"]] == [int(roi.sum())] * 2
    assert main(["batch", str(folder), "-o", str(tmp_path / "out"), "--model", str(model),
                 "--mask", str(tmp_path / "roi.png")]) == 2
    assert "--mask chooses the pixels a fit counts" in capsys.readouterr().err


def test_a_nifti_body_mask_for_a_ct(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    from napari_histeq import ct_phantom
    from napari_histeq._medical.samples import write_nifti_volume

    hu = ct_phantom((6, 40, 48))
    body = hu > -500  # air outside the body left out
    write_nifti_volume(tmp_path / "ct.nii.gz", hu)
    (tmp_path / "masks").mkdir()
    write_nifti_volume(tmp_path / "masks" / "ct_mask.nii.gz", body.astype(np.int16), description="body")
    assert main(["batch", str(tmp_path / "ct.nii.gz"), "-o", str(tmp_path / "out"), "--mask",
                 str(tmp_path / "masks")]) == 0
    written = nibabel.load(str(tmp_path / "out" / "ct.nii.gz"))
    np.testing.assert_array_equal(np.asarray(written.dataobj).transpose(2, 1, 0), equalize(hu, mask=body))
    record = json.loads(written.header.extensions[0].get_content())
    assert record["mask"] == "ct_mask.nii.gz" and record["mask_pixels"] == int(body.sum())
