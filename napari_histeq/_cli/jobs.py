"""The batch command's work: one file read, equalised and written per job, in this process or in workers."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._engine.backend import is_lazy_array
from .._kernels.threads import ENV_VAR as THREADS_ENV_VAR
from .._kernels.threads import num_threads
from .._operations.run import run_levels
from .._operations.settings import Settings
from .files import read_image, reader_messages, reader_said, write_result
from .image import ImageFile, with_alpha
from .masks import mask_path, read_mask
from .stopping import Stopped, run_busy, stop_worker_on_signals, stop_workers


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass(frozen=True)
class Options:
    """What every job is asked to do: the user's settings (operation, variant, parameters, scope...),
    and whether failures show tracebacks.
    """

    settings: Settings = field(default_factory=Settings)
    debug: bool = False
    time_axis: int | None = None  # bleach: None is the file's T axis, else 0
    model: Any = None  # a saved fit (Equalization) applied instead of fitting each file
    model_record: dict = field(default_factory=dict)  # what the results record of it
    spacing: tuple | None = None  # --spacing: the voxel size, over what a file says
    mask: Path | None = None  # --mask: a mask file, or a folder of masks named as the inputs


@dataclass
class Outcome:
    job: Job
    status: str                  # "ok", "failed" or "skipped"
    reason: str = ""
    seconds: float = 0.0
    shape: tuple = ()
    dtype: str = ""
    notes: list = field(default_factory=list)


def run_jobs(jobs, options: Options, *, jobs_at_once=1, quiet=False) -> list[Outcome]:
    """Run every job, one process per file at a time when ``jobs_at_once`` > 1."""
    from tqdm import tqdm

    outcomes = []
    with tqdm(total=len(jobs), unit="file", disable=True if quiet else None, file=sys.stderr) as bar:
        if jobs_at_once == 1 or len(jobs) < 2:
            for job in jobs:
                outcomes.append(process_file(job, options, progress=None if quiet else _chunk_bars(job)))
                report(outcomes[-1], quiet, bar)
            return outcomes
        workers = min(jobs_at_once, len(jobs))
        threads_each = max(1, num_threads() // workers)  # the cores are shared, not multiplied
        with ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(threads_each,)) as pool:
            try:
                futures = [pool.submit(run_busy, process_file, job, options) for job in jobs]
                for future in as_completed(futures):
                    outcomes.append(future.result())
                    report(outcomes[-1], quiet, bar)
                outcomes.sort(key=lambda outcome: jobs.index(outcome.job))  # the summary in the inputs' order
            except BaseException as error:
                if isinstance(error, Stopped):  # Ctrl-C reaches the workers by itself; kill PID only the parent
                    stop_workers(pool, error.signum)
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return outcomes


def _start_worker(threads: int) -> None:
    """A worker shares the cores with the others, and stops cleanly on SIGTERM and SIGHUP."""
    os.environ[THREADS_ENV_VAR] = str(threads)
    stop_worker_on_signals()


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
                raise _Failed(f"cannot read it as an image: {describe_error(error)}{reader_said(messages)}") from error
        try:
            mask = read_mask(job.source, options.mask, image.data.shape[:image.data.ndim - image.samples])
            with _counting_bar(image, progress):
                results = equalized(image, options, mask)
        except (TypeError, ValueError) as error:
            raise _Failed(f"{error}{reader_said(messages)}") from error
        job.target.parent.mkdir(parents=True, exist_ok=True)
        record = provenance(image, options)
        if mask is not None:  # which pixels were counted, and how many
            record.update(mask=mask_path(job.source, options.mask).name, mask_pixels=int(mask.sum()))
        try:
            write_result(image, results, job.target, record, progress=progress)
        except OSError as error:
            raise _Failed(f"cannot write {job.target}: {error.strerror or error}") from error
        notes = image.notes + list(dict.fromkeys(messages))
        return Outcome(job, "ok", seconds=time.perf_counter() - started, shape=tuple(image.data.shape),
                       dtype=str(results[0].dtype), notes=notes)
    except Exception as error:
        reason = str(error) if isinstance(error, _Failed) else f"{describe_error(error)} (--debug shows the traceback)"
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
    if progress is None or not is_lazy_array(image.data):
        return contextlib.nullcontext()
    from tqdm.dask import TqdmCallback

    return TqdmCallback(desc=f"{image.path.name}: histogram", leave=False, disable=None, file=sys.stderr)


class _Failed(Exception):
    """A file's failure, worded for its one line."""


def describe_error(error: BaseException) -> str:
    """The error in one line (readers' messages may go on with advice over several)."""
    if isinstance(error, OSError) and error.strerror and not isinstance(error, FileNotFoundError):
        return error.strerror
    text = (str(error).strip().splitlines() or [""])[0]
    return text if isinstance(error, (ValueError, FileNotFoundError)) else f"{type(error).__name__}: {text}"


def histogram_axis(image: ImageFile, scope: str):
    """The ``axis`` for ``scope``; a file's channels (axis ``C``) never share a histogram."""
    ndim = image.data.ndim - image.colour
    axes = image.grey_axes
    pooled = [index for index in range(ndim) if not axes or axes[index] not in "CS"]
    if scope != "layer":
        needed = 2 if scope == "plane" else 3
        if axes and scope == "volume" and "Z" not in axes:
            raise ValueError(f"--scope volume needs a Z axis; this image's axes are {axes}")
        if len(pooled) < needed:
            raise ValueError(f"a {len(pooled)}D image has no {scope}s to equalise one by one")
        pooled = pooled[-needed:]
    return None if pooled == list(range(ndim)) else tuple(pooled)


