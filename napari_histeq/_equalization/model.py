"""Fits read back from their files: ``load_model``."""

from __future__ import annotations

from .._engine.saved import load_tables
from .equalize import Equalization


def load_model(path) -> Equalization:
    """Read a fit :meth:`Equalization.save` wrote (an equalisation, a contrast stretch).

    The file runs no code when read (no pickles); one of a newer format version than this package
    reads, or one that is not such a file, is refused with a ``ValueError`` that says so.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    fitted : Equalization
        Ready to :meth:`~Equalization.apply`, on any backend.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from napari_histeq import fit_stretch, load_model
    >>> fitted = fit_stretch(np.array([0, 50, 100], dtype=np.uint8), percentiles=(0, 100))
    >>> load_model(fitted.save(pathlib.Path(tempfile.mkdtemp()) / "limits.npz")).apply(np.uint8([25, 200]))
    array([ 64, 255], dtype=uint8)
    """
    _header, tables = load_tables(path)
    return Equalization._of(tables)
