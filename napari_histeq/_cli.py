"""The ``napari-histeq`` console command.

``napari-histeq --headless`` equalises the built-in dark sample (or the
files given) without a window, writes before/after images and prints
before/after statistics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._backend import backend_info
from ._equalize import equalize
from ._samples import dark_xray
from ._stats import histogram_stats
from ._validate import VARIANTS

SCOPES = {"layer": None, "plane": (-2, -1), "volume": (-3, -2, -1)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-histeq",
        description="Histogram equalisation for microscopy and medical images.",
    )
    parser.add_argument("files", nargs="*", type=Path, help="images to open (default: the dark sample)")
    parser.add_argument("--headless", action="store_true", help="no window: equalise, write images, print statistics")
    parser.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="folder for --headless results")
    parser.add_argument("--variant", choices=VARIANTS, default="standard")
    parser.add_argument("--scope", choices=sorted(SCOPES), default="layer", help="what one histogram spans")
    parser.add_argument("--backend", choices=("auto", "numpy", "cupy"), default="auto")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.headless:
        return run_headless(args)
    print("napari-histeq: the napari window needs --headless until the plugin lands", file=sys.stderr)
    return 2


def run_headless(args) -> int:
    import imageio.v3 as iio

    args.output.mkdir(parents=True, exist_ok=True)
    inputs = [(path.stem, iio.imread(path)) for path in args.files] or [("dark_xray", dark_xray())]
    print(f"backend: {backend_info()}")
    for name, image in inputs:
        start = time.perf_counter()
        result = equalize(image, variant=args.variant, axis=SCOPES[args.scope], backend=args.backend)
        seconds = time.perf_counter() - start
        suffix = ".png" if image.dtype == np.uint8 and image.ndim == 2 else ".tif"
        before, after = args.output / f"{name}_before{suffix}", args.output / f"{name}_equalized{suffix}"
        iio.imwrite(before, image)
        iio.imwrite(after, result)
        print(f"\n{name}: {image.shape} {image.dtype}, variant={args.variant}, {seconds * 1000:.1f} ms")
        print(format_stats_table(histogram_stats(image), histogram_stats(result)))
        print(f"wrote {before} and {after}")
    return 0


def format_stats_table(before, after) -> str:
    rows = [
        ("mean", "{:.1f}"),
        ("std", "{:.1f}"),
        ("entropy_bits", "{:.3f}"),
        ("occupied_levels", "{:d}"),
        ("ks_uniform", "{:.3f}"),
    ]
    lines = [f"  {'':16}{'before':>10}{'after':>10}"]
    for field, fmt in rows:
        lines.append(
            f"  {field:16}{fmt.format(getattr(before, field)):>10}{fmt.format(getattr(after, field)):>10}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
