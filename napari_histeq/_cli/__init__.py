"""The ``napari-histeq`` console command.

``napari-histeq`` opens napari with the dark sample (or the files given) and
the Equalize Histogram widget docked; ``napari-histeq --headless`` equalises
them without a window, writes before/after images and prints before/after
statistics; ``napari-histeq batch`` equalises files and folders (``batch.py``); ``napari-histeq fit``
fits one model on many files (``fit.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from .._engine.backend import BACKENDS, backend_info
from .._inspect.plot import figure_from_panel, histogram_panel_data
from .._operations.settings import SCOPES
from .._samples import dark_xray
from .files import read_image, reader_messages, reader_said, write_whole
from .image import ImageFile
from .jobs import Options, describe_error, equalized
from .method_args import add_method_arguments, settings_from
from .safety import UnsafePlan, check_writes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-histeq",
        description="Histogram equalisation for microscopy and medical images. Opens napari with the "
                    "Equalize widget; --headless runs the demo without a window.",
        epilog="To equalise folders of images: napari-histeq batch --help; to fit one model on many: "
               "napari-histeq fit --help",
    )
    parser.add_argument("files", nargs="*", type=Path, help="images to open (default: the dark sample)")
    parser.add_argument("--headless", action="store_true", help="no window: equalise, write images, print statistics")
    parser.add_argument("-o", "--output", type=Path, default=Path("demo-output"), help="folder for --headless results")
    parser.add_argument("--scope", choices=SCOPES, default="layer", help="what one histogram spans")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--rgb-mode", choices=("channels", "value"), default="channels",
                        help="colour images: each channel, or the brightness only (hue kept); alpha is kept")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace results already in the output folder (input files are never replaced)")
    add_method_arguments(parser)
    parser.add_argument("--quit-after-ready", action="store_true", help=argparse.SUPPRESS)  # for tests
    parser.add_argument("--screenshot", type=Path, help=argparse.SUPPRESS)  # README: press Equalize, save, quit
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:
        from .batch import main_batch

        return main_batch(argv[1:])
    if argv[:1] == ["fit"]:
        from .fit import main_fit

        return main_fit(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings_from(args)  # a variant of the other method, a bad scope: said once, before any work
    except ValueError as error:
        return _error(str(error))
    if args.headless:
        return run_headless(args)
    return run_viewer(args)


def no_display() -> str | None:
    """Why no window can open here, or None: on Linux, Qt needs an X or Wayland display (or a platform
    chosen with QT_QPA_PLATFORM); without one it aborts the process with a list of its plugins.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def run_viewer(args) -> int:
    reason = no_display()
    if reason is not None:
        print(f"napari-histeq: {reason}; run 'napari-histeq --headless' to write the results and figures to "
              "files, or 'xvfb-run napari-histeq' for a virtual screen", file=sys.stderr)
        return 2
    try:
        import napari
    except ImportError:
        print("napari-histeq: napari is not installed; pip install 'napari-histeq[all]' "
              "or use --headless", file=sys.stderr)
        return 2
    from .._napari.window import arrange_first_view, layout_report, remembered_dock_areas, screenshot_after_equalize

    viewer = napari.Viewer(title="napari-histeq")
    if args.files:
        viewer.open([str(path) for path in args.files])
    else:
        viewer.open_sample("napari-histeq", "dark_xray")
    remembered = remembered_dock_areas()
    controls_dock, widget = viewer.window.add_plugin_dock_widget("napari-histeq", "Equalize Histogram")
    plots_dock, plots = viewer.window.add_plugin_dock_widget("napari-histeq", "Histogram and CDF")
    arrange_first_view(viewer, controls_dock, plots_dock, remembered)
    settings = settings_from(args)
    widget.methods.show(settings)
    widget.scope.value = args.scope
    widget.backend.value = args.backend
    if args.quit_after_ready or args.screenshot:
        import json

        from qtpy.QtCore import QTimer

        failed = []

        def report_and_close():
            try:
                if args.screenshot:
                    screenshot_after_equalize(viewer, widget, plots, args.screenshot)
                print(f"ready: layers={[layer.name for layer in viewer.layers]} widget={type(widget).__name__}")
                print(f"layout: {json.dumps(layout_report(viewer, controls_dock, plots_dock))}")
            except Exception:  # a test's or the docs' run: say why, and never leave the window open
                import traceback

                traceback.print_exc()
                failed.append(True)
            finally:
                viewer.close()

        QTimer.singleShot(200, report_and_close)  # once the window is shown and laid out
        napari.run()
        return 1 if failed else 0
    napari.run()
    return 0


def _result_names(paths) -> list[str]:
    """One name per input for its result files; inputs that share a stem keep their suffix too."""
    stems = [path.stem for path in paths]
    return [f"{path.stem}_{path.suffix.lstrip('.')}" if stems.count(path.stem) > 1 else path.stem for path in paths]


