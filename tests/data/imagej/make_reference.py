"""Regenerate ``imagej_reference.npz``: inputs and ImageJ's own equalised outputs.

Needs Debian's ``imagej`` package, ``xvfb-run`` and ``tifffile``::

    python tests/data/imagej/make_reference.py

It writes each input as TIFF, runs ``equalize.ijm`` in ImageJ (headless,
under a virtual X server) which applies Process > Enhance Contrast >
Equalize histogram, once plain and once with Alt held (the classic
variant), and packs inputs and outputs into one ``.npz``. The tests compare
napari-histeq with these arrays; nothing here uses napari-histeq.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile

HERE = Path(__file__).resolve().parent


def make_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261124)
    y, x = np.mgrid[0:48, 0:64]
    return {
        "u8_dark": rng.gamma(2.0, 6.0, (48, 64)).clip(0, 255).astype(np.uint8),
        "u8_uniform": rng.integers(0, 256, (48, 64), dtype=np.uint8),
        "u8_gradient": ((x + y) * 2).astype(np.uint8),
        "u8_few_levels": rng.choice(np.array([3, 40, 41, 200], dtype=np.uint8), (48, 64)),
        "u8_constant": np.full((16, 16), 77, dtype=np.uint8),
        "u8_extremes": np.array([[0, 0, 255, 255, 128, 1]], dtype=np.uint8),
        "u16_dark12bit": rng.gamma(2.0, 300.0, (48, 64)).clip(0, 4095).astype(np.uint16),
        "u16_wide": rng.integers(0, 65536, (48, 64), dtype=np.uint16),
        "u16_sparse": rng.choice(np.array([10, 1000, 1001, 60000], dtype=np.uint16), (48, 64)),
    }


def main() -> int:
    inputs = make_inputs()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, image in inputs.items():
            tifffile.imwrite(tmp / f"{name}.tif", image)
        macro = (HERE / "equalize.ijm").read_text()
        macro = macro.replace("@DIR@", str(tmp) + "/").replace("@NAMES@", ",".join(inputs))
        (tmp / "run.ijm").write_text(macro)
        subprocess.run(
            ["xvfb-run", "-a", "java", "-jar", "/usr/share/java/ij.jar", "-batch", str(tmp / "run.ijm")],
            check=True,
            timeout=600,
        )
        arrays = {}
        for name, image in inputs.items():
            arrays[f"{name}/input"] = image
            arrays[f"{name}/imagej"] = tifffile.imread(tmp / f"{name}_imagej.tif")
            arrays[f"{name}/imagej-classic"] = tifffile.imread(tmp / f"{name}_imagej-classic.tif")
    return save(arrays, HERE / "imagej_reference.npz")


def save(arrays: dict, path: Path) -> int:
    """Pack the arrays with the version of the ImageJ that made them."""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "imagej"], check=False, capture_output=True, text=True
    ).stdout
    arrays["imagej_version"] = np.array(version or "unknown")
    np.savez_compressed(path, **arrays)
    print(f"wrote {len(arrays) - 1} arrays from ImageJ {version} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
