"""Backend choice: auto, the environment override, and falling back from a broken CuPy."""

import subprocess
import sys
import types

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
    with pytest.raises(RuntimeError, match="GPU cannot be used.*driver version"):
        equalize(image, backend="cupy")
    monkeypatch.setenv("NAPARI_HISTEQ_BACKEND", "cupy")
    with pytest.raises(RuntimeError, match="NAPARI_HISTEQ_BACKEND=cupy"):
        equalize(image)
