"""Array backends: which array module computes, and moving arrays to and from it.

``backend="auto"`` picks CuPy when it imports *and* a CUDA device answers a
small computation, NumPy otherwise. The decision is made once per process (a
forked child makes its own) and remembered together with its reason, which
:func:`backend_info` reports.
CuPy is never imported at import time of the package.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from types import ModuleType

import numpy as np

BACKENDS = ("auto", "numpy", "cupy")
ENV_VAR = "NAPARI_HISTEQ_BACKEND"


@dataclass(frozen=True)
class BackendInfo:
    """What ``backend="auto"`` picks on this machine, and why.

    Attributes
    ----------
    name : {"numpy", "cupy"}
        The array module ``backend="auto"`` computes with.
    reason : str
        One line that says why, e.g. ``"cupy is not installed"`` or
        ``"cupy 14.2, NVIDIA H200, CUDA 13.0"``.
    gpu_error : str or None
        Why the GPU cannot be used, or None when it can.
    """

    name: str
    reason: str
    gpu_error: str | None = None

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}" if self.name == "numpy" else self.reason


def _describe_cupy(cp: ModuleType) -> str:
    device = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    runtime = cp.cuda.runtime.runtimeGetVersion()
    return f"cupy {cp.__version__}, {name}, CUDA {runtime // 1000}.{runtime % 1000 // 10}"


@functools.lru_cache(maxsize=1)
def _probe_gpu() -> tuple[str | None, str]:
    """Try CuPy and the device once; return ``(error or None, description)``."""
    try:
        import cupy as cp
    except ImportError:
        return "cupy is not installed", ""
    except Exception as exc:
        return f"cupy failed to import: {type(exc).__name__}: {exc}", ""
    try:
        # A pip-installed CuPy imports fine without a driver and fails on first
        # use, so the device itself is asked: allocate, compute, read back.
        answer = int((cp.arange(4, dtype="int32") + 1).sum().get())
        if answer != 10:
            raise RuntimeError(f"the device computed 1+2+3+4 = {answer}")
        return None, _describe_cupy(cp)
    except Exception as exc:
        version = getattr(cp, "__version__", "?")
        return (
            f"cupy {version} imported but no CUDA device answered: {type(exc).__name__}: {exc}",
            "",
        )


# CUDA does not survive fork: a child forked after the parent's GPU answered gets an
# initialization error from every CUDA call. The child asks again instead of inheriting the
# parent's answer, so that "auto" falls back to NumPy there, with the reason.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_probe_gpu.cache_clear)


def backend_info() -> BackendInfo:
    """Report which backend ``backend="auto"`` uses on this machine and why.

    The environment variable ``NAPARI_HISTEQ_BACKEND`` (``numpy`` or ``cupy``)
    overrides the automatic choice.

    Returns
    -------
    info : BackendInfo
        ``str(info)`` is a one-line summary such as
        ``"numpy: cupy is not installed"`` or ``"cupy 14.2, NVIDIA H200, CUDA 13.0"``.

    Examples
    --------
    >>> from napari_histeq import backend_info
    >>> info = backend_info()
    >>> info.name in ("numpy", "cupy")
    True
    """
    forced = _forced_backend()
    if forced and forced not in ("numpy", "cupy"):
        raise ValueError(f"{ENV_VAR} must be 'numpy' or 'cupy', got {forced!r}")
    gpu_error, description = _probe_gpu()
    if forced == "numpy":
        return BackendInfo("numpy", f"{ENV_VAR}=numpy", gpu_error)
    if gpu_error is None:
        return BackendInfo("cupy", description, None)
    if forced == "cupy":
        raise RuntimeError(f"{ENV_VAR}=cupy but the GPU cannot be used: {gpu_error}")
    return BackendInfo("numpy", gpu_error, gpu_error)


def auto_is_numpy() -> bool:
    """True when ``backend="auto"`` computes with NumPy here: :func:`backend_info`'s answer, without
    its report (a call that must be quick asks this). False also where ``backend_info`` would raise.
    """
    forced = _forced_backend()
    return forced == "numpy" or (not forced and _probe_gpu()[0] is not None)


def _forced_backend() -> str:
    """``NAPARI_HISTEQ_BACKEND`` as set, lower case ("" when unset)."""
    return os.environ.get(ENV_VAR, "").strip().lower()


def is_cupy_array(array) -> bool:
    """True for a ``cupy.ndarray`` (tested without importing CuPy)."""
    return type(array).__module__.split(".")[0] == "cupy"


def resolve_backend(backend: str, data=None) -> ModuleType:
    """Return the array module (``numpy`` or ``cupy``) that will compute.

    ``"auto"`` keeps data that is already on the GPU there; otherwise it
    follows :func:`backend_info`. ``"cupy"`` without a usable GPU raises
    ``RuntimeError`` with the reason.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "numpy":
        return np
    if backend == "auto":
        if data is not None and is_cupy_array(data):
            return _import_cupy()
        return _import_cupy() if backend_info().name == "cupy" else np
    gpu_error, _ = _probe_gpu()
    if gpu_error is not None:
        raise RuntimeError(f"backend='cupy' was asked for but the GPU cannot be used: {gpu_error}")
    return _import_cupy()


