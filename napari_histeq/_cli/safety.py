"""What the command line may write, and where: one rule for ``batch`` and ``--headless``.

Nothing is written over an input, ever: not an input file, not a file inside an input
folder or zarr store, and not a result that holds an input (a store replaced by
``--overwrite`` goes whole, with whatever lies inside it). Two inputs never share a
result. A result that exists is replaced only when the caller says so. Every check
runs before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path


class UnsafePlan(ValueError):
    """Running as asked would lose data; nothing has been written."""


def partial_path(target: Path) -> Path:
    """Where ``target`` is written until it is complete."""
    return target.with_name(f".{target.stem}.partial{target.suffix}")


def old_path(target: Path) -> Path:
    """Where a folder result (a zarr store) waits while its replacement is renamed in."""
    return target.with_name(f".{target.stem}.old{target.suffix}")


def touched_paths(target: Path) -> tuple[Path, Path, Path]:
    """Every path that writing ``target`` creates, replaces or removes."""
    return target, partial_path(target), old_path(target)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_writes(writes, inputs, *, replace_existing: bool, skip_option: bool = True) -> list[Path]:
    """Refuse a plan that would lose data; return the targets that exist already.

    Parameters
    ----------
    writes : iterable of (Path, Path)
        ``(source, target)`` pairs: each result and the input it comes from.
    inputs : iterable of Path
        Every file, folder or store the run reads (references and masks included).
    replace_existing : bool
        Whether a target that exists may be replaced (``--overwrite``, or left alone
        with ``--skip-existing``); inputs are protected either way.
    skip_option : bool
        Whether the refusal of existing targets offers ``--skip-existing``.

    Raises
    ------
    UnsafePlan
        When a target is an input or lies inside one, when a target (or its temporary
        names) holds an input, when two inputs share a target, or when a target exists
        and ``replace_existing`` is false.

    Examples
    --------
    >>> check_writes([(Path("a.png"), Path("a.png"))], [Path("a.png")], replace_existing=True)
    Traceback (most recent call last):
    ...
    napari_histeq._cli.safety.UnsafePlan: a.png would be written over an input (a.png); choose another -o ...
    """
    writes = list(writes)
    real_inputs = {_real(path): path for path in inputs}
    folders = [real for real in real_inputs if real.is_dir()]
    by_target = {}
    for source, target in writes:
        for touched in touched_paths(target):
            real = _real(touched)
            inside = real in real_inputs or any(real.is_relative_to(folder) for folder in folders)
            holds = real.is_dir() and any(path.is_relative_to(real) for path in real_inputs)
            if inside or holds:
                what = "over an input" if inside else "over a folder or store that holds an input"
                raise UnsafePlan(f"{source} would be written {what} ({touched}); choose another -o folder "
                                 "(inputs are never replaced)")
        real = _real(target)
        if real in by_target and by_target[real] != source:
            raise UnsafePlan(f"{by_target[real]} and {source} would both be written to {target}; "
                             "equalise them into separate -o folders")
        by_target[real] = source
    existing = list(dict.fromkeys(target for _, target in writes if target.exists() or target.is_symlink()))
    if existing and not replace_existing:
        listed = ", ".join(str(target) for target in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        skip = ", --skip-existing to leave them," if skip_option else ""
        raise UnsafePlan(f"{listed}{more} exist{'s' if len(existing) == 1 else ''}; pass --overwrite to replace"
                         f"{skip} or choose another -o folder")
    return existing