def equalized(image: ImageFile, options: Options, mask=None) -> list:
    """The result for each pyramid level (one level for most files), by the runner's rules (``run_levels``);
    alpha is never counted nor changed; ``mask`` (the finest level's pixels) chooses the counted pixels.
    """
    if image.grey_alpha:
        levels = image.levels or (image.data,)
        results = equalized(image.grey_view(), options, mask)
        return [with_alpha(result, level[..., 1]) for result, level in zip(results, levels)]
    settings = options.settings
    levels = image.levels or (image.data,)
    if mask is not None and len(levels) > 1:
        raise ValueError(f"--mask with an image of {len(levels)} pyramid levels: give its full-resolution level alone")
    if options.model is not None:
        if image.colour:
            raise ValueError("a colour image; a model holds grey tables")
        masked = {} if mask is None else {"mask": mask}  # a standardisation's landmarks: the masked pixels'
        return [options.model.apply(level, **masked) for level in levels]
    if settings.operation == "bleach":
        grey_axes = image.grey_axes
        channel_axis = grey_axes.index("C") if "C" in grey_axes else None  # each fluorophore bleaches at its own rate
        if image.colour and channel_axis is not None:
            raise ValueError(f"--bleach on colour samples with a channel axis too (axes {image.axes}) is not supported")
        time_axis = options.time_axis
        if time_axis is None:
            time_axis = _time_axis(grey_axes, image.data.ndim - image.colour)
        return run_levels(settings, levels, colour=image.colour, channel_axis=channel_axis, time_axis=time_axis,
                          mask=mask)[0]
    if image.colour and settings.operation == "match":
        raise ValueError("--match on colour images is not supported yet")
    return run_levels(settings, levels, axis=histogram_axis(image, settings.scope), colour=image.colour,
                      spacing=_spacing(image, options), mask=mask)[0]


def _spacing(image: ImageFile, options: Options):
    """The voxel size for sizes in physical units (``--kernel-size-mm``): ``--spacing``, else the medical
    file's header; without either, a one-line refusal (only when such a size was asked for).
    """
    if options.settings.parameters.get("kernel_size_mm") is None:
        return None
    spacing = options.spacing or (image.volume.spacing if image.volume is not None else None)
    if spacing is None:
        raise ValueError("--kernel-size-mm needs the voxel size, which this file does not give: "
                         "add --spacing (one number per axis, in the units of --kernel-size-mm)")
    ndim = image.data.ndim - image.samples
    if len(spacing) != ndim:
        raise ValueError(f"--spacing has {len(spacing)} values for an image of {ndim} axes")
    return tuple(spacing)


def _time_axis(axes: str, ndim: int) -> int:
    """``T`` in the file's axes; else the first axis of a stack whose axes the file does not name."""
    if "T" in axes:
        return axes.index("T")
    named = set(axes) & set("ZC")
    if named:
        raise ValueError(f"no time axis in this file (axes {axes}): a {' or '.join(sorted(named))} axis is not "
                         "time; --time-axis N corrects along axis N all the same")
    if ndim < 3:
        raise ValueError(f"a {ndim}D image has no time axis to correct along")
    return 0


def provenance(image: ImageFile, options: Options) -> dict:
    from .. import __version__

    settings = options.settings
    operation = "equalize" if settings.equalizes else settings.operation
    record = {"software": f"napari-histeq {__version__}", "operation": operation, "source": image.path.name}
    record.update({key: value for key, value in settings.record().items() if value is not None})
    if options.model is not None:  # the model's fit, not the command's settings, made the tables
        record = {key: record[key] for key in ("software", "source")} | {"operation": "model", **options.model_record}
    if settings.operation == "bleach":
        record["each_channel"] = image.colour or "C" in image.grey_axes
    elif image.colour:
        record["rgb_mode"] = settings.rgb_mode
    return record


# --- telling the user ----------------------------------------------------------------------------


def report(outcome: Outcome, quiet: bool, bar=None) -> None:
    from tqdm import tqdm

    if outcome.status == "failed":
        tqdm.write(f"napari-histeq batch: error: {outcome.job.source}: {outcome.reason}", file=sys.stderr)
    elif not quiet:
        for note in outcome.notes:
            tqdm.write(f"napari-histeq batch: note: {outcome.job.source}: {note}", file=sys.stderr)
    if bar is not None:
        bar.update()


def summary_table(outcomes, seconds: float, done: str = "equalised") -> str:
    """The summary of a run; ``done``: what was done to the files (the operation's word)."""
    lines = [f"\n  {'status':8}{'seconds':>8}  file"]
    for outcome in outcomes:
        where = (f"{outcome.job.source} -> {outcome.job.target}" if outcome.status != "failed"
                 else f"{outcome.job.source}: {outcome.reason.splitlines()[0]}")
        time_text = f"{outcome.seconds:.2f}" if outcome.status == "ok" else "-"
        lines.append(f"  {outcome.status:8}{time_text:>8}  {where}")
    counts = {status: sum(outcome.status == status for outcome in outcomes) for status in ("ok", "failed", "skipped")}
    lines.append(f"{counts['ok']} of {len(outcomes)} files {done}, {counts['failed']} failed, "
                 f"{counts['skipped']} skipped ({seconds:.1f} s)")
    return "\n".join(lines)
