"""Nyúl and Udupa's standardisation against TorchIO's ``HistogramStandardization``: its training and its
``_normalize`` written out here from TorchIO's source (TorchIO itself needs PyTorch), and TorchIO's own tests
ported to this API.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_histeq import Standardization, fit_standardization, load_model


def torchio_percentiles(cutoff=(0.01, 0.99)):
    percentiles_cutoff = 100 * np.array(cutoff)
    return np.array(sorted(set(list(percentiles_cutoff) + [25, 50, 75] + list(range(10, 100, 10)))))


def torchio_train(arrays, masks=None, cutoff=(0.01, 0.99)):
    """``HistogramStandardization.train`` on arrays instead of files."""
    database = []
    for k, array in enumerate(arrays):
        mask = np.ones_like(array, dtype=bool) if masks is None else masks[k]
        database.append(np.percentile(array[mask], torchio_percentiles(cutoff)))
    database = np.vstack(database)
    pc1, pc2 = database[:, 0], database[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.nan_to_num((100 - 0) / (pc2 - pc1))
    intercepts = np.mean(0 - slopes * pc1)
    return slopes.dot(database) / len(database) + intercepts


def torchio_normalize(array, landmarks, mask=None):
    """TorchIO's ``_normalize``, its default cutoff."""
    data = array.reshape(-1).astype(np.float32)
    mask = np.ones_like(data, bool) if mask is None else mask.reshape(-1)
    use = [0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12]
    values = np.percentile(data[mask], torchio_percentiles())
    range_mapping, range_perc = landmarks[use], values[use]
    diff_mapping, diff_perc = np.diff(range_mapping), np.diff(range_perc)
    diff_perc[diff_perc < 1e-5] = np.inf
    affine = np.zeros([2, len(use) - 1])
    affine[0] = diff_mapping / diff_perc
    affine[1] = range_mapping[:-1] - affine[0] * range_perc[:-1]
    bin_id = np.digitize(data, range_perc[1:-1], right=False)
    return (affine[0, bin_id] * data + affine[1, bin_id]).reshape(array.shape).astype(np.float32)


@pytest.fixture
def study(rng):
    """Five MRI-like scans of three scanners' scales, a dark background around a head, and their head masks."""
    scans, masks = [], []
    for k in range(5):
        head = np.zeros((12, 40, 44), bool)
        head[2:10, 6:34, 8:36] = True
        scan = rng.gamma(1.5, 4.0, head.shape)  # background noise
        scan[head] = rng.gamma(6.0 + k, 20.0 * (1 + 0.3 * (k % 3)), head.sum())
        scans.append(scan.astype(np.float32 if k % 2 else np.int16))
        masks.append(head)
    return scans, masks


def test_training_is_torchio_s(study):
    scans, masks = study
    np.testing.assert_array_equal(fit_standardization(scans).landmarks, torchio_train(scans))
    np.testing.assert_array_equal(fit_standardization(scans, masks=masks).landmarks, torchio_train(scans, masks))
    # TorchIO's masking_function, HistogramStandardization.mean: voxels above the scan's mean
    by_mean = fit_standardization(scans, masks=lambda v: v > v.astype(np.float32).mean())
    np.testing.assert_array_equal(by_mean.landmarks,
                                  torchio_train(scans, [s > s.astype(np.float32).mean() for s in scans]))
    # one mask for every scan (TorchIO's single mask_path)
    np.testing.assert_array_equal(fit_standardization(scans, masks=masks[0]).landmarks,
                                  torchio_train(scans, [masks[0]] * 5))


def test_applying_is_torchio_s_normalize(study):
    scans, masks = study
    model = fit_standardization(scans, masks=masks)
    for scan, mask in zip(scans, masks):
        np.testing.assert_array_equal(model.apply(scan), torchio_normalize(scan, model.landmarks))
        np.testing.assert_array_equal(model.apply(scan, mask=mask),
                                      torchio_normalize(scan, model.landmarks, mask))


def test_torchio_s_landmarks_apply_as_they_are(study, tmp_path):
    # TorchIO's test_normalize and test_with_saved_array: landmarks np.linspace(0, 100, 13), saved as .npy
    scans, _ = study
    landmarks = np.linspace(0, 100, 13)
    np.save(tmp_path / "landmarks.npy", landmarks)
    model = Standardization(np.load(tmp_path / "landmarks.npy"))
    np.testing.assert_array_equal(model.apply(scans[0]), torchio_normalize(scans[0], landmarks))


def test_a_model_file_round_trip_is_bit_for_bit(study, tmp_path):
    scans, masks = study
    model = fit_standardization(scans, masks=masks, names=[f"sub-{k}" for k in range(5)])
    path = model.save(tmp_path / "t1_landmarks")
    loaded = load_model(path)
    assert isinstance(loaded, Standardization) and path.suffix == ".npz"
    np.testing.assert_array_equal(loaded.landmarks, model.landmarks)
    np.testing.assert_array_equal(loaded.apply(scans[2], mask=masks[2]), model.apply(scans[2], mask=masks[2]))
    inputs = loaded.provenance["inputs"]
    assert [entry["name"] for entry in inputs] == [f"sub-{k}" for k in range(5)]
    assert [entry["mask_pixels"] for entry in inputs] == [int(m.sum()) for m in masks]


