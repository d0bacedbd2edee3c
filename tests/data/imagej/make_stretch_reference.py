"""Regenerate ``imagej_stretch.npz``: inputs and ImageJ's own *Enhance Contrast* (Normalize) outputs.

Needs Debian's ``imagej`` package, ``xvfb-run`` and ``tifffile``::

    python tests/data/imagej/make_stretch_reference.py

It writes each input as TIFF (8-bit, 16-bit and 32-bit float; 2D and stacks),
runs ``stretch.ijm`` in ImageJ headless, and packs inputs and outputs into one
``.npz``. The tests compare ``stretch_contrast`` with these arrays; nothing here
uses napari-histeq.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from make_reference import save

HERE = Path(__file__).resolve().parent
SATURATED = ("0.35", "0", "5")


def make_inputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(20261206)
    y, x = np.mgrid[0:48, 0:64]
    planes = {
        "u8_dark": rng.gamma(2.0, 6.0, (48, 64)).clip(0, 255).astype(np.uint8),
        "u8_gradient": ((x + y) * 2).astype(np.uint8),
        "u8_few_levels": rng.choice(np.array([3, 40, 41, 200], dtype=np.uint8), (48, 64)),
        "u8_constant": np.full((16, 16), 77, dtype=np.uint8),
        "u16_dark12bit": rng.gamma(2.0, 300.0, (48, 64)).clip(0, 4095).astype(np.uint16),
        "u16_wide": rng.integers(0, 65536, (48, 64), dtype=np.uint16),
        "u16_sparse": rng.choice(np.array([10, 1000, 1001, 60000], dtype=np.uint16), (48, 64)),
        "f32_gamma": rng.gamma(2.0, 1.5, (48, 64)).astype(np.float32),
        "f32_signed": rng.normal(-3.0, 40.0, (48, 64)).astype(np.float32),
    }
    fade = np.linspace(1.0, 0.4, 4)[:, None, None]
    stacks = {
        "u8_stack": (rng.gamma(3.0, 20.0, (4, 32, 40)) * fade).clip(0, 255).astype(np.uint8),
        "u16_stack": (rng.gamma(3.0, 500.0, (4, 32, 40)) * fade).clip(0, 65535).astype(np.uint16),
        "f32_stack": (rng.gamma(3.0, 2.0, (4, 32, 40)) * fade).astype(np.float32),
    }
    return planes, stacks


def main() -> int:
    planes, stacks = make_inputs()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, image in {**planes, **stacks}.items():
            axes = {"axes": "ZYX"} if image.ndim == 3 else {}  # a stack of slices, not channels
            tifffile.imwrite(tmp / f"{name}.tif", image, imagej=True, metadata=axes)
        macro = (HERE / "stretch.ijm").read_text()
        macro = (macro.replace("@DIR@", str(tmp) + "/").replace("@NAMES@", ",".join(planes))
                 .replace("@STACKS@", ",".join(stacks)))
        (tmp / "run.ijm").write_text(macro)
        subprocess.run(["xvfb-run", "-a", "java", "-jar", "/usr/share/java/ij.jar", "-batch", str(tmp / "run.ijm")],
                       check=True, timeout=600)
        arrays = {}
        for name, image in planes.items():
            arrays[f"{name}/input"] = image
            for saturated in SATURATED:
                arrays[f"{name}/saturated={saturated}"] = tifffile.imread(tmp / f"{name}_s{saturated}.tif")
        for name, image in stacks.items():
            arrays[f"{name}/input"] = image
            arrays[f"{name}/slices"] = tifffile.imread(tmp / f"{name}_slices.tif")
            arrays[f"{name}/stack"] = tifffile.imread(tmp / f"{name}_stack.tif")
    return save(arrays, HERE / "imagej_stretch.npz")


if __name__ == "__main__":
    sys.exit(main())
