"""``napari-histeq batch``: equalise files, folders and globs, keeping data and metadata safe.

Safety first: nothing is written over an input, ever; an existing result is
replaced only with ``--overwrite``; two inputs never share a result; each
result is written under a temporary name and renamed when complete, so an
interrupt leaves no partial file. A bad file is one line and the others
still run; the exit status says whether any failed.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .._engine.backend import BACKENDS
from .._equalization.colour import RGB_MODES
from .._matching.match import reference_of
from .._models.load import load_model_and_header
from .._operations.settings import SCOPES, Settings
from .._standardization.standardize import Standardization
from .files import clean_up_after, is_image_path, output_name, read_image
from .image import is_dicom_folder, is_zarr
from .jobs import Job, Options, Outcome, report, run_jobs, summary_table
from .method_args import add_method_arguments, settings_from
from .safety import UnsafePlan, check_writes
from .stopping import Stopped, exit_status, stop_on_signals

EXAMPLES = """examples:
  napari-histeq batch scans/ -o equalised/                 every image in scans/
  napari-histeq batch -r 'plates/**/*.tif' -o out/ -j 4    a glob, 4 files at a time
  napari-histeq batch stack.ome.tif --scope plane -o out/  each plane alone
  napari-histeq batch volume.zarr -o out/                  lazily, chunk by chunk
  napari-histeq batch cells/ --method adaptive --clip-limit 0.02 -o out/   CLAHE (scikit-image's)
  napari-histeq batch timelapse.tif --bleach histogram -o out/   bleach correction along T
  napari-histeq batch day2/ --match day1/ref.tif -o out/   each image matched to a reference
"""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_batch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-histeq batch", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Equalise the histogram of image files: TIFF (ImageJ, OME) in, TIFF out with its axes and "
                    "calibration; zarr in, zarr out, chunk by chunk; PNG in, PNG out; other formats as TIFF.")
    parser.add_argument("inputs", nargs="+", help="image files, folders and glob patterns (quote the patterns)")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="folder for the results (created); inputs from a folder keep their sub-folders")
    parser.add_argument("-r", "--recursive", action="store_true", help="look into sub-folders; '**' in globs")
    parser.add_argument("--scope", choices=SCOPES, default="layer",
                        help="what one histogram spans (a file's channels never share one)")
    parser.add_argument("--nbins", type=positive_int, help="bins for float and 32/64-bit images")
    parser.add_argument("--rgb-mode", choices=RGB_MODES, default="channels",
                        help="colour images: each channel, or the brightness only (hue kept); alpha is kept")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--model", type=Path, metavar="FILE",
                        help="apply a saved fit (napari-histeq fit, Equalization.save) to every file instead of "
                             "fitting each file: one table for all of them")
    parser.add_argument("--mask", type=Path, metavar="PATH",
                        help="count only these pixels (non-zero; a body, a brain, the cells): a mask file for "
                             "every input, or a folder of masks named as the inputs (scan.tif: scan.*, "
                             "scan_mask.*); every pixel is mapped")
    add_method_arguments(parser, other_operations=True)
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace results that exist (never an input)")
    existing.add_argument("--skip-existing", action="store_true", help="leave results that exist; do the rest")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would be written; write nothing")
    parser.add_argument("-j", "--jobs", type=positive_int, default=1, help="files at a time (processes)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only: no progress, no summary")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failure")
    return parser


def _model(path):
    """The saved fit ``--model`` names and what each result records of it (None, {} without one)."""
    if path is None:
        return None, {}
    model, header = load_model_and_header(path)
    record = {"model": Path(path).name, "model_operation": header.get("operation"),
              "model_variant": header.get("variant"), "model_created": header.get("created"),
              "model_provenance": header.get("provenance", {})}
    return model, record


class PlanError(Exception):
    """The run cannot start (nothing has been written)."""


def main_batch(argv) -> int:
    args = build_batch_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ValueError as error:
        print(f"napari-histeq batch: error: {error}", file=sys.stderr)
        return 2
    try:
        jobs, missing = plan(args)
    except PlanError as error:
        print(f"napari-histeq batch: error: {error}", file=sys.stderr)
        return 2
    skipped = []
    if args.skip_existing:
        skipped = [Outcome(job, "skipped", "exists") for job in jobs if job.target.exists()]
        jobs = [job for job in jobs if not job.target.exists()]
    if args.dry_run:
        return _dry_run(jobs, missing, skipped)
    try:
        settings = _with_reference(settings)
    except (OSError, TypeError, ValueError) as error:
        print(f"napari-histeq batch: error: --match {args.match}: {error}", file=sys.stderr)
        return 2
    if args.model is not None and (args.method or args.variant or args.match or args.bleach):
        print("napari-histeq batch: error: --model applies a saved fit; --method, --variant, --match and --bleach "
              "choose another operation", file=sys.stderr)
        return 2
    try:
        model, model_record = _model(args.model)
    except (OSError, ValueError) as error:
        print(f"napari-histeq batch: error: --model {args.model}: {error}", file=sys.stderr)
        return 2
    if model is not None and args.mask is not None and not isinstance(model, Standardization):
        print("napari-histeq batch: error: --mask chooses the pixels a fit counts; this --model's tables are "
              "fitted already (give --mask to napari-histeq fit)", file=sys.stderr)
        return 2
    options = Options(settings, args.debug, args.time_axis, model, model_record, args.spacing, args.mask)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"napari-histeq batch: error: -o {args.output}: cannot create the folder: {error.strerror or error}",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    outcomes = [Outcome(Job(path, Path()), "failed", reason) for path, reason in missing] + skipped
    for outcome in outcomes:
        report(outcome, args.quiet)
    try:
        with stop_on_signals():
            outcomes += run_jobs(jobs, options, jobs_at_once=args.jobs, quiet=args.quiet)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, SIGTERM or SIGHUP: the workers have stopped
        for job in jobs:
            clean_up_after(job.target)
        how = f"stopped by {interrupt}" if isinstance(interrupt, Stopped) else "interrupted"
        print(f"\nnapari-histeq batch: {how}; finished results are complete, no partial file is left",
              file=sys.stderr)
        return exit_status(interrupt)
    if not args.quiet:
        done = "standardised" if isinstance(model, Standardization) else settings.spec.done
        print(summary_table(outcomes, time.perf_counter() - started, done))
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


def _with_reference(settings: Settings) -> Settings:
    """The settings with a --match reference read and counted, once for every file."""
    if settings.operation != "match":
        return settings
    image = read_image(Path(settings.parameters["reference"]))
    if image.samples:  # pooling its colours (or its alpha) into one distribution would be wrong in silence
        kind = "a colour image" if image.colour else "a grey+alpha image"
        raise ValueError(f"{kind}; --match takes a grey reference (one histogram)")
    # ITK's matching reads the reference's own mean, minimum and maximum: the image, not its distribution
    reference = np.asarray(image.data) if settings.variant == "itk" else reference_of(image.data)
    return replace(settings, parameters={**settings.parameters, "reference": reference})


# --- what to do ----------------------------------------------------------------------------------


def plan(args) -> tuple[list[Job], list[tuple[Path, str]]]:
    """The jobs, and the inputs that name nothing; raises PlanError where running would be unsafe."""
    output = args.output
    if output.exists() and not output.is_dir():
        raise PlanError(f"-o {output}: exists and is not a folder")
    jobs, missing, seen = [], [], set()
    for argument in args.inputs:
        found = _expand(argument, args.recursive, output)
        if not found:
            missing.append((Path(argument), _why_nothing(argument, args.recursive)))
        for source, root in found:
            if source.resolve() in seen:
                continue
            seen.add(source.resolve())
            relative = source.relative_to(root) if root is not None else Path(source.name)
            jobs.append(Job(source, output / relative.parent / output_name(source)))
    references = [Path(args.match)] if args.match is not None else []  # read too: never written over
    if args.mask is not None:
        if not args.mask.exists():
            raise PlanError(f"--mask {args.mask}: no such file or folder")
        masks = args.mask.resolve()
        references.append(args.mask)
        jobs = [job for job in jobs if not job.source.resolve().is_relative_to(masks)]  # masks are not images to do
    try:
        check_writes([(job.source, job.target) for job in jobs], [*seen, *references],
                     replace_existing=args.overwrite or args.skip_existing)
    except UnsafePlan as error:
        raise PlanError(str(error)) from None
    return jobs, missing


def _expand(argument: str, recursive: bool, output: Path) -> list[tuple[Path, Path | None]]:
    """``(file, root)`` pairs for one argument; results keep their path below ``root``.

    An argument that names an existing path is that path, whatever characters it holds
    (``cell[1].png`` is a file name); otherwise it is a glob pattern.
    """
    path = Path(argument)
    if not (path.exists() or path.is_symlink()):
        if not glob.has_magic(argument):
            return []
        root = Path(*[part for part in path.parts[:_first_magic(path.parts)]]) if path.parts else Path()
        matches = sorted(Path(match) for match in glob.glob(argument, recursive=recursive))
        return [(match, root) for match in matches if is_image_path(match) and not _inside(match, output)]
    if path.is_dir() and not is_zarr(path) and not is_dicom_folder(path):
        if output.exists() and path.resolve().is_relative_to(output.resolve()):
            raise PlanError(f"{path} is the -o folder or inside it: results would be written over its images; "
                            "choose another -o folder (inputs are never replaced)")
        return [(candidate, path) for candidate in _walk(path, recursive, output)]
    return [(path, None)]


def _walk(folder: Path, recursive: bool, output: Path) -> list[Path]:
    """The images in ``folder`` (and below), sorted; hidden entries, zarr stores' insides and ``-o`` are not entered."""
    skip = output.resolve() if output.exists() else None
    found = []
    for here, folders, files in os.walk(folder):
        here = Path(here)
        stores = [name for name in folders if is_zarr(here / name) or is_dicom_folder(here / name)]
        found += [here / name for name in stores + files if not name.startswith(".") and is_image_path(here / name)]
        # a zarr store is one image: never walked into (it may hold millions of chunk files)
        folders[:] = [] if not recursive else [
            name for name in folders
            if not name.startswith(".") and name not in stores and (here / name).resolve() != skip
        ]
    return sorted(found)


def _why_nothing(argument: str, recursive: bool) -> str:
    if glob.has_magic(argument) and not Path(argument).exists():
        return "the pattern matches no image file" + ("" if recursive else " (-r lets '**' look into sub-folders)")
    if Path(argument).is_dir():
        return "the folder holds no image file" + ("" if recursive else " (-r looks into sub-folders)")
    return "no such file or folder"


def _first_magic(parts) -> int:
    return next(index for index, part in enumerate(parts) if glob.has_magic(part))


def _inside(path: Path, folder: Path) -> bool:
    return folder.exists() and path.resolve().is_relative_to(folder.resolve())


def _dry_run(jobs, missing, skipped) -> int:
    for job in jobs:
        print(f"{'replace' if job.target.exists() else 'write'}  {job.target}  <- {job.source}")
    for outcome in skipped:
        print(f"skip     {outcome.job.target}  (exists)")
    for path, reason in missing:
        print(f"napari-histeq batch: error: {path}: {reason}", file=sys.stderr)
    print(f"dry run: {len(jobs)} file{'s' if len(jobs) != 1 else ''} would be written; nothing was")
    return 1 if missing else 0


# --- doing it ------------------------------------------------------------------------------------


