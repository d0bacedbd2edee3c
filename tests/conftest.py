import sys

import numpy as np
import pytest

from napari_histeq._engine import backend as _backend


def pytest_addoption(parser):
    parser.addoption("--host-cupy", action="store_true",
                     help="put tests/host_cupy.py, a strict stand-in for CuPy on the host, in CuPy's place: "
                          "checks of how the CuPy path calls CuPy (no GPU runs, and no GPU figure comes of it)")


def pytest_configure(config):
    if config.getoption("--host-cupy"):
        import host_cupy

        sys.modules["cupy"] = host_cupy.module()  # probed, described and picked as CuPy is
        _backend._probe_gpu.cache_clear()


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
