"""The front ends are made from the operation registry: a new entry is a new method everywhere, with no branch.

The toy operation below is registered for the test only; the command line's
flags, the settings, the shared runner and (with napari) the Equalize
widget's controls must take it as they take the built-in ones.
"""

import argparse

import numpy as np
import pytest

from napari_histeq._cli import build_parser
from napari_histeq._cli.batch import build_batch_parser
from napari_histeq._cli.method_args import add_method_arguments, settings_from
from napari_histeq._engine.wrapped import array_contract
from napari_histeq._operations import registry
from napari_histeq._operations.registry import OPERATIONS, Operation, Parameter, methods
from napari_histeq._operations.run import run, run_levels
from napari_histeq._operations.settings import Settings


@array_contract
def _inverted(image, *, variant="top", offset=0, mask=None, axis=None, out_range="dtype", backend="auto"):
    """The toy operation: each value mirrored below the dtype's top (or the image's own), plus ``offset``."""
    image = np.asarray(image)
    top = np.iinfo(image.dtype).max if variant == "top" else int(image.max())
    return (top - image.astype(np.int64) + offset).clip(0, np.iinfo(image.dtype).max).astype(image.dtype)


TOY = Operation("invert", "Invert (toy)", _inverted, (("top", "dtype's top"), ("own", "image's own top")),
                "each value mirrored", parameters=(Parameter("offset", "int", "added after", default=0,
                                                             widget={"*": (0, 255, 1, 0)}),))


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(OPERATIONS, "invert", TOY)
    return TOY


def _parse(parser_maker, argv):
    return parser_maker().parse_args(argv)


def test_every_parameter_of_every_method_is_a_flag_of_both_commands():
    for maker in (build_parser, build_batch_parser):
        flags = {option for action in maker()._actions for option in action.option_strings}
        for name in methods():
            assert {parameter.flag for parameter in OPERATIONS[name].parameters} <= flags, (maker, name)
    batch_flags = {option for action in build_batch_parser()._actions for option in action.option_strings}
    assert {parameter.flag for parameter in OPERATIONS["bleach"].parameters if parameter.kind != "image"} - {
        "--matching"} <= batch_flags


def test_a_registered_operation_is_a_method_of_the_command_line_settings_and_runner(toy):
    assert "invert" in methods()
    parser = argparse.ArgumentParser()
    parser.add_argument("--scope", default="layer")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--rgb-mode", default="channels")
    add_method_arguments(parser)
    args = parser.parse_args(["--method", "invert", "--variant", "own", "--offset", "3"])
    settings = settings_from(args)
    assert (settings.operation, settings.variant, settings.parameters) == ("invert", "own", {"offset": 3})
    image = np.array([[0, 10], [20, 40]], np.uint8)
    np.testing.assert_array_equal(run(settings, image), 40 - image + 3)
    results, fitted = run_levels(settings, [image, image[:1, :1]])
    assert fitted is None and [r.shape for r in results] == [(2, 2), (1, 1)]  # no fit: each level alone
    assert settings.record() == {"method": "invert", "variant": "own", "scope": "layer", "nbins": None, "offset": 3}
    with pytest.raises(SystemExit):  # a variant of another method is argparse's to refuse, or Settings'
        settings_from(parser.parse_args(["--method", "invert", "--variant", "bogus"]))


def test_settings_are_keyword_only_and_checked_against_the_registry():
    with pytest.raises(TypeError):
        Settings("standard")  # positional settings were the old, ten-argument shape
    with pytest.raises(ValueError, match="adaptive equalisation's variant must be one of"):
        Settings(operation="adaptive", variant="imagej")
    with pytest.raises(ValueError, match="global has no parameter clip_limit"):
        Settings(operation="global", parameters={"clip_limit": 0.1})
    with pytest.raises(ValueError, match="operation must be one of"):
        Settings(operation="sharpen")
    assert Settings(operation="adaptive").variant == "skimage"
    keywords = Settings(operation="bleach", variant="ratio", parameters={"background": 5.0}).keywords()
    assert keywords == {"method": "ratio", "reference": 0, "background": 5.0, "backend": "auto"}


def test_a_flag_of_another_operation_is_refused_not_ignored(capsys):
    from napari_histeq._cli.batch import main_batch

    assert main_batch(["a.png", "-o", "out", "--clip-limit", "0.1"]) == 2
    assert "--clip-limit is a parameter of adaptive, not of global" in capsys.readouterr().err
    assert main_batch(["a.png", "-o", "out", "--bleach", "ratio", "--variant", "opencv"]) == 2
    assert "--variant names a variant of equalisation" in capsys.readouterr().err


def test_registry_words_are_the_functions_keywords():
    import inspect

    for operation in OPERATIONS.values():
        accepted = inspect.signature(operation.function).parameters
        assert operation.variant_keyword in accepted, operation.name
        for parameter in operation.parameters:
            assert parameter.function_keyword in accepted, (operation.name, parameter.name)
        assert set(operation.takes) <= set(accepted), operation.name


def test_the_registry_refuses_an_unknown_parameter_kind():
    with pytest.raises(ValueError, match="kind"):
        Parameter("x", "complex", "no such kind")
    assert set(registry.KINDS) >= {"float", "int", "ints", "floats", "choice", "text", "image"}


@pytest.mark.parametrize("method", methods())
def test_every_method_runs_through_batch_to_its_summary(tmp_path, capsys, method):
    """A method the registry adds runs from the command line to the end of the summary (stretch once
    failed there, the summary knowing only equalisation's word).
    """
    iio = pytest.importorskip("imageio.v3")
    from napari_histeq import dark_xray
    from napari_histeq._cli.batch import main_batch

    iio.imwrite(tmp_path / "scan.png", dark_xray()[:64, :64])
    assert main_batch([str(tmp_path / "scan.png"), "-o", str(tmp_path / "out"), "--method", method]) == 0
    assert f"1 of 1 files {OPERATIONS[method].done}, 0 failed" in capsys.readouterr().out
