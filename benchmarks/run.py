"""Side-by-side CPU timings of napari-histeq and its peers, run interleaved.

    python -m benchmarks            # the full run (4096x4096 images, a 32x2048x2048 stack)
    python -m benchmarks --quick    # a smoke run on small images
    python -m benchmarks --json benchmarks/results/cpu.json
    python -m benchmarks --load --layers --scaling   # threads: see benchmarks/threads.py

Each round runs every contender once, in a rotating order, so that load on
the machine spreads over all of them; the table gives medians with the
interquartile range, and ratios against the peer measured in the same run:
of the medians, of the best rounds and round by round (``robust``), 41
rounds unless ``--rounds`` says otherwise. The machine is described in the
JSON (CPU, caches, memory bandwidth). This is not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import napari_histeq as nh

from .adaptive import adaptive_cases, adaptive_contenders, adaptive_memory, adaptive_ratios, tile_memory_ratios
from .matching import matching_cases, matching_contenders, matching_ratios
from .medical import medical_cases, medical_contenders, medical_ratios
from .robust import as_ratio, machine_facts, paired, print_ratios
from .stages import stage_cases, stage_contenders, stage_findings
from .stretch import stretch_cases, stretch_contenders, stretch_ratios
from .study import study_cases, study_contenders, study_ratios
from .threads import busy_load, layers_table, print_layers, print_scaling, scaling_table, threading_facts


def naive_numpy(image, axis=None):
    """The obvious NumPy version: bincount, cumsum, take (one plane at a time for axis)."""
    if axis is not None:
        return np.stack([naive_numpy(plane) for plane in image])
    counts = np.bincount(image.ravel(), minlength=np.iinfo(image.dtype).max + 1)
    lut = np.round(np.cumsum(counts / image.size) * np.iinfo(image.dtype).max).astype(image.dtype)
    return np.take(lut, image)


def contenders(image, case):
    """Name -> zero-argument callable, for one benchmark case."""
    import cv2
    from skimage import exposure

    axis = (-2, -1) if case.get("per_plane") else None
    found = {"napari-histeq (numpy)": lambda: nh.equalize(image, axis=axis, backend="numpy")}
    if case.get("ours_only"):
        return found
    if case.get("small"):  # where fixed costs weigh most: against OpenCV alone
        return {**found, "cv2.equalizeHist": lambda: cv2.equalizeHist(image)}
    if nh.backend_info().name == "cupy":
        found["napari-histeq (cupy)"] = lambda: nh.equalize(image, axis=axis, backend="cupy")
    if image.dtype == np.uint8 and image.ndim == 2:
        found["cv2.equalizeHist"] = lambda: cv2.equalizeHist(image)
    if case.get("skimage", True):
        found["skimage equalize_hist"] = lambda: exposure.equalize_hist(image)
    if image.dtype.kind == "u":
        found["naive numpy"] = lambda: naive_numpy(image, axis)
    found["image.copy() (floor)"] = image.copy
    if case.get("into_out"):
        # The same work into a reused output array: no fresh pages for the system to zero.
        buffer = np.empty_like(image)
        found["napari-histeq (numpy) out="] = lambda: nh.equalize(image, backend="numpy", out=buffer)
        if image.dtype == np.uint8:
            found["cv2.equalizeHist dst="] = lambda: cv2.equalizeHist(image, dst=buffer)
        found["np.copyto (floor) out="] = lambda: np.copyto(buffer, image)
    return found


def make_cases(quick: bool):
    rng = np.random.default_rng(0)
    side, planes, plane_side = (512, 4, 256) if quick else (4096, 32, 2048)
    # 31 x 128: the uint16 image is 30 MiB, under glibc's 32 MiB ceiling for recycling freed blocks.
    below = side - side // 32
    dark8 = rng.gamma(2.0, 12.0, (side, side)).clip(0, 255).astype(np.uint8)
    dark16 = rng.gamma(2.0, 300.0, (side, side)).clip(0, 65535).astype(np.uint16)
    stack = rng.gamma(2.0, 12.0, (planes, plane_side, plane_side)).clip(0, 255).astype(np.uint8)
    floats = rng.gamma(2.0, 0.05, (side, side)).astype(np.float32)
    smaller = {f"u8 {n}": {"name": f"uint8 {n}x{n}", "image": dark8[:n, :n].copy(), "small": True}
               for n in ((256, 128) if quick else (1024, 512))}
    n = 128 if quick else 512
    return {
        "u8": {"name": f"uint8 {side}x{side}", "image": dark8, "into_out": True},
        **smaller,
        # the same small image with 2 ms between calls: the threads asleep and the caches cold at each
        "spaced": {"name": f"uint8 {n}x{n}, calls 2 ms apart", "image": dark8[:n, :n].copy(), "small": True,
                   "pause": 0.002},
        "u16": {"name": f"uint16 {side}x{side}", "image": dark16, "into_out": True},
        "stack": {"name": f"uint8 stack {planes}x{plane_side}x{plane_side}, global", "image": stack,
                  "skimage": False},
        "stack per plane": {"name": f"uint8 stack {planes}x{plane_side}x{plane_side}, per plane", "image": stack,
                            "per_plane": True, "skimage": False},
        "float32": {"name": f"float32 {side}x{side}", "image": floats},
        # Context for the uint16 / uint8 goal: the same pair just below the 32 MiB allocation cliff.
        "u8 below": {"name": f"uint8 {below}x{below} (below the cliff)", "image": dark8[:below, :below].copy(),
                     "ours_only": True},
        "u16 below": {"name": f"uint16 {below}x{below} (below the cliff)", "image": dark16[:below, :below].copy(),
                      "ours_only": True},
    }


def time_interleaved(functions: dict, rounds: int, sync=lambda: None, pause: float = 0.0) -> dict:
    """Median, quartiles and best round (ms) of each function, run in rotating order every round.

    ``sync`` waits for asynchronous work (a GPU) before each clock reading; ``pause`` seconds pass,
    untimed, before each call (calls far apart, as a program with other work between them makes them).
    """
    for function in functions.values():  # warm up: JIT, caches, page faults
        function()
    sync()
    samples = {name: [] for name in functions}
    names = list(functions)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            sync()
            if pause:
                time.sleep(pause)
            start = time.perf_counter()
            functions[name]()
            sync()
            samples[name].append(time.perf_counter() - start)
    return {
        name: {
            "median_ms": 1000 * float(np.median(times)),
            "q1_ms": 1000 * float(np.percentile(times, 25)),
            "q3_ms": 1000 * float(np.percentile(times, 75)),
            "min_ms": 1000 * float(np.min(times)),
            "rounds": len(times),
            "samples_ms": [round(1000 * t, 4) for t in times],  # round by round, for paired ratios
        }
        for name, times in samples.items()
    }


def peak_extra_memory(image, **options) -> int:
    """Peak bytes NumPy allocates while equalising (the output included)."""
    nh.equalize(image, backend="numpy", **options)  # warm
    tracemalloc.start()
    nh.equalize(image, backend="numpy", **options)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def compile_seconds() -> dict:
    """First call of the numba kernels in a fresh process: compiling, then loading the cache."""
    code = (
        "import time, numpy as np, napari_histeq as nh; "
        "a = np.arange(1 << 16, dtype=np.uint8); b = a.astype(np.uint16); "
        "m = np.ones(a.shape, bool); t = time.perf_counter(); "
        "nh.equalize(a); nh.equalize(b); nh.equalize(a, mask=m); "
        "print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        env.pop("NAPARI_HISTEQ_JIT", None)
        runs = [
            float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                 check=True).stdout)
            for _ in range(2)
        ]
    return {"first_call_compiling_s": runs[0], "first_call_cached_s": runs[1]}


def machine(quick=False) -> dict:
    """The machine (``robust.machine_facts``: its bandwidth measured on full runs) and the versions timed."""
    import cv2
    import numba
    import skimage

    return {
        **machine_facts(bandwidth=not quick),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "opencv": cv2.__version__,
        "scikit-image": skimage.__version__,
        "napari-histeq": nh.__version__,
        "backend_auto": str(nh.backend_info()),
        "threads": threading_facts(),
    }


def ratios(timings: dict, u8_name: str, spaced_name: str) -> list[tuple[str, float, str]]:
    """The issue's goals as ratios of medians measured in this run (``timings``: case key -> timings)."""
    def median(key, name):
        return timings.get(key, {}).get(name, {}).get("median_ms")

    ours = "napari-histeq (numpy)"
    out = [paired(f"{u8_name}: ours / cv2.equalizeHist", timings["u8"], ours, "cv2.equalizeHist", "<= 0.85"),
           *(paired(f"uint8 {key[3:]}x{key[3:]}: ours / cv2.equalizeHist", timings[key], ours, "cv2.equalizeHist",
                    "<= 1.0") for key in timings if key.startswith("u8 ") and key != "u8 below"),
           paired(f"{spaced_name}: ours / cv2.equalizeHist", timings.get("spaced", {}), ours, "cv2.equalizeHist",
                  "<= 1.0"),
           paired(f"{u8_name} into out=: ours / cv2.equalizeHist", timings["u8"], ours + " out=",
                  "cv2.equalizeHist dst=", "context"),
           paired(f"{u8_name}: skimage / ours", timings["u8"], "skimage equalize_hist", ours, ">= 40")]
    out = [row for row in out if row is not None]
    pairs = [
        # The uint16 goal as ruled: compute only (both into a reused out=), and a fresh result
        # against a fresh copy of the same image (the system's cost of new pages is in both).
        ("ours into out=: uint16 / uint8", median("u16", ours + " out="), median("u8", ours + " out="), "<= 1.5"),
        ("ours uint16 / uint16 image.copy()", median("u16", ours), median("u16", "image.copy() (floor)"), "<= 2.5"),
        ("ours: uint16 / uint8 (fresh outputs)", median("u16", ours), median("u8", ours), "context"),
        ("ours below the 32 MiB cliff: uint16 / uint8", median("u16 below", ours), median("u8 below", ours),
         "context"),
        ("copy floor: uint16 / uint8 (bytes: 2)", median("u16", "image.copy() (floor)"),
         median("u8", "image.copy() (floor)"), "context"),
        ("copy floor into out=: uint16 / uint8", median("u16", "np.copyto (floor) out="),
         median("u8", "np.copyto (floor) out="), "context"),
        ("ours on the stack: per plane / global", median("stack per plane", ours), median("stack", ours), "<= 1.2"),
    ]
    for label, a, b, goal in pairs:
        if a is not None and b is not None:
            out.append((label, a / b, goal))
    return out


