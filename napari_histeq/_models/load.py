"""``load_model``: any model file this package writes, read back as the model it holds."""

from __future__ import annotations

from .._engine.saved import read_model, tables_of
from .._equalization.equalize import Equalization
from .._standardization.standardize import Standardization


def load_model(path) -> Equalization | Standardization:
    """Read a model :meth:`Equalization.save` or :meth:`Standardization.save` wrote.

    An equalisation or a contrast stretch comes back as an :class:`Equalization`
    (its tables), a standardisation as a :class:`Standardization` (its
    landmarks). The file runs no code when read (no pickles); one of a newer
    format version than this package reads, or one that is not such a file,
    is refused with a ``ValueError`` that says so.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    model : Equalization or Standardization
        Ready to ``apply``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from napari_histeq import fit_stretch, load_model
    >>> fitted = fit_stretch(np.array([0, 50, 100], dtype=np.uint8), percentiles=(0, 100))
    >>> load_model(fitted.save(pathlib.Path(tempfile.mkdtemp()) / "limits.npz")).apply(np.uint8([25, 200]))
    array([ 64, 255], dtype=uint8)
    """
    return load_model_and_header(path)[0]


def load_model_and_header(path) -> tuple[Equalization | Standardization, dict]:
    """:func:`load_model`'s model and the file's header (its provenance, date, operation), the file read once."""
    header, arrays = read_model(path)
    if header.get("operation") == "standardize":
        return Standardization._from(header, arrays, path), header
    return Equalization._of(tables_of(header, arrays, path)), header
