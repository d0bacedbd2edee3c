"""The shape the docs' architecture page promises: floors of folders, the door to the kernels, pluggable transfers."""

import ast
import logging
from pathlib import Path

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import _kernels
from napari_histeq._engine import accel as _accel
from napari_histeq._engine import backend as _backend
from napari_histeq._engine import pipeline as _pipeline
from napari_histeq._engine.request import request_for
from napari_histeq._equalization.variants import VARIANTS, standard_values

PACKAGE = Path(__file__).resolve().parents[1] / "napari_histeq"
#: The floors, ground first: each room is a folder (or one module); a room imports only its floor and below.
FLOORS = [
    {"_kernels", "_samples", "_medical"},  # numba kernels; the built-in images; DICOM and NIfTI files
    {"_engine"},  # histogram -> transfer -> apply, in memory and lazy; the door to the kernels
    {"_equalization"},  # the operation families, each in its folder
    {"_adaptive", "_matching", "_stretch", "_standardization"},
    {"_bleach", "_models"},
    {"_inspect"},  # statistics, densities, plots
    {"_operations"},  # settings, the registry, the runner both wings share
    {"_napari"},
    {"__init__"},
    {"_cli", "__main__"},
]
FLOOR_OF = {name: level for level, names in enumerate(FLOORS) for name in names}
#: Modules at the package root: every other module lives in a room's folder.
ROOT_MODULES = {"__init__", "__main__", "_samples"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """The package modules that ``path`` imports (relative imports, function-level too), dotted from the package."""
    package = list(path.relative_to(PACKAGE).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.ImportFrom) and node.level):
            continue
        base = package[: len(package) - (node.level - 1)]
        target = base + (node.module.split(".") if node.module else [])
        for alias in node.names:
            candidate = target + [alias.name]
            is_module = (PACKAGE.joinpath(*candidate).with_suffix(".py").exists()
                         or PACKAGE.joinpath(*candidate).is_dir())
            yield ".".join(candidate if is_module else target)


def _room(module: str) -> str:
    return module.split(".")[0] if module else "__init__"


def test_every_module_lives_in_a_room_and_imports_nothing_above_it():
    for path, room in _modules():
        assert room in FLOOR_OF, f"{path} is in no room of the floors: add its folder to the docs and here"
        if path.parent == PACKAGE:
            assert room in ROOT_MODULES, f"{path} sits at the package root: put it in its concern's folder"
        for imported in _imports(path):
            assert FLOOR_OF[_room(imported)] <= FLOOR_OF[room], f"{path} imports {imported}, a floor above it"


def test_the_import_graph_has_no_circle():
    graph = {_module_name(path): set(_imports(path)) for path, _ in _modules()}
    state = {}

    def visit(module, trail):
        if state.get(module) == "done":
            return
        assert state.get(module) != "open", f"an import circle: {' -> '.join(trail + [module])}"
        state[module] = "open"
        for imported in graph.get(module, ()):
            if imported != module and imported in graph and not (module == "" or imported == ""):
                visit(imported, trail + [module])
        state[module] = "done"

    for module in graph:
        visit(module, [])


def test_no_module_is_much_over_300_lines():
    for path, _ in _modules():
        assert len(path.read_text().splitlines()) <= 320, f"{path} has grown past ~300 lines: split it by meaning"


def test_the_engine_names_no_operation():
    """The engine asks a transfer what it can do; no string in its code names an operation or a transfer."""
    from napari_histeq._adaptive.clipping import OpenCVClip, SkimageClip
    from napari_histeq._matching.transfer import FijiMatchTransfer, MatchTransfer

    names = {*VARIANTS, "global", "adaptive", "match", "matching", "bleach", "ratio", "exponential", "stretch",
             OpenCVClip.name, SkimageClip.name, MatchTransfer.name, FijiMatchTransfer.name}
    for path in (PACKAGE / "_engine").glob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        named = {node.value for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and id(node) not in docstrings and node.value in names}
        assert not named, f"{path.name} names {named}: let the transfer declare what it needs instead"


def test_the_door_says_which_code_ran_and_why(caplog, monkeypatch):
    monkeypatch.setenv(_backend.ENV_VAR, "numpy")  # the CPU's door, also where a GPU is the default
    caplog.set_level(logging.DEBUG, logger="napari_histeq")
    kernels_on = _kernels.cpu_kernels() is not None  # off (NAPARI_HISTEQ_JIT=0): that is the reason given
    small = np.zeros((16, 16), np.uint8)
    _pipeline.fit_and_apply(request_for(small, transfer=VARIANTS["standard"]))
    assert _accel.last_route("histogram").path == "reference"
    assert ("under 16384" if kernels_on else _kernels.ENV_VAR) in _accel.last_route("histogram").reason
    assert any("histogram: reference" in message for message in caplog.messages)
    _pipeline.fit_and_apply(request_for(np.zeros((256, 256), np.float16), transfer=VARIANTS["standard"]))
    assert ("float16" if kernels_on else _kernels.ENV_VAR) in _accel.last_route("apply").reason
    if kernels_on:
        _pipeline.fit_and_apply(request_for(np.zeros((256, 256), np.uint8), transfer=VARIANTS["standard"]))
        assert (_accel.last_route("histogram").path, _accel.last_route("transfer").path) == ("numba", "numba")
    monkeypatch.setenv(_kernels.ENV_VAR, "0")
    _pipeline.fit_and_apply(request_for(np.zeros((256, 256), np.uint8), transfer=VARIANTS["standard"]))
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
    request = request_for(image, transfer=VARIANTS["standard"])
    tables = _pipeline.fit(request, transfer=Inverted())
    np.testing.assert_array_equal(_pipeline.apply(tables, image), 255 - textbook_equalize(image))
    np.testing.assert_array_equal(_pipeline.fit_and_apply(request, transfer=Inverted()), 255 - textbook_equalize(image))
