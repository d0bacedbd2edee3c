"""The operations' flags, made from the registry: shared by ``napari-histeq --headless`` and ``napari-histeq batch``.

Each operation's parameters become ``--flag-name`` options with the
registry's help. How the command line picks an operation is the one thing
written here: ``--method global|adaptive`` equalises (``--variant`` names the
variant), ``--match REFERENCE`` matches (``--matching`` names the variant),
``--bleach VARIANT`` corrects bleaching; without any of them, ``global``.
"""

from __future__ import annotations

import argparse

from .._operations.registry import OPERATIONS, Parameter, methods
from .._operations.settings import Settings

#: The flag that names each operation's variant (bleach correction's is ``--bleach`` itself).
VARIANT_FLAG = {"global": "--variant", "adaptive": "--variant", "match": "--matching", "bleach": "--bleach"}


def _flag_type(parameter: Parameter):
    """Argparse's ``type=`` for a parameter: the registry reads the text; its ValueError is a usage error."""
    def parse(text):
        try:
            return parameter.from_text(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = parameter.name  # argparse names the flag's type in its message
    return parse


_METAVARS = {"ints": "N[,N...]"}


def _add_parameters(group, names, taken: set) -> None:
    """Each parameter of the operations ``names`` as a flag (a flag two operations share is added once)."""
    for name in names:
        for parameter in OPERATIONS[name].parameters:
            if parameter.kind == "image" or parameter.flag in taken:
                continue
            taken.add(parameter.flag)
            group.add_argument(parameter.flag, dest=_dest(name, parameter), help=_help(name, parameter),
                               **({"choices": parameter.choices} if parameter.kind == "choice" else
                                  {"type": _flag_type(parameter),
                                   "metavar": _METAVARS.get(parameter.kind, parameter.name.upper())}))


def _dest(operation: str, parameter: Parameter) -> str:
    return f"{operation}__{parameter.name}"


def _help(operation: str, parameter: Parameter) -> str:
    default = "" if parameter.default is None else f" (default {parameter.default})"
    variants = f" {'/'.join(parameter.variants)}" if parameter.variants else ""
    return f"{operation}{variants}: {parameter.help}{default}"


def add_method_arguments(parser: argparse.ArgumentParser, *, other_operations=False) -> None:
    """The equalising operations' flags; with ``other_operations``, matching's and bleach correction's too."""
    group = parser.add_argument_group("operation")
    group.add_argument("--method", choices=methods(), default=None,
                       help="; ".join(f"{name}: {OPERATIONS[name].help}" for name in methods()))
    variants = [variant for name in methods() for variant in OPERATIONS[name].variant_names]
    group.add_argument("--variant", choices=list(dict.fromkeys(variants)), default=None,
                       help="; ".join(f"{name}: {', '.join(OPERATIONS[name].variant_names)} "
                                      f"({OPERATIONS[name].default_variant})" for name in methods()))
    group.add_argument("--out-range", type=_out_range, default=None, metavar="RANGE",
                       help="the output's range: dtype (the default: the dtype's whole range), image (the "
                            "image's own min..max) or LO,HI (say 0,255 for a CT window shown in 8-bit levels)")
    taken = set()
    _add_parameters(group, methods(), taken)
    group.add_argument("--spacing", type=_spacing, default=None, metavar="Z,Y,X",
                       help="the voxel size along each axis of the image, for --kernel-size-mm (default: "
                            "the NIfTI or DICOM header's)")
    if not other_operations:
        return
    others = parser.add_argument_group("other operations (instead of equalising)")
    chosen = others.add_mutually_exclusive_group()
    match, bleach = OPERATIONS["match"], OPERATIONS["bleach"]
    chosen.add_argument("--match", metavar="REFERENCE", help=f"{match.help} (counted once)")
    chosen.add_argument("--bleach", choices=bleach.variant_names, metavar="VARIANT",
                        help=f"{bleach.help}: {', '.join(bleach.variant_names)}")
    others.add_argument("--time-axis", type=int,
                        help="bleach: the time axis (default: the file's T axis; the first axis of a stack "
                             "whose axes are not named; none for 2D images and z-stacks)")
    # --matching: the match operation's variant and bleach correction's matching parameter (one rule)
    taken.add("--matching")
    others.add_argument("--matching", choices=match.variant_names, default=match.default_variant,
                        help=f"match, bleach histogram: {bleach.parameter('matching').help}")
    _add_parameters(others, ("match", "bleach"), taken)


def _spacing(text: str) -> tuple:
    """``--spacing``: positive numbers separated by commas."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(v > 0 and v != float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas, got {text!r}")
    return values


def _out_range(text: str):
    """``--out-range``: "dtype", "image" or "LO,HI" (whole numbers stay whole)."""
    text = text.strip()
    if text in ("dtype", "image"):
        return text
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected dtype, image or LO,HI, got {text!r}")
    return tuple(int(v) if v.is_integer() else v for v in values)


def settings_from(args, *, out_range="dtype") -> Settings:
    """The command's settings (ValueError for a variant of another operation, a parameter of another
    operation). A ``--match`` reference is named, not read: ``parameters["reference"]`` is its path.
    """
    operation = ("match" if getattr(args, "match", None) is not None
                 else "bleach" if getattr(args, "bleach", None) is not None else args.method or "global")
    if operation not in methods() and (args.method or args.variant):
        flag = "--method" if args.method else "--variant"
        raise ValueError(f"{flag} names {'an operation' if args.method else 'a variant'} of equalisation; "
                         f"--{operation} is another operation ({VARIANT_FLAG[operation]} names its variant)")
    spec = OPERATIONS[operation]
    given = {parameter.name: getattr(args, _dest(operation, parameter), None) for parameter in spec.parameters}
    for name in methods() + ("match", "bleach"):  # flags of another operation: said, never ignored in silence
        for parameter in OPERATIONS[name].parameters:
            flag_value = getattr(args, _dest(name, parameter), None)
            if name != operation and flag_value is not None and parameter.flag != "--matching":
                raise ValueError(f"{parameter.flag} is a parameter of {name}, not of {operation}")
    if operation == "match":
        variant, given["reference"] = args.matching, args.match
    elif operation == "bleach":
        variant, given["matching"] = args.bleach, args.matching if args.bleach == "histogram" else None
    else:
        variant = args.variant
    return Settings(operation=operation, variant=variant, scope=args.scope, nbins=getattr(args, "nbins", None),
                    out_range=getattr(args, "out_range", None) or out_range, backend=args.backend,
                    rgb_mode=args.rgb_mode,
                    parameters={name: value for name, value in given.items() if value is not None})
