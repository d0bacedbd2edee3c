"""Adaptive equalisation (CLAHE) against OpenCV and scikit-image, interleaved in the same run.

Rows of ``python -m benchmarks``: the opencv variant on uint8 and uint16
4096x4096 images (tile grid 8x8, clip limit 2) against
``cv2.createCLAHE(...).apply``, and the skimage variant on a uint8
64x256x256 volume and a uint8 4096x4096 image against
``skimage.exposure.equalize_adapthist``; then the peak memory each of ours
allocates, as a multiple of its output; and, for a grid of many tiles, the peak
resident memory of ours and of OpenCV, each in a fresh process.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np

import napari_histeq as nh


def adaptive_cases(quick: bool) -> dict:
    rng = np.random.default_rng(2)
    side, volume = (512, (16, 64, 64)) if quick else (4096, (64, 256, 256))
    dark = rng.gamma(2.0, 20.0, (side, side)).clip(0, 255)
    return {
        "clahe opencv uint8": {"name": f"CLAHE opencv uint8 {side}x{side}", "variant": "opencv",
                               "image": dark.astype(np.uint8)},
        "clahe opencv uint16": {"name": f"CLAHE opencv uint16 {side}x{side}", "variant": "opencv",
                                "image": (dark * 200).astype(np.uint16)},
        "clahe skimage volume": {"name": "CLAHE skimage uint8 " + "x".join(map(str, volume)), "variant": "skimage",
                                 "image": rng.gamma(2.0, 20.0, volume).clip(0, 255).astype(np.uint8)},
        "clahe skimage 2d": {"name": f"CLAHE skimage uint8 {side}x{side}", "variant": "skimage",
                             "image": dark.astype(np.uint8)},
    }


def _ours(case):
    image = case["image"]
    if case["variant"] == "opencv":
        return lambda: nh.equalize_adapthist(image, variant="opencv", clip_limit=2.0, tile_grid=(8, 8),
                                             backend="numpy")
    return lambda: nh.equalize_adapthist(image, backend="numpy")


def adaptive_contenders(case) -> dict:
    image = case["image"]
    if case["variant"] == "opencv":
        import cv2

        clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        peer = {"cv2 createCLAHE": lambda: clahe.apply(image)}
    else:
        from skimage import exposure

        peer = {"skimage equalize_adapthist": lambda: exposure.equalize_adapthist(image)}
    return {"napari-histeq (numpy)": _ours(case), **peer, "image.copy() (floor)": image.copy}


def adaptive_ratios(timings: dict, cases: dict) -> list[tuple[str, float, str]]:
    out = []
    for key, peer, goal, ours_first in (("clahe opencv uint8", "cv2 createCLAHE", "<= 1.0", True),
                                        ("clahe opencv uint16", "cv2 createCLAHE", "<= 1.0", True),
                                        ("clahe skimage volume", "skimage equalize_adapthist", ">= 20", False),
                                        ("clahe skimage 2d", "skimage equalize_adapthist", ">= 20", False)):
        ours, theirs = timings[key]["napari-histeq (numpy)"]["median_ms"], timings[key][peer]["median_ms"]
        label = f"{cases[key]['name']}: " + ("ours / peer" if ours_first else "peer / ours")
        out.append((label, ours / theirs if ours_first else theirs / ours, goal))
    return out


def adaptive_memory(cases: dict) -> dict:
    """Peak bytes NumPy allocates during one call, as a multiple of the output's size."""
    out = {}
    for case in cases.values():
        run = _ours(case)
        run()  # warm
        tracemalloc.start()
        run()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[case["name"]] = peak / case["image"].nbytes
    return out


_PEAK = r"""
import sys
import numpy as np, cv2
import napari_histeq as nh

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

side, tiles = int(sys.argv[2]), int(sys.argv[3])
image = np.random.default_rng(0).integers(0, 65536, (side, side)).astype(np.uint16)
if sys.argv[1] == "cv2":
    run = lambda: cv2.createCLAHE(2.0, (tiles, tiles)).apply(image)
else:
    run = lambda: nh.equalize_adapthist(image, variant="opencv", clip_limit=2.0, tile_grid=(tiles, tiles))
nh.equalize_adapthist(image[:64, :64], variant="opencv", clip_limit=2.0, tile_grid=(2, 2))  # kernels loaded
open("/proc/self/clear_refs", "w").write("5")  # the high-water mark starts again here
before = status("VmRSS")
run()
print(status("VmHWM") - before)
"""


def tile_memory_ratios(quick: bool) -> list[tuple[str, float, str]]:
    """Peak resident memory above the process's level before the call, ours / OpenCV's, on a grid of
    many tiles (uint16: one 65536-level table per tile); Linux only.
    """
    side, tiles = (256, 16) if quick else (1024, 128)
    try:
        peaks = {who: int(subprocess.run([sys.executable, "-c", _PEAK, who, str(side), str(tiles)], check=True,
                                         capture_output=True, text=True).stdout) for who in ("ours", "cv2")}
    except (subprocess.CalledProcessError, ValueError, OSError):
        return []
    name = f"CLAHE opencv uint16 {side}x{side}, {tiles}x{tiles} tiles: peak memory ours / cv2 " \
           f"({peaks['ours'] / 2**20:.0f} / {peaks['cv2'] / 2**20:.0f} MiB)"
    return [(name, peaks["ours"] / peaks["cv2"], "<= 1.0")]
