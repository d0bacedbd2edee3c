"""Threading runtimes, load and core counts: each timing runs in a child Python.

    python -m benchmarks --layers            # ours and cv2 under numba's workqueue, omp and tbb layers
    python -m benchmarks --layers --load     # the same with every core kept busy by other processes
    python -m benchmarks --scaling           # ours on 1 core and on 2 (CPU affinity)

A child is needed because numba's threading layer (``NUMBA_THREADING_LAYER``)
and the CPU affinity are fixed per process. The children of one table run in
rotating order, round after round, so that noise on the machine spreads over
all of them. Nothing here asserts a time.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import json
import os
import subprocess
import sys

import numpy as np

LAYERS = ("workqueue", "omp", "tbb")

#: Runs in the child: time ours (and cv2) on dark 4096x4096 images, print medians as JSON.
CHILD = """
import json, sys, time, numpy as np, cv2, napari_histeq as nh
calls, side = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
u8 = rng.gamma(2.0, 12.0, (side, side)).clip(0, 255).astype(np.uint8)
u16 = rng.gamma(2.0, 300.0, (side, side)).clip(0, 65535).astype(np.uint16)
o16 = np.empty_like(u16)
work = {"ours uint8": lambda: nh.equalize(u8, backend="numpy"), "cv2 uint8": lambda: cv2.equalizeHist(u8),
        "ours uint16": lambda: nh.equalize(u16, backend="numpy"),
        "ours uint16 out=": lambda: nh.equalize(u16, backend="numpy", out=o16)}
for f in work.values():
    f()
times = {name: [] for name in work}
for _ in range(calls):
    for name, f in work.items():
        t = time.perf_counter(); f(); times[name].append(time.perf_counter() - t)
import numba
@numba.njit(parallel=True)
def _touch(n):  # launches numba's layer after the timing, to report which one this process would get
    s = 0
    for i in numba.prange(n):
        s += i
    return s
_touch(10)
print(json.dumps({"times": times, "layer": numba.threading_layer()}))
"""


def openmp_runtime() -> str | None:
    """The OpenMP runtime library the system offers (numba's ``omp`` layer needs one), or None."""
    for name in ("gomp", "iomp5", "omp"):
        found = ctypes.util.find_library(name)
        if found:
            return found
    return None


def tbb_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("tbb")
    except Exception:
        return None


def threading_facts() -> dict:
    """What the JSON records about threads: ours, and what numba would pick."""
    from napari_histeq._kernels.threads import num_threads

    return {
        "kernel_threads": num_threads(),
        "kernels_use_numba_threading_layer": False,
        "numba_threading_layer_setting": os.environ.get("NUMBA_THREADING_LAYER", "default"),
        "openmp_runtime": openmp_runtime(),
        "tbb": tbb_version(),
    }


@contextlib.contextmanager
def busy_load(processes: int, limit_s: float = 1800.0):
    """Keep ``processes`` other processes spinning on the CPU; each stops by itself after ``limit_s``."""
    code = f"import time\nend = time.time() + {limit_s}\nwhile time.time() < end:\n    pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(processes)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.terminate()
        for spinner in spinners:
            spinner.wait()


def _child(calls: int, side: int, env: dict | None = None, cpus: set | None = None) -> dict:
    environment = {**os.environ, **(env or {})}
    preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    result = subprocess.run([sys.executable, "-c", CHILD, str(calls), str(side)], env=environment,
                            capture_output=True, text=True, check=True, preexec_fn=preexec)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _interleaved(configs: dict, rounds: int, calls: int, side: int) -> dict:
    """Name -> {timing name -> samples}, the children run in rotating order each round."""
    samples = {name: {} for name in configs}
    layers = {}
    names = list(configs)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            found = _child(calls, side, **configs[name])
            layers[name] = found["layer"]
            for key, times in found["times"].items():
                samples[name].setdefault(key, []).extend(times)
    return samples, layers


def _medians(samples: dict) -> dict:
    return {name: {key: 1000 * float(np.median(times)) for key, times in timing.items()}
            for name, timing in samples.items()}


def layers_table(rounds: int, calls: int, side: int) -> dict:
    """Medians (ms) of ours and cv2 under each of numba's threading layers, and each / the best."""
    configs = {layer: {"env": {"NUMBA_THREADING_LAYER": layer}} for layer in LAYERS}
    # The tbb wheel puts libtbb.so.12 in the environment's lib/, where the loader of a venv does not look.
    library_path = os.pathsep.join(filter(None, [os.path.join(sys.prefix, "lib"), os.environ.get("LD_LIBRARY_PATH")]))
    configs["tbb"]["env"]["LD_LIBRARY_PATH"] = library_path
    if openmp_runtime() is None:
        configs.pop("omp")
    if tbb_version() is None:
        configs.pop("tbb")
    samples, loaded = _interleaved(configs, rounds, calls, side)
    medians = _medians(samples)
    best = {key: min(m[key] for m in medians.values()) for key in next(iter(medians.values()))}
    return {layer: {"loaded": loaded[layer], "median_ms": medians[layer],
                    "over_best": {key: medians[layer][key] / best[key] for key in best}}
            for layer in medians}


def scaling_table(rounds: int, calls: int, side: int) -> dict | None:
    """Medians (ms) on one core and on two (CPU affinity), and the ratio two / one."""
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    configs = {"1 core": {"cpus": {cpus[0]}}, "2 cores": {"cpus": set(cpus[:2])}}
    medians = _medians(_interleaved(configs, rounds, calls, side)[0])
    return {"median_ms": medians,
            "two_over_one": {key: medians["2 cores"][key] / medians["1 core"][key] for key in medians["1 core"]}}


def print_layers(table: dict, load: int) -> None:
    load_text = f"{load} busy processes" if load else "no added load"
    print(f"\nthreading layers ({load_text}): median ms, and / the best layer (goal <= 1.2 for ours)")
    for layer, row in table.items():
        cells = "  ".join(f"{key} {row['median_ms'][key]:7.2f} ({row['over_best'][key]:.2f})"
                          for key in row["median_ms"])
        print(f"  {layer:10} (numba loaded {row['loaded']:9})  {cells}")


def print_scaling(table: dict | None) -> None:
    if table is None:
        print("\nscaling: needs at least 2 cores this process may use")
        return
    print("\nscaling: median ms on 1 core and on 2; ratio 2 cores / 1 core (goal <= 0.6 for ours)")
    for key, ratio in table["two_over_one"].items():
        one, two = table["median_ms"]["1 core"][key], table["median_ms"]["2 cores"][key]
        print(f"  {key:12} {one:7.2f} ms  {two:7.2f} ms   {ratio:.2f}")