def _import_cupy() -> ModuleType:
    import cupy

    return cupy


def array_module(array) -> ModuleType:
    """The array module ``array`` belongs to: CuPy for a CuPy array, NumPy otherwise."""
    return _import_cupy() if is_cupy_array(array) else np


def to_backend(xp: ModuleType, array):
    """Move ``array`` to ``xp`` (a no-op when it is already there)."""
    if xp is np:
        return array.get() if is_cupy_array(array) else np.asarray(array)
    return xp.asarray(array)


def free_device_bytes(xp: ModuleType) -> int | None:
    """Free memory on the current GPU, or None for NumPy."""
    if xp is np:
        return None
    free, _total = xp.cuda.runtime.memGetInfo()
    # Memory held in CuPy's pool is free for our allocations too.
    pool = xp.get_default_memory_pool()
    return int(free) + int(pool.free_bytes())


def native(array):
    """``array`` in the machine's byte order (a copy only when it is not)."""
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def is_lazy_array(array) -> bool:
    """True for dask arrays and zarr arrays (both are processed chunk by chunk; a zarr group is neither)."""
    return type(array).__module__.split(".")[0] in ("dask", "zarr") and hasattr(array, "dtype")


def float_to_integer(values, dtype):
    """Float ``values``, already rounded as the caller's rule says, as integer ``dtype``, clipped to its range.

    A plain ``clip(values, iinfo.min, iinfo.max).astype(dtype)`` wraps at the top of the
    64-bit integers: ``float(2**63 - 1)`` is ``2**63``, which the cast overflows (to
    ``-2**63`` for int64, to 0 for uint64). Here values at or above the float that
    ``iinfo.max`` rounds up to become ``iinfo.max`` exactly, and the rest are clipped to
    the largest float the cast takes. NaN is the caller's to replace first.

    Examples
    --------
    >>> import numpy as np
    >>> float_to_integer(np.array([-1e300, 0.0, 2.0**63, 1e300]), np.int64)
    array([-9223372036854775808,                    0,  9223372036854775807,
            9223372036854775807])
    """
    xp = array_module(values)
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype)
    top = float(info.max)
    if int(top) <= info.max:  # up to 32 bits: every bound is a float
        return xp.clip(values, float(info.min), top).astype(dtype)
    result = xp.clip(values, float(info.min), np.nextafter(top, 0.0)).astype(dtype)
    return xp.where(values >= top, dtype.type(info.max), result)


def module_of(array):
    """dask.array for a lazy array, else NumPy or CuPy."""
    if is_lazy_array(array):
        import dask.array as da

        return da
    return array_module(array)


def as_dask(array):
    """A dask array with known chunk sizes for a dask or zarr array (zarr keeps its own chunks)."""
    import dask.array as da

    if type(array).__module__.split(".")[0] != "dask":
        return da.from_array(array, chunks=array.chunks)
    if any(np.isnan(size) for sizes in array.chunks for size in sizes):
        # unknown chunk sizes (after boolean indexing, say): the groups and per-chunk tables need them
        array = array.compute_chunk_sizes()
    return array
