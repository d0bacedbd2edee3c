import numpy as np
import pytest

from napari_histeq import _backend


@pytest.fixture
def cupy():
    """CuPy with a device that answers; the test is skipped, with the reason, where none does."""
    error, _description = _backend._probe_gpu()
    if error is not None:
        pytest.skip(f"no usable GPU: {error}")
    import cupy

    return cupy


@pytest.fixture
def fresh_backend(monkeypatch):
    """Forget the process-wide GPU probe before and after the test."""
    _backend._probe_gpu.cache_clear()
    monkeypatch.delenv(_backend.ENV_VAR, raising=False)
    yield _backend
    _backend._probe_gpu.cache_clear()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
