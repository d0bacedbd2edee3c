"""Where the time of a global uint8 equalisation goes, stage by stage, beside OpenCV's own passes.

``python -m benchmarks --only stages`` times, interleaved round by round at
512x512, 1024x1024 and 4096x4096: our counting kernels against
``cv2.calcHist``, our table, our mapping (pair tables and gather) against
``cv2.LUT``, a fresh output's page faults (a copy into new memory against a
copy into reused memory), one hand-off of two tasks to the helper threads, and
the whole call of each. What the whole call costs beyond its stages timed
alone is the Python around them and the threads' waits. (The whole call of
one uint8 image runs the stages in one launch, ``_kernels.onepass``; the
stages alone are the general kernels.)
"""

from __future__ import annotations

import numpy as np

import napari_histeq as nh

OURS, CV2 = "napari-histeq equalize", "cv2.equalizeHist"


def stage_cases(quick: bool) -> dict:
    rng = np.random.default_rng(0)
    sides = (128, 256) if quick else (512, 1024, 4096)
    return {f"stages {side}": {"name": f"stages of uint8 {side}x{side}",
                               "image": rng.gamma(2.0, 12.0, (side, side)).clip(0, 255).astype(np.uint8)}
            for side in sides}


def stage_contenders(case) -> dict:
    import cv2

    from napari_histeq._kernels import cpu, spin
    from napari_histeq._kernels.threads import run_parallel

    image = case["image"]
    rows, flat = image.reshape(1, -1), image.reshape(-1)
    counts = cpu.level_counts(flat)[None]
    tables = np.empty((1, 256), np.uint8)
    reused = np.empty_like(image)
    lut = np.arange(256, dtype=np.uint8)
    half = flat[: flat.size // 2]
    cell = np.zeros(1, np.int64)
    return {
        OURS: lambda: nh.equalize(image, backend="numpy"),
        CV2: lambda: cv2.equalizeHist(image),
        "ours: count": lambda: cpu.level_counts(flat),
        "cv2.calcHist": lambda: cv2.calcHist([image], [0], None, [256], [0, 256]),
        "ours: table": lambda: cpu.standard_tables(counts, 0, 255, tables),
        "ours: map (reused output)": lambda: cpu.gather_rows(rows, tables, reused.reshape(1, -1)),
        "cv2.LUT (reused output)": lambda: cv2.LUT(image, lut, dst=reused),
        "copy into a fresh array": lambda: np.copyto(np.empty_like(image), image),
        "copy into a reused array": lambda: np.copyto(reused, image),
        # the same half-image count twice, one after the other and on two threads at once
        "count half, twice in a row": lambda: [cpu._counts_u8_words(half.view(np.uint64), _zeros())
                                               for _ in range(2)],
        "count half, two threads at once": lambda: run_parallel(cpu._counts_u8_words,
                                                                [(half.view(np.uint64), _zeros()) for _ in range(2)]),
        "empty hand-off (2 tasks)": lambda: run_parallel(spin.wait_while, [(cell, 1, 0)] * 2),
    }


def _zeros():
    return np.zeros((4, 256), np.int32)


def stage_findings(timings: dict, cases: dict) -> list[tuple[str, float, str]]:
    """Per size: the Python between our stages, the hand-off's cost and each stage against OpenCV's."""
    out = []
    for key, case in cases.items():
        t = {name: value["median_ms"] for name, value in timings[key].items()}
        side = case["image"].shape[0]
        stages = t["ours: count"] + t["ours: table"] + t["ours: map (reused output)"]
        out += [
            (f"{side}: ours / cv2.equalizeHist (whole call)", t[OURS] / t[CV2], "context"),
            (f"{side}: ours count / cv2.calcHist", t["ours: count"] / t["cv2.calcHist"], "context"),
            (f"{side}: ours map / cv2.LUT", t["ours: map (reused output)"] / t["cv2.LUT (reused output)"], "context"),
            (f"{side}: whole call less its stages timed alone (Python, waits), ms",
             t[OURS] - stages - t["copy into a fresh array"] + t["copy into a reused array"], "context"),
            (f"{side}: fresh output's page faults, ms", t["copy into a fresh array"] - t["copy into a reused array"],
             "context"),
            (f"{side}: two threads' gain on counting (1 thread / 2)",
             t["count half, twice in a row"] / t["count half, two threads at once"], "context"),
        ]
    return out
