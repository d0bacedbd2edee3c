"""``napari-histeq batch``: equalise files, folders and globs, keeping data and metadata safe.

Safety first: nothing is written over an input, ever; an existing result is
replaced only with ``--overwrite``; two inputs never share a result; each
result is written under a temporary name and renamed when complete, so an
interrupt leaves no partial file. A bad file is one line and the others
still run; the exit status says whether any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ._api import equalize, fit_equalization
from ._backend import BACKENDS
from ._image_io import (
    IMAGE_SUFFIXES,
    ImageFile,
    is_zarr,
    output_name,
    read_image,
    reader_messages,
    reader_said,
    write_result,
)
from ._kernels.threads import ENV_VAR as THREADS_ENV_VAR
from ._kernels.threads import num_threads
from ._rgb import equalize_rgb
from ._settings import RGB_MODES, SCOPES
from ._variants import VARIANT_NAMES

EXAMPLES = """examples:
  napari-histeq batch scans/ -o equalised/                 every image in scans/
  napari-histeq batch -r 'plates/**/*.tif' -o out/ -j 4    a glob, 4 files at a time
  napari-histeq batch stack.ome.tif --scope plane -o out/  each plane alone
  napari-histeq batch volume.zarr -o out/                  lazily, chunk by chunk
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
    parser.add_argument("--variant", choices=VARIANT_NAMES, default="standard")
    parser.add_argument("--scope", choices=SCOPES, default="layer",
                        help="what one histogram spans (a file's channels never share one)")
    parser.add_argument("--nbins", type=positive_int, help="bins for float and 32/64-bit images")
    parser.add_argument("--rgb-mode", choices=RGB_MODES, default="channels",
                        help="colour images: each channel, or the brightness only (hue kept); alpha is kept")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace results that exist (never an input)")
    existing.add_argument("--skip-existing", action="store_true", help="leave results that exist; do the rest")
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would be written; write nothing")
    parser.add_argument("-j", "--jobs", type=positive_int, default=1, help="files at a time (processes)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only: no progress, no summary")
    parser.add_argument("--debug", action="store_true", help="print the traceback of a failure")
    return parser


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass(frozen=True)
class Options:
    variant: str = "standard"
    scope: str = "layer"
    nbins: int | None = None
    rgb_mode: str = "channels"
    backend: str = "auto"
    debug: bool = False


@dataclass
class Outcome:
    job: Job
    status: str                  # "ok", "failed" or "skipped"
    reason: str = ""
    seconds: float = 0.0
    shape: tuple = ()
    dtype: str = ""
    notes: list = field(default_factory=list)


class PlanError(Exception):
    """The run cannot start (nothing has been written)."""


def main_batch(argv) -> int:
    args = build_batch_parser().parse_args(argv)
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
    options = Options(args.variant, args.scope, args.nbins, args.rgb_mode, args.backend, args.debug)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"napari-histeq batch: error: -o {args.output}: cannot create the folder: {error.strerror or error}",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    outcomes = [Outcome(Job(path, Path()), "failed", reason) for path, reason in missing] + skipped
    for outcome in outcomes:
        _report(outcome, args.quiet)
    try:
        outcomes += run_jobs(jobs, options, jobs_at_once=args.jobs, quiet=args.quiet)
    except KeyboardInterrupt:
        print("\nnapari-histeq batch: interrupted; finished results are complete, no partial file is left",
              file=sys.stderr)
        return 130
    if not args.quiet:
        print(summary_table(outcomes, time.perf_counter() - started))
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0


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
    _check_targets(jobs, seen, overwrite=args.overwrite, skip_existing=args.skip_existing)
    return jobs, missing


def _expand(argument: str, recursive: bool, output: Path) -> list[tuple[Path, Path | None]]:
    """``(file, root)`` pairs for one argument; results keep their path below ``root``."""
    path = Path(argument)
    if glob.has_magic(argument):
        root = Path(*[part for part in path.parts[:_first_magic(path.parts)]]) if path.parts else Path()
        matches = sorted(Path(match) for match in glob.glob(argument, recursive=recursive))
        return [(match, root) for match in matches if _is_image(match) and not _inside(match, output)]
    if path.is_dir() and not is_zarr(path):
        if output.exists() and path.resolve().is_relative_to(output.resolve()):
            raise PlanError(f"{path} is the -o folder or inside it: results would be written over its images; "
                            "choose another -o folder (inputs are never replaced)")
        walk = path.rglob("*") if recursive else path.glob("*")
        found = []
        for candidate in sorted(walk):
            if _inside(candidate, output) or any(part.startswith(".") for part in candidate.relative_to(path).parts):
                continue
            if any(is_zarr(parent) for parent in candidate.relative_to(path).parents if parent != Path(".")):
                continue  # inside a zarr store: the store is the image
            if _is_image(candidate):
                found.append((candidate, path))
        return found
    return [(path, None)] if path.exists() or path.is_symlink() else []


