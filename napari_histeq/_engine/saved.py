"""Fitted models in a file: NumPy's ``.npz`` with the model's arrays and a JSON header, no pickles.

The format (``FORMAT_VERSION``): ``header`` holds UTF-8 JSON bytes (the format's
name and version, the package version, the date, the operation, and the
model's own fields: for tables their variant, axes, output range, binning and
where the fit came from); the other arrays are the model's: ``lut`` holds
tables in their output dtype, one row per histogram group; ``landmarks`` a
standardisation's landmarks. Reading never runs code (``allow_pickle=False``); a file of a newer
format version, or one that is not such a file, is refused in one line.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from .binning import Binning
from .pipeline import Tables

FORMAT = "napari-histeq fitted tables"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a model this version can read; the message says why, in one line."""


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-histeq")
    except PackageNotFoundError:  # a source tree on PYTHONPATH, never installed
        return "0+unknown"


def _plain(value):
    """Binning fields as JSON keeps them exactly: ints as ints, floats as floats, tuples as lists."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restored(value):
    return tuple(value) if isinstance(value, list) else value


def write_model(path, fields: dict, arrays: dict) -> Path:
    """Write a model file: the header (the format's fields, then ``fields``) and the named ``arrays``.
    ``.npz`` is added to ``path`` when missing; returns the path written.
    """
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package": f"napari-histeq {_package_version()}",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **fields,
    }
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), np.uint8),
             **{name: np.asarray(array) for name, array in arrays.items()})
    return path


def read_model(path, *arrays: str) -> tuple[dict, dict]:
    """``(header, {name: array})`` of a model file, every array read (a model's are small); a one-line
    :class:`ModelFileError` for a file that is not one, of a newer format version, or without ``arrays``.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as stored:
            header = json.loads(bytes(stored["header"]).decode())
            found = {name: np.array(stored[name]) for name in stored.files if name != "header"}
            missing = [name for name in arrays if name not in found]
            if missing:
                raise KeyError(f"no {', '.join(missing)} in the file")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
        why = " ".join(str(error).split())
        raise ModelFileError(f"{path.name}: not a napari-histeq model file ({why})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path.name}: not a napari-histeq model file (no {FORMAT!r} header)")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{path.name}: a model of format version {version}, newer than this napari-histeq "
                             f"reads ({FORMAT_VERSION}); update napari-histeq")
    return header, found


def save_tables(tables: Tables, path, *, operation: str, provenance: dict | None = None) -> Path:
    """Write ``tables`` to ``path`` (``.npz`` is added when missing); returns the path written."""
    binning = tables.binning
    header = {
        "operation": operation,
        "variant": tables.variant,
        "axis": list(tables.axis),
        "ndim": tables.ndim,
        "out_range": _plain(list(tables.out_range)),
        "backend": tables.backend,
        "binning": {"dtype": np.dtype(binning.dtype).str, "nbins": int(binning.nbins),
                    "start": _plain(binning.start), "stop": _plain(binning.stop), "width": _plain(binning.width)},
        "provenance": provenance or {},
    }
    return write_model(path, header, {"lut": tables.lut})


def tables_of(header: dict, arrays: dict, path) -> Tables:
    """The tables a model file holds, from its header and arrays as :func:`read_model` gives them."""
    path = Path(path)
    if "lut" not in arrays:
        raise ModelFileError(f"{path.name}: a {header.get('operation')!r} model holds no tables")
    lut = arrays["lut"]
    try:
        b = header["binning"]
        binning = Binning(np.dtype(b["dtype"]), int(b["nbins"]), _restored(b["start"]), _restored(b["stop"]),
                          _restored(b["width"]))
        tables = Tables(lut, binning, header["variant"], tuple(header["axis"]), int(header["ndim"]),
                        tuple(header["out_range"]), header.get("backend", "auto"))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path.name}: a damaged model header ({type(error).__name__}: {error})") from None
    if lut.shape[-1] != binning.nbins:
        raise ModelFileError(f"{path.name}: {lut.shape[-1]} table entries for {binning.nbins} bins")
    return tables
