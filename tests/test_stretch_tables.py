"""The contrast stretch's numba tables against its NumPy reference (itself checked against ImageJ's
outputs, MONAI's formula and pydicom's VOI window in ``test_stretch.py``), bit for bit.
"""

import numpy as np
import pytest

from napari_histeq import _kernels

pytest.importorskip("numba")
if _kernels.cpu_kernels() is None:
    pytest.skip(f"{_kernels.ENV_VAR} switches the kernels off: nothing to compare", allow_module_level=True)
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_histeq._engine.binning import binning_for
from napari_histeq._engine.transfer import tables_from_counts
from napari_histeq._kernels import cpu
from napari_histeq._stretch.transfer import StretchTransfer

OUTPUTS = [(np.uint8, 0, 255), (np.int8, -128, 127), (np.uint16, 0, 65535), (np.int16, -32768, 32767),
           (np.uint8, 10, 200), (np.int32, -5, 70000), (np.uint32, 0, 2**32 - 1)]


def transfers():
    imagej = st.builds(lambda s: StretchTransfer("imagej", saturated=s),
                       st.sampled_from([0.0, 0.35, 1.0, 10.0, 99.0, 100.0, 150.0, 200.0]) | st.floats(0, 200))
    percentile = st.builds(lambda low, high, clip: StretchTransfer("percentile", percentiles=(low, high), clip=clip),
                           st.sampled_from([0.0, 1.0, 2.5, 50.0, 100.0]) | st.floats(0, 100),
                           st.sampled_from([0.0, 50.0, 99.0, 99.9, 100.0]) | st.floats(0, 100), st.booleans())
    window = st.builds(lambda variant, centre, width: StretchTransfer(variant, window=(centre, width)),
                       st.sampled_from(["window", "window-exact"]),
                       st.sampled_from([-1000.5, -3.0, 0.0, 40.0, 127.5, 128.0, 250.0]) | st.floats(-300, 300),
                       st.sampled_from([0.25, 1.0, 1.5, 2.0, 7.0, 80.0, 400.0, 1e5]) | st.floats(0.01, 1e4))
    return imagej | percentile | window


def check(counts, transfer, dtype, out):
    binning = binning_for(dtype, None, None)
    out_dtype, lo, hi = out
    transfer = transfer.for_output(lo, hi)
    expected = tables_from_counts(counts, binning, transfer, lo, hi, out_dtype)
    tables = np.empty(counts.shape, out_dtype)
    cpu.stretch_tables(counts, transfer, binning.start, lo, hi, tables)
    np.testing.assert_array_equal(tables, expected)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), transfer=transfers(), dtype=st.sampled_from([np.uint8, np.int8]), out=st.sampled_from(OUTPUTS),
       groups=st.integers(1, 3))
def test_8bit_tables_are_the_reference_tables(data, transfer, dtype, out, groups):
    # sparse rows: flat images, one occupied level, empty groups, saturation meeting in the middle
    row = st.lists(st.sampled_from([0, 0, 0, 1, 2, 7, 1000]) | st.integers(0, 2**40), min_size=256, max_size=256)
    counts = np.array(data.draw(st.lists(row, min_size=groups, max_size=groups)), np.int64)
    check(counts, transfer, dtype, out)


@pytest.mark.parametrize("transfer", [StretchTransfer("imagej", saturated=0.35),
                                      StretchTransfer("imagej", saturated=0.0),
                                      StretchTransfer("percentile", percentiles=(1.0, 99.0)),
                                      StretchTransfer("percentile", percentiles=(0.175, 99.825), clip=False),
                                      StretchTransfer("window", window=(40.0, 400.0)),
                                      StretchTransfer("window-exact", window=(-600.0, 1500.0))])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
def test_16bit_tables_are_the_reference_tables(rng, transfer, dtype):
    levels = rng.gamma(2.0, 300.0, 200_000).astype(np.int64) + (0 if dtype == np.uint16 else -1024)
    counts = np.zeros((2, 65536), np.int64)
    np.add.at(counts[0], levels - np.iinfo(dtype).min, 1)
    counts[1, 40000] = 5  # a flat group: ImageJ leaves it, a percentile stretch shifts it
    for out in [(dtype, int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)), (np.uint8, 0, 255)]:
        check(counts, transfer, dtype, out)
    check(counts.astype(np.int32), transfer, dtype, (dtype, int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)))
