"""The shape the README's Architecture section promises: stage order, the door to the kernels, pluggable transfers."""

import ast
import logging
from pathlib import Path

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import _accel, _backend, _kernels, _pipeline
from napari_histeq._request import request_for
from napari_histeq._variants import standard_values

PACKAGE = Path(__file__).resolve().parents[1] / "napari_histeq"
#: The stage order, ground floor first (README, Architecture): a module imports only its floor and below.
FLOORS = [
    {"_kernels", "_backend", "_samples", "_density", "_variants", "_transfer", "_clipping", "_match_transfer",
     "_bleach_gains"},
    {"_validate", "_groups"},
    {"_binning", "_wrapped", "_request", "_settings", "_placement"},
    {"_histogram", "_apply", "_tiles"},
    {"_accel", "_accel_tiles"},
    {"_pipeline"},
    {"_lazy"},
    {"_api", "_matching", "_clahe"},
    {"_rgb", "_stats", "_bleach", "_adapthist", "_adapthist_lazy"},
    {"_panel", "_plot", "_operations"},
    {"_napari"},
    {"__init__"},
    {"_cli", "__main__"},
]
FLOOR_OF = {name: level for level, names in enumerate(FLOORS) for name in names}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_rooms(path: Path):
    """The top-level rooms of the package that ``path`` imports (relative imports, function-level too)."""
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for a module at the package root
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.level) or node.level - 1 < depth:
            continue  # absolute, or inside its own sub-package
        if node.module:
            yield node.module.split(".")[0]
            continue
        for alias in node.names:  # from . import _apply; from .. import __version__
            is_room = (PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir()
            yield alias.name if is_room else "__init__"


def test_every_module_has_a_floor_and_imports_nothing_above_it():
    for path, room in _modules():
        assert room in FLOOR_OF, f"{path} is in no floor of the stage order: add it to README and here"
        for imported in _imported_rooms(path):
            assert FLOOR_OF[imported] <= FLOOR_OF[room], f"{path} imports {imported}, a floor above it"


def test_no_module_is_much_over_300_lines():
    for path, _ in _modules():
        assert len(path.read_text().splitlines()) <= 320, f"{path} has grown past ~300 lines: split it"


def test_the_door_says_which_code_ran_and_why(caplog, monkeypatch):
    monkeypatch.setenv(_backend.ENV_VAR, "numpy")  # the CPU's door, also where a GPU is the default
    caplog.set_level(logging.DEBUG, logger="napari_histeq")
    kernels_on = _kernels.cpu_kernels() is not None  # off (NAPARI_HISTEQ_JIT=0): that is the reason given
    small = np.zeros((16, 16), np.uint8)
    _pipeline.fit_and_apply(request_for(small, variant="standard"))
    assert _accel.last_route("histogram").path == "reference"
    assert ("under 16384" if kernels_on else _kernels.ENV_VAR) in _accel.last_route("histogram").reason
    assert any("histogram: reference" in message for message in caplog.messages)
    _pipeline.fit_and_apply(request_for(np.zeros((256, 256), np.float16), variant="standard"))
    assert ("float16" if kernels_on else _kernels.ENV_VAR) in _accel.last_route("apply").reason
    if kernels_on:
        _pipeline.fit_and_apply(request_for(np.zeros((256, 256), np.uint8), variant="standard"))
        assert (_accel.last_route("histogram").path, _accel.last_route("transfer").path) == ("numba", "numba")
    monkeypatch.setenv(_kernels.ENV_VAR, "0")
    _pipeline.fit_and_apply(request_for(np.zeros((256, 256), np.uint8), variant="standard"))
    assert _accel.last_route("apply").path == "reference" and _kernels.ENV_VAR in _accel.last_route("apply").reason


class Inverted:
    """A transfer that is not a variant: the standard table upside down (an operation plugged in)."""

    name = "inverted"
    needs_levels = False

    @staticmethod
    def values(counts, span, integer, levels):
        return span - standard_values(counts, span, integer)


@pytest.mark.parametrize("shape", [(64, 48), (300, 300)])
def test_a_new_transfer_plugs_into_the_pipeline_unchanged(rng, shape):
    image = rng.integers(0, 200, shape).astype(np.uint8)
    request = request_for(image, variant="standard")
    tables = _pipeline.fit(request, transfer=Inverted())
    np.testing.assert_array_equal(_pipeline.apply(tables, image), 255 - textbook_equalize(image))
    np.testing.assert_array_equal(_pipeline.fit_and_apply(request, transfer=Inverted()), 255 - textbook_equalize(image))