#: The files --headless writes per input, after its name; a 2D uint8 result is a PNG, others TIFF.
HEADLESS_RESULTS = ("_before.png", "_before.tif", "_equalized.png", "_equalized.tif", "_histograms.png")


def _error(message: str) -> int:
    print(f"napari-histeq: error: {message}", file=sys.stderr)
    return 2


def run_headless(args) -> int:
    """Equalise the sample or each file; the same safety rule and failure contract as ``batch``."""
    if args.output.exists() and not args.output.is_dir():
        return _error(f"-o {args.output}: exists and is not a folder")
    names = _result_names(args.files) if args.files else ["dark_xray"]
    planned = list(zip(names, args.files or [None]))
    writes = [(path or Path("the dark_xray sample"), args.output / f"{name}{tail}")
              for name, path in planned for tail in HEADLESS_RESULTS]
    try:
        check_writes(writes, args.files, replace_existing=args.overwrite, skip_option=False)
    except UnsafePlan as error:
        return _error(str(error))
    if args.backend == "auto":
        try:
            print(f"backend: {backend_info()}")
        except (ValueError, RuntimeError) as error:  # a bad NAPARI_HISTEQ_BACKEND
            return _error(f"{error}; or choose one with --backend numpy|cupy")
    else:
        print(f"backend: {args.backend} (--backend)")
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return _error(f"-o {args.output}: cannot create the folder: {error}")
    failed = []
    for name, path in planned:
        try:
            _equalize_file(args, name, path)
        except Exception as error:
            reason = str(error) if isinstance(error, _FileError) else f"{path}: {describe_error(error)}"
            print(f"napari-histeq: error: {reason}", file=sys.stderr)
            failed.append((path, reason))
    if failed:
        print(f"\n{len(planned) - len(failed)} of {len(planned)} files equalised; failed:", file=sys.stderr)
        for path, reason in failed:
            print(f"  {path}: {reason.split(': ', 1)[-1]}", file=sys.stderr)
        return 1
    return 0


class _FileError(Exception):
    """One input that could not be read, equalised or written (the message names it)."""


def _read(path):
    """``(image, what the reader said)``: the sample, or ``path`` read as ``batch`` reads it."""
    if path is None:
        return ImageFile(Path("dark_xray"), dark_xray(), "image"), []
    with reader_messages() as messages:
        try:
            return read_image(path, lazy_tiff_bytes=1 << 62), messages
        except Exception as error:
            raise _FileError(f"{path}: cannot read it as an image: {describe_error(error)}"
                             + reader_said(messages)) from None


def _write(path, target, write) -> None:
    """``write`` ``target`` whole (a temporary name, renamed when complete); a failure names both files."""
    try:
        write_whole(write, target)
    except OSError as error:
        raise _FileError(f"{path}: cannot write {target}: {error.strerror or error}") from None


def _equalize_file(args, name, path) -> None:
    import imageio.v3 as iio

    image, messages = _read(path)
    start = time.perf_counter()
    settings = settings_from(args)
    try:  # as batch runs it: the file's channels apart, the colour rules, alpha kept and never counted
        result = np.asarray(equalized(image, Options(settings, spacing=args.spacing))[0])
    except (TypeError, ValueError) as error:
        raise _FileError(f"{path}: {error}{reader_said(messages)}") from None
    for message in dict.fromkeys(messages):  # once each
        print(f"napari-histeq: note: {path}: {message}", file=sys.stderr)
    seconds = time.perf_counter() - start
    data = np.asarray(image.data)
    suffix = ".png" if data.dtype == np.uint8 and data.ndim - image.samples == 2 else ".tif"
    before, after = args.output / f"{name}_before{suffix}", args.output / f"{name}_equalized{suffix}"
    plots = args.output / f"{name}_histograms.png"
    for target, pixels in ((before, data), (after, result)):
        _write(path, target, lambda partial, pixels=pixels: iio.imwrite(partial, pixels, extension=suffix))
    method = settings.variant if settings.operation == "global" else f"{settings.operation} ({settings.variant})"
    grey = image.grey_alpha
    panel = histogram_panel_data(data[..., 0] if grey else data, result[..., 0] if grey else result,
                                 rgb=image.colour, title=f"{name}: {method}")
    _write(path, plots, lambda partial: figure_from_panel(panel, partial))
    kind = f"RGB{'A' if data.shape[-1] == 4 else ''} ({args.rgb_mode}), " if image.colour else ""
    kind = "grey and alpha (alpha kept), " if grey else kind
    print(f"\n{name}: {data.shape} {data.dtype}, {kind}{method}, {seconds * 1000:.1f} ms")
    print(format_stats_table(panel.before[0].stats, panel.after[0].stats))
    print(f"wrote {before}, {after} and {plots}")


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
