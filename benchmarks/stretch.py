"""Contrast stretch against OpenCV's passes, scikit-image and the NumPy (MONAI) formula, interleaved.

Rows of ``python -m benchmarks --only stretch``: uint8 and uint16 4096x4096 images
stretched with ImageJ's 0.35 % saturated (against scikit-image's
``rescale_intensity`` between the same percentiles, and against OpenCV's passes
for the same job: ``calcHist`` then ``LUT`` for uint8, ``calcHist`` then
``normalize`` for uint16), and a float32 image between the 1st and 99th
percentiles (against ``np.percentile`` and the arithmetic, as MONAI does it).
"""

from __future__ import annotations

import numpy as np

import napari_histeq as nh

from .robust import paired

CV2_PASSES = "cv2 passes (floor)"


def stretch_cases(quick: bool) -> dict:
    rng = np.random.default_rng(3)
    side = 512 if quick else 4096
    cases = {}
    for dtype, scale in ((np.uint8, 12.0), (np.uint16, 300.0)):
        image = rng.gamma(2.0, scale, (side, side)).clip(0, np.iinfo(dtype).max).astype(dtype)
        cases[f"stretch {np.dtype(dtype).name}"] = {"name": f"stretch {np.dtype(dtype).name} {side}x{side}, "
                                                            "saturated 0.35", "image": image}
    image = rng.gamma(2.0, 1.0, (side, side)).astype(np.float32)
    cases["stretch float32"] = {"name": f"stretch float32 {side}x{side}, percentiles 1-99", "image": image,
                                "float": True}
    return cases


def stretch_contenders(case) -> dict:
    image = case["image"]
    if case.get("float"):
        def monai():
            low, high = np.percentile(image, 1), np.percentile(image, 99)
            return np.clip((image - low) / (high - low), 0.0, 1.0)

        return {"napari-histeq (numpy)": lambda: nh.stretch_contrast(image, percentiles=(1, 99), backend="numpy"),
                "numpy percentile formula (MONAI)": monai, "image.copy() (floor)": image.copy}
    from skimage import exposure

    half = 0.35 / 2

    def skimage():
        return exposure.rescale_intensity(image, in_range=tuple(np.percentile(image, (half, 100 - half))))

    return {"napari-histeq (numpy)": lambda: nh.stretch_contrast(image, saturated=0.35, backend="numpy"),
            "skimage rescale_intensity": skimage, CV2_PASSES: _cv2_passes(image), "image.copy() (floor)": image.copy}


def _cv2_passes(image):
    import cv2

    levels = 256 if image.dtype == np.uint8 else 65536
    table = np.arange(256, dtype=np.uint8)

    def passes():
        cv2.calcHist([image], [0], None, [levels], [0, levels])
        if image.dtype == np.uint8:
            cv2.LUT(image, table)
        else:
            cv2.normalize(image, None, 0, 65535, cv2.NORM_MINMAX)

    return passes


def stretch_ratios(timings: dict, cases: dict) -> list[tuple[str, float, str]]:
    out = []
    for key in ("stretch uint8", "stretch uint16"):
        ours = timings[key]["napari-histeq (numpy)"]["median_ms"]
        name = cases[key]["name"]
        out.append(paired(f"{name}: ours / cv2 passes", timings[key], "napari-histeq (numpy)", CV2_PASSES, "<= 0.9"))
        out.append((f"{name}: skimage / ours", timings[key]["skimage rescale_intensity"]["median_ms"] / ours,
                    ">= 20"))
    key = "stretch float32"
    ours = timings[key]["napari-histeq (numpy)"]["median_ms"]
    out.append((f"{cases[key]['name']}: numpy formula / ours",
                timings[key]["numpy percentile formula (MONAI)"]["median_ms"] / ours, ">= 5"))
    return out