def test_a_study_lands_on_one_scale(study):
    # what standardisation is for: the same tissue at the same value whatever the scanner's scale
    scans, masks = study
    model = fit_standardization(scans, masks=masks)
    medians = [np.median(model.apply(s, mask=m)[m]) for s, m in zip(scans, masks)]
    raw = [np.median(s[m]) for s, m in zip(scans, masks)]
    assert np.ptp(medians) < 0.05 * np.ptp(raw) + 1e-3
    assert all(abs(m - model.landmarks[6]) < 0.5 for m in medians)


def test_background_that_fills_the_low_landmarks_is_a_flat_segment(rng):
    scan = np.zeros((30, 30), np.float32)
    scan[10:20, 10:20] = rng.gamma(5.0, 30.0, (10, 10))  # 89% background: the low landmarks coincide at 0
    model = Standardization(np.linspace(0, 100, 13))
    out = model.apply(scan)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, torchio_normalize(scan, model.landmarks))


@given(values=st.lists(st.floats(-1e4, 1e4, width=32), min_size=20, max_size=200),
       landmarks=st.lists(st.floats(-100, 200), min_size=13, max_size=13))
@settings(max_examples=100, deadline=None)
def test_any_scan_and_any_landmarks_as_torchio(values, landmarks):
    scan = np.array(values, np.float32)
    landmarks = np.sort(np.array(landmarks))
    out = Standardization(landmarks).apply(scan)
    expected = torchio_normalize(scan, landmarks)
    np.testing.assert_array_equal(out, expected)
    order = np.argsort(scan, kind="stable")
    assert (np.diff(out[order].astype(np.float64)) >= -1e-3 * (1 + np.abs(out[order][1:]))).all()  # monotone


@pytest.mark.parametrize("call, message", [
    (lambda: fit_standardization([np.ones(4), np.ones(4)], masks=[None, None, None]), "3 masks for 2 scans"),
    (lambda: fit_standardization([]), "at least one scan"),
    (lambda: fit_standardization([np.ones(4)], masks=np.zeros(4, bool)), "selects no pixel"),
    (lambda: Standardization(np.linspace(0, 100, 12)), "13 landmarks"),
    (lambda: fit_standardization([np.ones(4)], cutoff=(0.1,)), "two quantiles"),
])
def test_what_cannot_be_fitted_is_one_clear_error(call, message):
    # TorchIO's test_bad_paths_lengths, and the other ways a fit cannot start
    with pytest.raises(ValueError, match=message):
        call()


def test_fit_and_apply_a_standardisation_on_the_command_line(study, tmp_path, capsys):
    import tifffile

    from napari_histeq._cli import main

    scans, masks = study
    (tmp_path / "scans").mkdir()
    (tmp_path / "masks").mkdir()
    for k, (scan, mask) in enumerate(zip(scans, masks)):
        tifffile.imwrite(tmp_path / "scans" / f"sub-{k}.tif", scan)
        tifffile.imwrite(tmp_path / "masks" / f"sub-{k}_mask.tif", mask.astype(np.uint8))
    inputs = [str(tmp_path / "scans" / f"sub-{k}.tif") for k in range(5)]
    model_path = tmp_path / "t1.npz"
    assert main(["fit", *inputs, "--method", "standardize", "--mask", str(tmp_path / "masks"),
                 "-o", str(model_path)]) == 0
    np.testing.assert_array_equal(load_model(model_path).landmarks, torchio_train(scans, masks))
    assert main(["batch", str(tmp_path / "scans"), "--model", str(model_path), "--mask", str(tmp_path / "masks"),
                 "-o", str(tmp_path / "out")]) == 0
    assert "5 of 5 files standardised" in capsys.readouterr().out
    for k, (scan, mask) in enumerate(zip(scans, masks)):
        result = tifffile.imread(tmp_path / "out" / f"sub-{k}.tif")
        np.testing.assert_array_equal(result, torchio_normalize(scan, torchio_train(scans, masks), mask))


def test_masked_arrays_and_xarray_keep_the_contract(study):
    xr = pytest.importorskip("xarray")
    scans, masks = study
    model = fit_standardization([np.ma.MaskedArray(s, mask=~m) for s, m in zip(scans, masks)])
    np.testing.assert_array_equal(model.landmarks, fit_standardization(scans, masks=masks).landmarks)
    masked = np.ma.MaskedArray(scans[0], mask=~masks[0])
    result = model.apply(masked)
    assert isinstance(result, np.ma.MaskedArray) and (result.mask == ~masks[0]).all()
    np.testing.assert_array_equal(result.data, model.apply(scans[0], mask=masks[0]))
    labelled = xr.DataArray(scans[1], dims=("z", "y", "x"), attrs={"modality": "T1"})
    out = model.apply(labelled)
    assert isinstance(out, xr.DataArray) and out.dims == ("z", "y", "x") and out.attrs["modality"] == "T1"
    np.testing.assert_array_equal(out.values, model.apply(scans[1]))