def _why_nothing(argument: str, recursive: bool) -> str:
    if glob.has_magic(argument):
        return "the pattern matches no image file" + ("" if recursive else " (-r lets '**' look into sub-folders)")
    if Path(argument).is_dir():
        return "the folder holds no image file" + ("" if recursive else " (-r looks into sub-folders)")
    return "no such file or folder"


def _first_magic(parts) -> int:
    return next(index for index, part in enumerate(parts) if glob.has_magic(part))


def _is_image(path: Path) -> bool:
    if is_zarr(path):
        return True
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _inside(path: Path, folder: Path) -> bool:
    return folder.exists() and path.resolve().is_relative_to(folder.resolve())


def _check_targets(jobs, inputs, *, overwrite, skip_existing) -> None:
    by_target = {}
    for job in jobs:
        target = job.target.resolve()
        if target in inputs or any(target.is_relative_to(source) for source in inputs if source.is_dir()):
            raise PlanError(f"{job.source} would be written over an input ({job.target}); choose another -o folder "
                            "(inputs are never replaced)")
        if target in by_target:
            raise PlanError(f"{by_target[target]} and {job.source} would both be written to {job.target}; "
                            "equalise them into separate -o folders")
        by_target[target] = job.source
    existing = [job.target for job in jobs if job.target.exists()]
    if existing and not (overwrite or skip_existing):
        listed = ", ".join(str(target) for target in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise PlanError(f"{listed}{more} exist{'s' if len(existing) == 1 else ''}; pass --overwrite to replace, "
                        "--skip-existing to leave them, or choose another -o folder")


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


def run_jobs(jobs, options: Options, *, jobs_at_once=1, quiet=False) -> list[Outcome]:
    """Run every job, one process per file at a time when ``jobs_at_once`` > 1."""
    from tqdm import tqdm

    outcomes = []
    with tqdm(total=len(jobs), unit="file", disable=True if quiet else None, file=sys.stderr) as bar:
        if jobs_at_once == 1 or len(jobs) < 2:
            for job in jobs:
                outcomes.append(process_file(job, options, progress=None if quiet else _chunk_bars(job)))
                _report(outcomes[-1], quiet, bar)
            return outcomes
        workers = min(jobs_at_once, len(jobs))
        threads_each = max(1, num_threads() // workers)  # the cores are shared, not multiplied
        with ProcessPoolExecutor(workers, initializer=_share_cores, initargs=(threads_each,)) as pool:
            try:
                futures = [pool.submit(process_file, job, options) for job in jobs]
                for future in as_completed(futures):
                    outcomes.append(future.result())
                    _report(outcomes[-1], quiet, bar)
                outcomes.sort(key=lambda outcome: jobs.index(outcome.job))  # the summary in the inputs' order
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return outcomes


def _share_cores(threads: int) -> None:
    os.environ[THREADS_ENV_VAR] = str(threads)


def _chunk_bars(job: Job):
    """A progress bar over the parts of one big file (pages, chunks)."""
    from tqdm import tqdm

    bars = []

    def start(total):
        bars.append(tqdm(total=total, desc=job.source.name, unit="part", leave=False, disable=None, file=sys.stderr))
        return bars[-1].update

    start.close = lambda: [bar.close() for bar in bars]
    return start


def process_file(job: Job, options: Options, progress=None) -> Outcome:
    """Read, equalise and write one file; any failure becomes the outcome's one-line reason."""
    started = time.perf_counter()
    image = None
    try:
        with reader_messages() as messages:
            try:
                image = read_image(job.source)
            except Exception as error:
                raise _Failed(f"cannot read it as an image: {_describe(error)}{reader_said(messages)}") from error
        try:
            with _counting_bar(image, progress):
                results = equalized(image, options)
        except (TypeError, ValueError) as error:
            raise _Failed(f"{error}{reader_said(messages)}") from error
        job.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_result(image, results, job.target, provenance(image, options), progress=progress)
        except OSError as error:
            raise _Failed(f"cannot write {job.target}: {error.strerror or error}") from error
        notes = image.notes + list(dict.fromkeys(messages))
        return Outcome(job, "ok", seconds=time.perf_counter() - started, shape=tuple(image.data.shape),
                       dtype=str(results[0].dtype), notes=notes)
    except Exception as error:  # noqa: BLE001 -- one file's failure never stops the others
        reason = str(error) if isinstance(error, _Failed) else f"{_describe(error)} (--debug shows the traceback)"
        if options.debug:
            reason += "\n" + "".join(traceback.format_exception(error.__cause__ or error))
        return Outcome(job, "failed", reason, seconds=time.perf_counter() - started)
    finally:
        if image is not None and image.close is not None:
            image.close()
        if progress is not None:
            progress.close()


def _counting_bar(image: ImageFile, progress):
    """A progress bar over the chunks of a lazy image's histogram pass (none for an image in memory)."""
    if progress is None or type(image.data).__module__.split(".")[0] != "dask":
        return contextlib.nullcontext()
    from tqdm.dask import TqdmCallback

    return TqdmCallback(desc=f"{image.path.name}: histogram", leave=False, disable=None, file=sys.stderr)


class _Failed(Exception):
    """A file's failure, worded for its one line."""


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and not isinstance(error, FileNotFoundError):
        return error.strerror
    return f"{type(error).__name__}: {error}" if not isinstance(error, (ValueError, FileNotFoundError)) else str(error)


def histogram_axis(image: ImageFile, scope: str):
    """The ``axis`` for ``scope``; a file's channels (axis ``C``) never share a histogram."""
    ndim = image.data.ndim - image.colour
    axes = image.axes[:ndim] if len(image.axes) >= ndim else ""
    pooled = [index for index in range(ndim) if not axes or axes[index] not in "CS"]
    if scope != "layer":
        needed = 2 if scope == "plane" else 3
        if axes and scope == "volume" and "Z" not in axes:
            raise ValueError(f"--scope volume needs a Z axis; this image's axes are {axes}")
        if len(pooled) < needed:
            raise ValueError(f"a {len(pooled)}D image has no {scope}s to equalise one by one")
        pooled = pooled[-needed:]
    return None if pooled == list(range(ndim)) else tuple(pooled)


def equalized(image: ImageFile, options: Options) -> list:
    """The result for each pyramid level (one level for most files)."""
    axis = histogram_axis(image, options.scope)
    common = {"variant": options.variant, "nbins": options.nbins, "backend": options.backend}
    if image.colour:
        return [equalize_rgb(image.data, mode=options.rgb_mode, axis=axis, **common)]
    if len(image.levels) > 1:  # one table from full resolution, for every level: the pyramid stays consistent
        fitted = fit_equalization(image.levels[0], axis=axis, **common)
        return [fitted.apply(level) for level in image.levels]
    return [equalize(image.data, axis=axis, **common)]


def provenance(image: ImageFile, options: Options) -> dict:
    from . import __version__

    record = {"software": f"napari-histeq {__version__}", "operation": "equalize", "variant": options.variant,
              "scope": options.scope, "source": image.path.name}
    if options.nbins is not None:
        record["nbins"] = options.nbins
    if image.colour:
        record["rgb_mode"] = options.rgb_mode
    return record


# --- telling the user ----------------------------------------------------------------------------


def _report(outcome: Outcome, quiet: bool, bar=None) -> None:
    from tqdm import tqdm

    if outcome.status == "failed":
        tqdm.write(f"napari-histeq batch: error: {outcome.job.source}: {outcome.reason}", file=sys.stderr)
    elif not quiet:
        for note in outcome.notes:
            tqdm.write(f"napari-histeq batch: note: {outcome.job.source}: {note}", file=sys.stderr)
    if bar is not None:
        bar.update()


def summary_table(outcomes, seconds: float) -> str:
    lines = [f"\n  {'status':8}{'seconds':>8}  file"]
    for outcome in outcomes:
        where = (f"{outcome.job.source} -> {outcome.job.target}" if outcome.status != "failed"
                 else f"{outcome.job.source}: {outcome.reason.splitlines()[0]}")
        time_text = f"{outcome.seconds:.2f}" if outcome.status == "ok" else "-"
        lines.append(f"  {outcome.status:8}{time_text:>8}  {where}")
    counts = {status: sum(outcome.status == status for outcome in outcomes) for status in ("ok", "failed", "skipped")}
    lines.append(f"{counts['ok']} of {len(outcomes)} files equalised, {counts['failed']} failed, "
                 f"{counts['skipped']} skipped ({seconds:.1f} s)")
    return "\n".join(lines)
