"""GPU timings, side by side in one run: napari-histeq against plain CuPy, cuCIM and copies.

    python -m benchmarks.gpu                       # on a CUDA machine: 1 GiB and 4 GiB images
    python -m benchmarks.gpu --sizes 0.25          # smaller images (GiB)
    python -m benchmarks.gpu --json benchmarks/results/gpu-h200.json
    python -m benchmarks.gpu --dry-run             # the same harness on NumPy, to check the script

Device-resident: napari-histeq (CuPy in, CuPy out), plain CuPy (bincount,
cumsum, take with the textbook formula), cuCIM's equalize_hist when it is
installed, and a device-to-device copy of the same bytes. Host-resident
(the napari case): napari-histeq on a NumPy image with backend="cupy", against
plain host->device plus device->host copies of the same bytes. uint8 and
uint16; a uniform image and a dark one (at most 8 occupied levels). Ratios are
of medians measured in this run; nothing here asserts a time.

The other operations get rows too: adaptive equalisation (both variants) and
histogram matching on a dark 4096x4096 image, device-resident, against
cuCIM's ``equalize_adapthist`` and ``match_histograms`` when it is installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import napari_histeq as nh

from .run import time_interleaved


class Device:
    """The array module and how to time on it; ``dry_run`` stands NumPy in for CuPy."""

    def __init__(self, dry_run: bool):
        self.dry_run = dry_run
        if dry_run:
            self.xp = np
        else:
            import cupy

            self.xp = cupy

    def sync(self):
        if not self.dry_run:
            self.xp.cuda.runtime.deviceSynchronize()

    def to_device(self, host):
        return host.copy() if self.dry_run else self.xp.asarray(host)

    def to_host(self, device_array):
        return device_array.copy() if self.dry_run else device_array.get()

    def describe(self) -> dict:
        if self.dry_run:
            return {"device": "none (dry run on NumPy)", "cupy": None, "cuda_runtime": None}
        xp = self.xp
        props = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        runtime = xp.cuda.runtime.runtimeGetVersion()
        return {"device": name, "cupy": xp.__version__,
                "cuda_runtime": f"{runtime // 1000}.{runtime % 1000 // 10}",
                "memory_bytes": int(props["totalGlobalMem"])}


def make_image(xp_host, dtype, kind, n_pixels, seed=0):
    """A uniform image (every level equally likely) or a dark one (at most 8 levels)."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    if kind == "uniform":
        return rng.integers(0, top, n_pixels, dtype=dtype, endpoint=True)
    levels = np.array([0, 1, 2, 3, 5, 8, 13, 21], dtype=dtype)
    return levels[rng.integers(0, 8, n_pixels, dtype=np.uint8)]


def plain_equalize(xp, image):
    """The obvious array-module version: bincount, cumsum, take."""
    top = int(np.iinfo(image.dtype).max)
    counts = xp.bincount(image.ravel(), minlength=top + 1)
    lut = xp.round(xp.cumsum(counts / image.size) * top).astype(image.dtype)
    return xp.take(lut, image)


def contenders(device: Device, host_image):
    xp = device.xp
    on_device = device.to_device(host_image)
    found = {
        "napari-histeq (device)": lambda: nh.equalize(on_device, backend="numpy" if device.dry_run else "cupy"),
        "plain array ops": lambda: plain_equalize(xp, on_device),
        "device copy (floor)": lambda: on_device.copy(),
        "napari-histeq (host in/out)": lambda: nh.equalize(host_image, backend="numpy" if device.dry_run else "cupy"),
        "host->device->host copies": lambda: device.to_host(device.to_device(host_image)),
    }
    if not device.dry_run:
        try:
            from cucim.skimage.exposure import equalize_hist
        except ImportError:
            pass
        else:
            found["cuCIM equalize_hist"] = lambda: equalize_hist(on_device)
    return found


