"""variant="imagej" / "imagej-classic": bit-exact with ImageJ's own output.

The reference arrays were made by ImageJ itself (Debian's imagej package,
Process > Enhance Contrast > Equalize histogram, with and without Alt): see
tests/data/imagej/make_reference.py and equalize.ijm.
"""

from pathlib import Path

import numpy as np
import pytest

from napari_histeq import equalize

REFERENCE = np.load(Path(__file__).parent / "data" / "imagej" / "imagej_reference.npz")
CASES = sorted({key.split("/")[0] for key in REFERENCE.files if "/" in key})


def test_reference_covers_8_and_16_bit():
    dtypes = {REFERENCE[f"{case}/input"].dtype for case in CASES}
    assert dtypes == {np.dtype(np.uint8), np.dtype(np.uint16)}
    assert str(REFERENCE["imagej_version"]).startswith("1.")


@pytest.mark.parametrize("variant", ["imagej", "imagej-classic"])
@pytest.mark.parametrize("case", CASES)
def test_matches_imagej(case, variant):
    image = REFERENCE[f"{case}/input"]
    expected = REFERENCE[f"{case}/{variant}"]
    out = equalize(image, variant=variant)
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


def test_the_two_imagej_variants_differ():
    image = REFERENCE["u8_dark/input"]
    assert not np.array_equal(equalize(image, variant="imagej"), equalize(image, variant="imagej-classic"))
