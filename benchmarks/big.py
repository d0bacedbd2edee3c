"""Equalise a zarr volume on disk that is far larger than its chunks: time and peak memory.

    python -m benchmarks.big                 # ~1.5 GiB uint16 volume (48 x 4096 x 4096, 2 MiB chunks)
    python -m benchmarks.big --planes 4      # a small smoke run
    python -m benchmarks.big --json benchmarks/results/big-zarr.json

Each measurement runs in a fresh process that reads the input store and
writes the equalised volume to an output store, so the peak resident set
size (RSS) it reports is that of the equalisation alone; the baseline RSS of
the same process after its imports is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = """
import json, resource, sys, time
import numpy as np, dask.array as da, zarr
import napari_histeq as nh
source = zarr.open_array(sys.argv[1], mode="r")
axis = None if sys.argv[3] == "layer" else (-2, -1)
nh.equalize(np.asarray(source[0, :256, :256]))  # load the compiled kernels before measuring
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
start = time.perf_counter()
fitted = nh.fit_equalization(source, axis=axis)
fit_seconds = time.perf_counter() - start
da.to_zarr(fitted.apply(source), sys.argv[2], overwrite=True)
total = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"fit_s": fit_seconds, "total_s": total, "baseline_rss": baseline, "peak_rss": peak}))
"""


def make_volume(path: Path, planes: int, side: int, chunk: int):
    import zarr

    store = zarr.create_array(store=str(path), shape=(planes, side, side), chunks=(1, chunk, chunk),
                              dtype="uint16")
    rng = np.random.default_rng(0)
    for z in range(planes):
        store[z] = rng.gamma(2.0, 300.0, (side, side)).astype(np.uint16)
    return store


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.big", description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=48)
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        start = time.perf_counter()
        store = make_volume(folder / "in.zarr", args.planes, args.side, args.chunk)
        volume = store.nbytes
        chunk_bytes = args.chunk * args.chunk * 2
        print(f"wrote a {volume / 2**30:.2f} GiB uint16 volume {store.shape} in {chunk_bytes / 2**20:.0f} MiB "
              f"chunks ({store.nchunks} of them) in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        results = {"volume_bytes": volume, "chunk_bytes": chunk_bytes, "shape": list(store.shape), "runs": {}}
        for scope in ("layer", "plane"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder / "in.zarr"), str(folder / f"out-{scope}.zarr"), scope],
                capture_output=True, text=True, check=True,
            )
            run = json.loads(out.stdout)
            results["runs"][scope] = run
            extra = run["peak_rss"] - run["baseline_rss"]
            print(f"histogram of each {scope:5}: {run['total_s']:6.1f} s (fit {run['fit_s']:5.1f} s), "
                  f"{volume / run['total_s'] / 2**20:6.0f} MiB/s; peak RSS {run['peak_rss'] / 2**20:6.0f} MiB "
                  f"= baseline {run['baseline_rss'] / 2**20:.0f} + {extra / 2**20:.0f} MiB "
                  f"({extra / chunk_bytes:.0f} chunks, {100 * extra / volume:.1f}% of the volume)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