def operation_contenders(device: Device, side: int) -> dict:
    """CLAHE and matching on a dark image on the device, against cuCIM's where it is installed."""
    backend = "numpy" if device.dry_run else "cupy"
    rng = np.random.default_rng(3)
    dark = rng.gamma(2.0, 20.0, (side, side)).clip(0, 255)
    image8, image16 = device.to_device(dark.astype(np.uint8)), device.to_device((dark * 200).astype(np.uint16))
    reference = device.to_device(rng.gamma(3.0, 4000.0, (side // 2, side // 2)).clip(0, 65535).astype(np.uint16))
    rows = {
        f"CLAHE skimage uint8 {side}x{side}": {
            "napari-histeq (device)": lambda: nh.equalize_adapthist(image8, backend=backend)},
        f"CLAHE opencv uint8 {side}x{side}": {
            "napari-histeq (device)": lambda: nh.equalize_adapthist(image8, variant="opencv", clip_limit=2.0,
                                                                    backend=backend)},
        f"match uint16 {side}x{side}": {
            "napari-histeq (device)": lambda: nh.match_histograms(image16, reference, backend=backend)},
    }
    for name, timings in rows.items():
        timings["device copy (floor)"] = image16.copy if "uint16" in name else image8.copy
    if not device.dry_run:
        try:
            from cucim.skimage import exposure
        except ImportError:
            return rows
        rows[f"CLAHE skimage uint8 {side}x{side}"]["cuCIM equalize_adapthist"] = (
            lambda: exposure.equalize_adapthist(image8))
        rows[f"match uint16 {side}x{side}"]["cuCIM match_histograms"] = (
            lambda: exposure.match_histograms(image16, reference))
    return rows


def ratios(cases) -> list[dict]:
    """The issue's goals, as ratios of this run's medians."""
    out = []
    by_key = {(c["dtype"], c["kind"], c["gib"]): c["timings"] for c in cases}
    for (dtype, kind, gib), t in by_key.items():
        nbytes = gib * 2**30
        ours = t["napari-histeq (device)"]["median_ms"]
        copy = t["device copy (floor)"]["median_ms"]
        # effective bandwidth: histogram read + apply read + write = 3x the bytes; a copy moves 2x
        out.append({"case": f"{dtype} {kind} {gib:g} GiB", "ratio": "effective bandwidth / copy bandwidth",
                    "value": (3 * nbytes / ours) / (2 * nbytes / copy),
                    "goal": ">= 0.6" if dtype == "uint8" else ">= 0.4"})
        out.append({"case": f"{dtype} {kind} {gib:g} GiB", "ratio": "host-resident end to end / plain copies",
                    "value": (t["napari-histeq (host in/out)"]["median_ms"]
                              / t["host->device->host copies"]["median_ms"]),
                    "goal": "<= 1.25"})
        if kind == "dark":
            uniform = by_key.get((dtype, "uniform", gib))
            if uniform:
                out.append({"case": f"{dtype} {gib:g} GiB", "ratio": "dark / uniform time",
                            "value": ours / uniform["napari-histeq (device)"]["median_ms"], "goal": "<= 1.3"})
            for peer in ("plain array ops", "cuCIM equalize_hist"):
                if peer in t:
                    out.append({"case": f"{dtype} dark {gib:g} GiB", "ratio": f"{peer} / napari-histeq",
                                "value": t[peer]["median_ms"] / ours, "goal": ">= 5"})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=None, help="image sizes in GiB")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dry-run", action="store_true", help="run the harness on NumPy (no GPU needed)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    device = Device(args.dry_run)
    sizes = args.sizes or ([1 / 256] if args.dry_run else [1.0, 4.0])
    rounds = 3 if args.dry_run else args.rounds

    cases = []
    for gib in sizes:
        for dtype in (np.uint8, np.uint16):
            for kind in ("uniform", "dark"):
                n_pixels = int(gib * 2**30) // np.dtype(dtype).itemsize
                host_image = make_image(np, dtype, kind, n_pixels)
                name = f"{np.dtype(dtype).name} {kind} {gib:g} GiB"
                print(f"timing {name}...", file=sys.stderr)
                timings = time_interleaved(contenders(device, host_image), rounds, sync=device.sync)
                cases.append({"dtype": np.dtype(dtype).name, "kind": kind, "gib": gib, "timings": timings})
                del host_image
    info = device.describe()
    print(f"device: {info['device']}; cupy {info['cupy']}, CUDA runtime {info['cuda_runtime']}")
    for case in cases:
        nbytes = case["gib"] * 2**30
        print(f"\n{case['dtype']} {case['kind']} {case['gib']:g} GiB")
        for name, t in sorted(case["timings"].items(), key=lambda item: item[1]["median_ms"]):
            print(f"  {name:30} {t['median_ms']:10.2f} ms  [{t['q1_ms']:.2f} .. {t['q3_ms']:.2f}]  "
                  f"{nbytes / t['median_ms'] / 1e6:8.1f} GB/s of image")
    operations = []
    for name, functions in operation_contenders(device, 512 if args.dry_run else 4096).items():
        print(f"timing {name}...", file=sys.stderr)
        operations.append({"name": name, "timings": time_interleaved(functions, rounds, sync=device.sync)})
    for case in operations:
        print(f"\n{case['name']}")
        for name, t in sorted(case["timings"].items(), key=lambda item: item[1]["median_ms"]):
            print(f"  {name:30} {t['median_ms']:10.2f} ms  [{t['q1_ms']:.2f} .. {t['q3_ms']:.2f}]")
    goals = ratios(cases)
    for case in operations:
        peers = [name for name in case["timings"] if name.startswith("cuCIM")]
        for peer in peers:
            goals.append({"case": case["name"], "ratio": f"{peer} / napari-histeq", "goal": "context",
                          "value": case["timings"][peer]["median_ms"]
                          / case["timings"]["napari-histeq (device)"]["median_ms"]})
    print("\nratios (medians of this run)")
    for r in goals:
        print(f"  {r['case']:26} {r['ratio']:42} {r['value']:7.2f}   goal {r['goal']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "dry_run": args.dry_run, "cases": cases,
                                         "operations": operations, "ratios": goals}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