def print_table(results, extra):
    for case in results:
        print(f"\n{case['name']}")
        floor = case["timings"].get("image.copy() (floor)", {}).get("median_ms")
        for name, t in sorted(case["timings"].items(), key=lambda item: item[1]["median_ms"]):
            relative = f"{t['median_ms'] / floor:7.1f}x copy" if floor else ""
            print(f"  {name:34} {t['median_ms']:9.3f} ms  [{t['q1_ms']:8.3f} .. {t['q3_ms']:8.3f}]  {relative}")
    print_ratios(extra["ratios"])
    print("\nmemory: peak NumPy allocation during one call / output size")
    for label, value in extra["memory"].items():
        print(f"  {label:48} {value:7.2f}")
    if "compile" in extra:
        c = extra["compile"]
        print(f"\nnumba first call: {c['first_call_compiling_s']:.1f} s compiling, "
              f"{c['first_call_cached_s']:.2f} s from the cache")


def peer_tables(args, rounds) -> dict:
    """The side-by-side tables of the cases against their peers, with ratios and memory."""
    parts = set(args.only or ("equalize", "matching", "adaptive", "stretch", "medical", "study"))
    cases = make_cases(args.quick) if "equalize" in parts else {}
    timings = {}
    for key, case in cases.items():
        functions = contenders(case["image"], case)
        print(f"timing {case['name']} ({rounds} rounds)...", file=sys.stderr)
        timings[key] = time_interleaved(functions, rounds, pause=case.get("pause", 0.0))

    # (cases, their contenders, the most rounds a case may take: some peers take seconds a call)
    families = {
        "matching": (matching_cases, lambda key, case: matching_contenders(case)),
        "adaptive": (adaptive_cases, lambda key, case: adaptive_contenders(case)),
        "stretch": (stretch_cases, lambda key, case: stretch_contenders(case)),
        "medical": (medical_cases, medical_contenders),
        "stages": (stage_cases, lambda key, case: stage_contenders(case)),
        "study": (study_cases, study_contenders),
    }
    found_cases = {}
    for part, (cases_of, contenders_of) in families.items():
        found_cases[part] = cases_of(args.quick) if part in parts else {}
        for key, case in found_cases[part].items():
            case_rounds = min(rounds, case.get("rounds", rounds))
            print(f"timing {case['name']} ({case_rounds} rounds)...", file=sys.stderr)
            timings[key] = time_interleaved(contenders_of(key, case), case_rounds)
    matching, adaptive, stretch, medical, stages, study = (found_cases[part] for part in families)

    def memory(key, **options):
        image = cases[key]["image"]
        return peak_extra_memory(image, **options) / image.nbytes

    every = {**cases, **matching, **adaptive, **stretch, **medical, **study, **stages}
    found, peaks = [], {}
    if cases:
        found += ratios(timings, cases["u8"]["name"], cases["spaced"]["name"])
        peaks.update({cases["u8"]["name"]: memory("u8"), cases["u16"]["name"]: memory("u16"),
                      cases["stack per plane"]["name"]: memory("stack per plane", axis=(-2, -1))})
    if matching:
        found += matching_ratios(timings, matching)
    if stretch:
        found += stretch_ratios(timings, stretch)
    if medical:
        found += medical_ratios(timings, medical)
    if study:
        found += study_ratios(timings, study)
    if stages:
        found += stage_findings(timings, stages)
    if adaptive:
        found += adaptive_ratios(timings, adaptive) + tile_memory_ratios(args.quick)
        peaks.update(adaptive_memory(adaptive))
    return {"cases": [{"name": every[key]["name"], "timings": timings[key]} for key in every],
            "ratios": found, "memory": peaks}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small images, few rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds per case (default 41; 3 with --quick); some slow peers' cases take fewer")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--no-compile-time", action="store_true", help="skip measuring numba's first call")
    parser.add_argument("--load", type=int, nargs="?", const=os.cpu_count() or 1, default=0, metavar="N",
                        help="keep N other processes busy while timing (default N: one per core); "
                             "each stops by itself within 30 minutes")
    parser.add_argument("--layers", action="store_true",
                        help="time ours and cv2 under each numba threading layer installed (child processes)")
    parser.add_argument("--scaling", action="store_true", help="time ours on 1 core and on 2 (no added load)")
    parser.add_argument("--threads-only", action="store_true", help="skip the peer tables")
    parser.add_argument("--only", nargs="+",
                        choices=("equalize", "matching", "adaptive", "stretch", "medical", "study", "stages"),
                        help="time only these operations' rows against their peers (stages: where a uint8 "
                             "equalisation's time goes, only when named)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 41)
    child_rounds, child_calls, side = (1, 3, 512) if args.quick else (16, 5, 4096)

    info = machine(args.quick)
    results = {}
    with busy_load(args.load):
        if not args.threads_only:
            results.update(peer_tables(args, rounds))
        if args.layers:
            print("timing the threading layers...", file=sys.stderr)
            results["layers"] = layers_table(child_rounds, child_calls, side)
    if args.scaling:
        print("timing 1 core against 2...", file=sys.stderr)
        results["scaling"] = scaling_table(child_rounds, child_calls, side)
    if "cases" in results and not args.no_compile_time:
        results["compile"] = compile_seconds()

    threads = info["threads"]
    print(f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, numba {info['numba']}, "
          f"opencv {info['opencv']}, scikit-image {info['scikit-image']}")
    print(f"threads: ours {threads['kernel_threads']} (numba's threading layer unused); OpenMP runtime: "
          f"{threads['openmp_runtime'] or 'none'}; tbb: {threads['tbb'] or 'none'}; "
          f"added load: {args.load} busy processes")
    if "cases" in results:
        print_table(results["cases"], results)
        if args.quick:
            print("(--quick: small images and few rounds, a smoke run; the goals are for the full run)")
    if "layers" in results:
        print_layers(results["layers"], args.load)
    if args.scaling:
        print_scaling(results["scaling"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": info, "quick": args.quick, "load_processes": args.load, **results}
        if "ratios" in payload:
            payload["ratios"] = [as_ratio(row).as_json() for row in payload["ratios"]]
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
