"""The numba CPU kernels against the plain NumPy reference path, bit for bit."""

import numpy as np
import pytest

from napari_histeq import _kernels, equalize, fit_equalization, histogram
from napari_histeq._engine.accel import MIN_KERNEL_ROW

pytest.importorskip("numba")
if _kernels.cpu_kernels() is None:
    pytest.skip(f"{_kernels.ENV_VAR} switches the kernels off: nothing to compare", allow_module_level=True)
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st

LEVEL_DTYPES = [np.uint8, np.int8, np.uint16, np.int16]
VARIANTS = ["standard", "opencv", "imagej", "imagej-classic"]


def reference(monkeypatch, func, *args, **kwargs):
    """Run ``func`` with the kernels switched off (the reference path)."""
    with monkeypatch.context() as patch:
        patch.setenv(_kernels.ENV_VAR, "0")
        return func(*args, **kwargs)


def dark(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    values = rng.gamma(1.2, 6.0, shape) + info.min + 3
    values.flat[::1013] = info.max  # a few saturated pixels
    return np.clip(values, info.min, info.max).astype(dtype)


def test_kernels_are_used_for_long_rows():
    assert _kernels.cpu_kernels() is not None
    assert 140 * 140 >= MIN_KERNEL_ROW


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("axis", [None, (-2, -1)], ids=["pooled", "planes"])
@pytest.mark.parametrize("dtype", LEVEL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_equalize_matches_the_reference(monkeypatch, dtype, axis, variant):
    stack = dark(dtype, (3, 140, 141))
    expected = reference(monkeypatch, equalize, stack, axis=axis, variant=variant)
    np.testing.assert_array_equal(equalize(stack, axis=axis, variant=variant), expected)


@pytest.mark.parametrize("dtype", LEVEL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_masked_histogram_matches_the_reference(monkeypatch, dtype):
    stack = dark(dtype, (2, 150, 150))
    roi = np.zeros((150, 150), bool)
    roi[20:120, 30:100] = True
    counts, _ = histogram(stack, mask=roi, axis=(-2, -1))
    expected, _ = reference(monkeypatch, histogram, stack, mask=roi, axis=(-2, -1))
    np.testing.assert_array_equal(counts, expected)
    np.testing.assert_array_equal(equalize(stack, mask=roi), reference(monkeypatch, equalize, stack, mask=roi))


@pytest.mark.parametrize("offset", [1, 3, 5])
def test_misaligned_and_odd_lengths(monkeypatch, offset):
    buffer = dark(np.uint8, (300 * 301 + 8,))
    image = buffer[offset : offset + 300 * 301 - offset].reshape(-1, 1)[:, 0]  # unaligned start, odd length
    assert image.ctypes.data % 8 != 0
    np.testing.assert_array_equal(histogram(image).counts, np.bincount(image, minlength=256))
    np.testing.assert_array_equal(equalize(image), reference(monkeypatch, equalize, image))


def test_big_endian_uint16(monkeypatch):
    image = dark(np.uint16, (200, 200)).astype(">u2")
    np.testing.assert_array_equal(equalize(image), reference(monkeypatch, equalize, image))


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(LEVEL_DTYPES),
    st.integers(MIN_KERNEL_ROW - 5, MIN_KERNEL_ROW + 40),
    st.sampled_from(VARIANTS),
    st.integers(0, 2**32 - 1),
)
def test_random_images_match_the_reference(dtype, size, variant, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    low = int(rng.integers(info.min, info.max))
    image = rng.integers(low, min(info.max, low + int(rng.integers(1, 3000))), size, endpoint=True).astype(dtype)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(_kernels.ENV_VAR, "0")
        expected = equalize(image, variant=variant)
    np.testing.assert_array_equal(equalize(image, variant=variant), expected)


@pytest.mark.parametrize("axis", [None, (-2, -1)], ids=["pooled", "planes"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, ">f4"], ids=["float32", "float64", "big-endian"])
def test_float_kernels_match_the_reference(monkeypatch, dtype, axis):
    rng = np.random.default_rng(3)
    stack = rng.gamma(2.0, 0.05, (2, 140, 141)).astype(dtype)
    stack.flat[::977] = np.nan
    stack.flat[5], stack.flat[6] = np.inf, -np.inf
    roi = np.zeros(stack.shape[-2:], bool)
    roi[10:100, 20:90] = True
    for options in ({}, {"nbins": 1000}, {"mask": roi}, {"out_range": "image"}, {"variant": "imagej"}):
        expected = reference(monkeypatch, equalize, stack, axis=axis, **options)
        np.testing.assert_array_equal(equalize(stack, axis=axis, **options), expected)
        counts, edges = histogram(stack, axis=axis, **{k: v for k, v in options.items() if k in ("nbins", "mask")})
        ref_counts, ref_edges = reference(monkeypatch, histogram, stack, axis=axis,
                                          **{k: v for k, v in options.items() if k in ("nbins", "mask")})
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_array_equal(edges, ref_edges)


def test_odd_row_lengths_and_shared_tables(monkeypatch):
    stack = dark(np.uint8, (3, 129, 131))  # odd rows: no pair tables
    fitted = reference(monkeypatch, fit_equalization, stack[0])
    np.testing.assert_array_equal(fitted.apply(stack), reference(monkeypatch, fitted.apply, stack))


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.lists(st.integers(0, 2**40), min_size=256, max_size=256), min_size=1, max_size=3),
    out=st.sampled_from([(np.uint8, 0, 255), (np.int8, -128, 127), (np.uint16, 0, 65535),
                         (np.int16, -32768, 32767), (np.uint8, 10, 200), (np.uint32, 0, 2**32 - 1)]),
    empty_tail=st.integers(0, 255),
)
def test_standard_tables_match_the_reference_transfer(counts, out, empty_tail):
    from napari_histeq._engine.transfer import lut_from_values
    from napari_histeq._equalization.variants import standard_values
    from napari_histeq._kernels import cpu

    dtype, lo, hi = out
    counts = np.array(counts, dtype=np.int64)
    counts[:, counts.shape[1] - empty_tail :] = 0
    counts[:, 0] += 1  # every group counts a pixel
    expected = lut_from_values(standard_values(counts, hi - lo, True), lo, hi, dtype)
    tables = np.empty(counts.shape, dtype)
    cpu.standard_tables(counts, lo, hi, tables)
    np.testing.assert_array_equal(tables, expected)
    if counts.max() < 2**31:  # int32 counts (planes counted one task each) give the same tables
        narrow = np.empty(counts.shape, dtype)
        cpu.standard_tables(counts.astype(np.int32), lo, hi, narrow)
        np.testing.assert_array_equal(narrow, expected)


def test_standard_tables_on_a_rounding_tie():
    # In exact arithmetic 255 * cdf hits x.5 at four bins; the float64 running sum decides
    # which way each goes (77 and 229 where exact half-to-even would give 76 and 230).
    from napari_histeq._engine.transfer import lut_from_values
    from napari_histeq._equalization.variants import standard_values
    from napari_histeq._kernels import cpu

    counts = np.bincount([3, 2, 4, 5, 5, 6, 5, 2, 0, 3], minlength=256)[None]
    tables = np.empty(counts.shape, np.uint8)
    cpu.standard_tables(counts, 0, 255, tables)
    assert list(tables[0, :7]) == [26, 26, 77, 128, 153, 229, 255]
    np.testing.assert_array_equal(tables, lut_from_values(standard_values(counts, 255, True), 0, 255, np.uint8))


@pytest.mark.parametrize("dtype", LEVEL_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", VARIANTS)
def test_word_aligned_planes_counted_in_one_launch_match_the_reference(monkeypatch, dtype, variant):
    from napari_histeq._kernels import cpu

    stack = dark(dtype, (5, 128, 128), seed=3)  # rows of 128*128: every plane starts on a word
    stack[1] = stack[1] // 3  # planes that differ
    rows = stack.reshape(5, -1).view(f"u{np.dtype(dtype).itemsize}")
    wide, narrow = cpu.level_counts_rows(rows), cpu.level_counts_rows(rows, narrow=True)
    assert wide is not None  # the one-launch path runs
    assert wide.dtype == np.int64 and narrow.dtype == (np.int32 if stack.itemsize == 2 else np.int64)
    np.testing.assert_array_equal(narrow, wide)
    expected = reference(monkeypatch, equalize, stack, axis=(-2, -1), variant=variant)
    np.testing.assert_array_equal(equalize(stack, axis=(-2, -1), variant=variant), expected)
    counts, _ = histogram(stack, axis=(-2, -1))
    np.testing.assert_array_equal(counts, reference(monkeypatch, histogram, stack, axis=(-2, -1)).counts)
