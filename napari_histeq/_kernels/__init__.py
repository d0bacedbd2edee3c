"""Optional accelerated kernels; the plain array code in ``_histogram`` and
``_apply`` is the reference they are tested against.
"""

from __future__ import annotations

import functools
import os

import numpy as np

ENV_VAR = "NAPARI_HISTEQ_JIT"
#: Float dtypes the CPU kernels take (float16 goes through the reference path).
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=1)
def _load_cpu():
    try:
        from . import cpu
    except ImportError:  # numba missing or broken: the reference path serves
        return None
    return cpu


def cpu_kernels():
    """The numba CPU kernels module, or None (not installed, or NAPARI_HISTEQ_JIT=0)."""
    if os.environ.get(ENV_VAR, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    return _load_cpu()


@functools.lru_cache(maxsize=1)
def _load_clahe():
    try:
        from . import clahe
    except ImportError:
        return None
    return clahe


def clahe_kernels():
    """The numba kernels of adaptive equalisation, or None (as :func:`cpu_kernels`)."""
    return None if cpu_kernels() is None else _load_clahe()
