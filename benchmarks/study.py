"""A study fitted once and a saved model applied, against the same work in memory, interleaved.

Rows of ``python -m benchmarks --only study``: one equalisation fitted on 100
uint16 images of 2048x2048 (20 and 512x512 with ``--quick``) given as dask
arrays whose chunks count their own reads, so the row says how many times
each pixel was read (the goal: once); and a model read back from its file
applied against the same model never saved (the goal: at most 1.1x), with
the time of reading the file once more for each image as context (a study
reads it once).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

import napari_histeq as nh

_reads = {"pixels": 0}
_lock = threading.Lock()


def _counted_chunk(block):
    with _lock:
        _reads["pixels"] += block.size
    return block


def study_cases(quick: bool) -> dict:
    count, side = (20, 512) if quick else (100, 2048)
    rng = np.random.default_rng(5)
    base = rng.gamma(2.0, 400.0, (side, side)).astype(np.uint16)
    images = [np.roll(base, 37 * k, axis=k % 2) for k in range(count)]  # 100 distinct images, one allocation each
    folder = Path(tempfile.mkdtemp(prefix="napari-histeq-study-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    model = nh.fit_equalization_pooled(images[:4])
    path = model.save(folder / "model.npz")
    return {
        "fit": {"name": f"fit on {count} uint16 {side}x{side} images (dask, reads counted)", "images": images,
                "rounds": 3},
        "apply": {"name": f"apply a model to uint16 {side}x{side}", "image": images[-1], "model": model,
                  "path": path},
    }


def study_contenders(key, case) -> dict:
    if key == "fit":
        import dask.array as da

        images = case["images"]

        def fit():
            lazy = [da.from_array(image, chunks=(512, -1)).map_blocks(_counted_chunk, dtype=image.dtype)
                    for image in images]
            _reads["pixels"] = 0
            nh.fit_equalization_pooled(lazy)
            case["reads_per_pixel"] = _reads["pixels"] / sum(image.size for image in images)

        return {"napari-histeq (dask, one pass)": fit,
                "np.bincount of every image (floor)": lambda: [np.bincount(image.ravel(), minlength=65536)
                                                               for image in images]}
    image, model, path = case["image"], case["model"], case["path"]
    loaded = nh.load_model(path)
    return {"model in memory": lambda: model.apply(image),
            "model read from its file": lambda: loaded.apply(image),
            "load_model + apply (one file)": lambda: nh.load_model(path).apply(image)}


def study_ratios(timings: dict, cases: dict) -> list[tuple[str, float, str]]:
    def median(key, name):
        return timings[key][name]["median_ms"]

    return [
        (f"{cases['fit']['name']}: reads per pixel", float(cases["fit"].get("reads_per_pixel", np.nan)), "<= 1"),
        (f"{cases['apply']['name']}: read from its file / in memory",
         median("apply", "model read from its file") / median("apply", "model in memory"), "<= 1.1"),
        (f"{cases['apply']['name']}: load_model + apply / in memory",
         median("apply", "load_model + apply (one file)") / median("apply", "model in memory"), "context"),
    ]
