"""The ``napari-histeq`` console command.

``napari-histeq`` opens napari with the dark sample (or the files given) and
the Equalize Histogram widget docked; ``napari-histeq --headless`` equalises
them without a window, writes before/after images and prints before/after
statistics.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._backend import backend_info
from ._equalize import equalize
from ._layer import SCOPES, scope_axis
from ._plot import figure_from_panel, histogram_panel_data
from ._samples import dark_xray
from ._validate import VARIANTS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-histeq",
        description="Histogram equalisation for microscopy and medical images.",
    )
    parser.add_argument("files", nargs="*", type=Path, help="images to open (default: the dark sample)")
    parser.add_argument("--headless", action="store_true", help="no window: equalise, write images, print statistics")
    parser.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="folder for --headless results")
    parser.add_argument("--variant", choices=VARIANTS, default="standard")
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="what one histogram spans")
    parser.add_argument("--backend", choices=("auto", "numpy", "cupy"), default="auto")
    parser.add_argument("--quit-after-ready", action="store_true", help=argparse.SUPPRESS)  # for tests
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.headless:
        return run_headless(args)
    return run_viewer(args)


def run_viewer(args) -> int:
    try:
        import napari
    except ImportError:
        print("napari-histeq: napari is not installed; pip install 'napari-histeq[all]' "
              "or use --headless", file=sys.stderr)
        return 2
    viewer = napari.Viewer(title="napari-histeq")
    if args.files:
        viewer.open([str(path) for path in args.files])
    else:
        viewer.open_sample("napari-histeq", "dark_xray")
    _, widget = viewer.window.add_plugin_dock_widget("napari-histeq", "Equalize Histogram")
    viewer.window.add_plugin_dock_widget("napari-histeq", "Histogram and CDF")
    widget.variant.value = args.variant
    widget.scope.value = args.scope
    widget.backend.value = args.backend
    if args.quit_after_ready:
        from qtpy.QtCore import QTimer

        def report_and_close():
            print(f"ready: layers={[layer.name for layer in viewer.layers]} widget={type(widget).__name__}")
            viewer.close()

        QTimer.singleShot(0, report_and_close)
    napari.run()
    return 0


def run_headless(args) -> int:
    import imageio.v3 as iio

    args.output.mkdir(parents=True, exist_ok=True)
    inputs = [(path.stem, iio.imread(path)) for path in args.files] or [("dark_xray", dark_xray())]
    if args.backend == "auto":
        try:
            print(f"backend: {backend_info()}")
        except (ValueError, RuntimeError) as error:  # a bad NAPARI_HISTEQ_BACKEND
            print(f"napari-histeq: error: {error}; or choose one with --backend numpy|cupy", file=sys.stderr)
            return 2
    else:
        print(f"backend: {args.backend} (--backend)")
    for name, image in inputs:
        start = time.perf_counter()
        axis = scope_axis(args.scope, image.ndim)
        result = equalize(image, variant=args.variant, axis=axis, backend=args.backend)
        seconds = time.perf_counter() - start
        suffix = ".png" if image.dtype == np.uint8 and image.ndim == 2 else ".tif"
        before, after = args.output / f"{name}_before{suffix}", args.output / f"{name}_equalized{suffix}"
        iio.imwrite(before, image)
        iio.imwrite(after, result)
        plots = args.output / f"{name}_histograms.png"
        panel = histogram_panel_data(image, result, title=f"{name}: {args.variant}")
        figure_from_panel(panel, plots)
        print(f"\n{name}: {image.shape} {image.dtype}, variant={args.variant}, {seconds * 1000:.1f} ms")
        print(format_stats_table(panel.before[0].stats, panel.after[0].stats))
        print(f"wrote {before}, {after} and {plots}")
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
