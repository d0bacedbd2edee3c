"""Backend choice: auto, the environment override, and falling back from a broken CuPy."""

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from napari_histeq import backend_info, equalize


def test_import_needs_numpy_alone():
    code = (
        "import sys, napari_histeq; "
        "heavy = [m for m in ('napari', 'qtpy', 'PyQt6', 'magicgui', 'cupy', 'numba', 'matplotlib', 'dask', 'zarr') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_auto_is_numpy_without_cupy(fresh_backend):
    try:
        import cupy  # noqa: F401
    except ImportError:
        info = backend_info()
        assert info.name == "numpy" and str(info) == "numpy: cupy is not installed"
    else:
        pytest.skip("cupy is installed here")


def test_environment_override(fresh_backend, monkeypatch):
    monkeypatch.setenv("NAPARI_HISTEQ_BACKEND", "numpy")
    info = backend_info()
    assert info.name == "numpy" and "NAPARI_HISTEQ_BACKEND=numpy" in str(info)
    monkeypatch.setenv("NAPARI_HISTEQ_BACKEND", "metal")
    with pytest.raises(ValueError, match="NAPARI_HISTEQ_BACKEND"):
        backend_info()


@pytest.fixture
def broken_cupy(fresh_backend, monkeypatch):
    """A CuPy that imports (as a pip wheel without a driver does) but fails on first use."""
    module = types.ModuleType("cupy")
    module.__version__ = "14.0.0"

    def arange(*args, **kwargs):
        raise RuntimeError("CUDA driver version is insufficient for CUDA runtime version")

    module.arange = arange
    monkeypatch.setitem(sys.modules, "cupy", module)
    return module


def test_broken_cupy_falls_back_with_the_reason(broken_cupy):
    info = backend_info()
    assert info.name == "numpy"
    assert "cupy 14.0.0 imported but no CUDA device answered" in str(info)
    assert "driver version is insufficient" in str(info)
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert isinstance(equalize(image), np.ndarray)


def test_asking_for_cupy_without_a_gpu_raises(broken_cupy, monkeypatch):
    image = np.arange(16, dtype=np.uint8)
    with pytest.raises(RuntimeError, match=r"GPU cannot be used.*driver version"):
        equalize(image, backend="cupy")
    monkeypatch.setenv("NAPARI_HISTEQ_BACKEND", "cupy")
    with pytest.raises(RuntimeError, match="NAPARI_HISTEQ_BACKEND=cupy"):
        equalize(image)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_child_forked_after_the_gpu_answered_asks_again(fresh_backend, monkeypatch):
    # CUDA does not survive fork: in a child forked after the parent used the GPU, every CUDA call
    # fails with an initialization error. The child must not inherit the parent's "the GPU answers".
    sys.path.insert(0, str(Path(__file__).parent))
    import host_cupy

    module, parent = host_cupy.module(), os.getpid()

    def arange(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("cudaErrorInitializationError: initialization error")
        return host_cupy.ndarray(np.arange(*args, **kwargs))

    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(module, "arange", arange, raising=False)
    assert backend_info().name == "cupy"
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report what auto picks, then leave without running pytest's exit
        try:
            info = backend_info()
            os.write(write, f"{info.name}|{info.reason}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        name, reason = answer.read().split("|", 1)
    os.waitpid(child, 0)
    assert name == "numpy" and "initialization error" in reason
    assert backend_info().name == "cupy"  # the parent keeps its answer
