"""Every operation declared once: the widget's controls, the command line's flags and the contract tests
are made from these entries.

Words, the same in code, widget, command line and docs:

* an **operation** is what is done to the image: ``global`` equalisation (one table per histogram),
  ``adaptive`` equalisation (CLAHE), ``match`` (to a reference's histogram) or ``bleach`` correction;
* a **variant** is whose formula an operation follows, bit for bit (scikit-image's, OpenCV's, ImageJ's...);
* a **parameter** is one of an operation's own settings (a clip limit, a background), used by some
  of its variants or by all;
* the **scope** (what one histogram spans), the **backend** and, for colour, the **rgb mode** are
  shared by every operation.

Adding an operation: write its function in its own folder, declare it here with its parameters,
export it from ``__init__``; the widget, the command line and the contract tests follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._adaptive.clahe import DEFAULT_CLIP
from .._adaptive.clahe import VARIANTS as ADAPTIVE_VARIANTS
from .._adaptive.equalize_adapthist import equalize_adapthist
from .._bleach.correct import METHODS as BLEACH_METHODS
from .._bleach.correct import correct_bleaching
from .._equalization.equalize import equalize, fit_equalization
from .._equalization.variants import VARIANTS
from .._matching.match import QUANTILE_VARIANTS, match_histograms
from .._matching.match import VARIANTS as MATCH_VARIANTS
from .._stretch.limits import CT_WINDOWS
from .._stretch.stretch import VARIANTS as STRETCH_VARIANTS
from .._stretch.stretch import stretch_contrast, stretch_limits

#: A parameter's kinds: a number, whole numbers (one, or one per axis), numbers, a choice, words, an image.
KINDS = ("float", "int", "ints", "floats", "choice", "text", "image")


@dataclass(frozen=True)
class Parameter:
    """One setting of an operation.

    ``name`` is the word a user sees: the command line's ``--flag-name`` and
    the widget control's name; ``keyword`` is the function's (``name`` when
    None). ``default`` None leaves the function's own default. ``variants``
    lists the variants it is offered for (None: every one): the widget shows
    it, and its default applies, for those; a value given for another
    variant still goes to the function, which says whether it applies
    there. ``widget`` gives the widget control's ``(min, max, step, value)``
    per variant (``"*"``: any), or its starting text for text kinds.
    ``parse`` turns text (a flag's, a text box's) into the value; without it,
    the kind does (:meth:`from_text`).
    """

    name: str
    kind: str
    help: str
    label: str = ""
    default: Any = None
    choices: tuple = ()
    variants: tuple[str, ...] | None = None
    keyword: str | None = None
    widget: dict = field(default_factory=dict)
    parse: Callable | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a parameter's kind is one of {KINDS}, got {self.kind!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def function_keyword(self) -> str:
        return self.keyword or self.name

    def used_by(self, variant: str) -> bool:
        return self.variants is None or variant in self.variants

    def from_text(self, text):
        """The value ``text`` stands for (ValueError when it stands for none)."""
        return (self.parse or _PARSE_BY_KIND[self.kind])(text)


@dataclass(frozen=True)
class Operation:
    """One operation: its function, its variants, its parameters and what it needs.

    ``variant_keyword``: the function's keyword for the variant. ``needs``:
    ``"reference"`` (an image to match to) or ``"time axis"``. ``colour``: how
    an RGB(A) image runs, ``"rgb"`` (by :func:`napari_histeq.equalize_rgb`'s
    modes) or ``"channels"`` (each colour on its own, by ``channel_axis``).
    ``takes``: which shared settings the function accepts. ``fit``: a fit
    that one pyramid level makes and every level applies, or None (each
    level on its own).
    """

    name: str
    label: str
    function: Callable
    variants: tuple[tuple[str, str], ...]  # (name, label); the first is the default
    help: str
    parameters: tuple[Parameter, ...] = ()
    variant_keyword: str = "variant"
    needs: tuple[str, ...] = ()
    colour: str = "rgb"
    takes: tuple[str, ...] = ("nbins", "out_range", "mask", "axis")
    fit: Callable | None = None
    noun: str = ""  # how messages name it ("adaptive equalisation"); the name when empty
    done: str = "equalised"  # what a summary says was done to the files
    limits: Callable | None = None  # the input values mapped to the output's ends (drawn on the plots)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.variants)

    @property
    def default_variant(self) -> str:
        return self.variants[0][0]

    def parameter(self, name: str) -> Parameter:
        return next(parameter for parameter in self.parameters if parameter.name == name)

    def check_variant(self, variant) -> str:
        if variant not in self.variant_names:
            raise ValueError(f"{self.noun or self.name}'s variant must be one of {self.variant_names}, "
                             f"got {variant!r}")
        return variant

    def keywords(self, variant: str, values: dict) -> dict:
        """The function's keywords for ``variant`` and the parameters' ``values`` (by name): each value
        given, and the defaults of the parameters offered for the variant.
        """
        unknown = set(values) - {parameter.name for parameter in self.parameters}
        if unknown:
            raise ValueError(f"{self.name} has no parameter {', '.join(sorted(unknown))}; its parameters: "
                             f"{', '.join(parameter.name for parameter in self.parameters) or 'none'}")
        out = {self.variant_keyword: variant}
        for parameter in self.parameters:
            value = values.get(parameter.name)
            if value is None and parameter.used_by(variant):
                value = parameter.default
            if value is not None:
                out[parameter.function_keyword] = value
        return out


def parse_numbers(text):
    """``"1, 99"`` -> (1.0, 99.0)."""
    try:
        return tuple(float(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"expected numbers separated by commas, got {text!r}") from None


def parse_whole_numbers(text):
    """``"16"`` -> 16; ``"8,32,32"`` -> (8, 32, 32)."""
    try:
        values = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"expected whole numbers separated by commas, got {text!r}") from None
    return values[0] if len(values) == 1 else values


_PARSE_BY_KIND = {"float": float, "int": int, "ints": parse_whole_numbers, "floats": parse_numbers, "text": str,
                  "choice": str}


def _labelled(names, labels) -> tuple[tuple[str, str], ...]:
    """``(name, label)`` pairs of an operation's variants, the names from its own module."""
    if len(names) != len(labels):
        raise ValueError(f"a label for each variant of {names}, got {labels}")
    return tuple(zip(names, labels))


def parse_window(text):
    """A CT window: a preset's name, or ``"centre,width"``."""
    text = str(text).strip()
    return text if text in CT_WINDOWS else parse_numbers(text)


_CLIP_HELP = "scikit-image's fraction of a region (0.01) or OpenCV's clipLimit (40); 0: no clipping"

OPERATIONS: dict[str, Operation] = {
    operation.name: operation
    for operation in (
        Operation(
            "global", "Global (one table)", equalize,
            tuple((variant.name, variant.label) for variant in VARIANTS.values()),
            "one table for each histogram: the textbook formula, OpenCV's or ImageJ's",
            fit=fit_equalization, noun="global equalisation",
        ),
        Operation(
            "adaptive", "Adaptive (CLAHE)", equalize_adapthist,
            _labelled(ADAPTIVE_VARIANTS, ("scikit-image", "OpenCV")),
            "contrast-limited adaptive equalisation: a table per region, blended between regions",
            parameters=(
                Parameter("clip_limit", "float", _CLIP_HELP, "clip limit",
                          widget={"skimage": (0.0, 1.0, 0.005, DEFAULT_CLIP["skimage"]),
                                  "opencv": (0.0, 1000.0, 0.5, DEFAULT_CLIP["opencv"])}),
                Parameter("kernel_size", "ints", "region size per axis (default 1/8 of each)",
                          "region size (px, 0: 1/8)", variants=("skimage",), widget={"*": (0, 1 << 20, 1, 0)}),
                Parameter("kernel_size_mm", "floats", "region size in the voxel size's units (mm for CT and MRI, "
                          "um for microscopy), one for every axis or one per axis; the voxel size comes from "
                          "the layer's scale or the file (NIfTI, DICOM), or --spacing; instead of kernel_size",
                          "region size (scale units)", variants=("skimage",), widget={"*": ""}),
                Parameter("tile_grid", "ints", "regions per axis (OpenCV's tileGridSize; default 8,8)",
                          "tiles per side", variants=("opencv",), widget={"*": (1, 512, 1, 8)}),
            ),
            noun="adaptive equalisation",
        ),
        Operation(
            "stretch", "Contrast stretch", stretch_contrast,
            _labelled(STRETCH_VARIANTS, ("ImageJ (saturated %)", "Percentiles", "CT window (DICOM)",
                                         "CT window (DICOM, exact)")),
            "a linear map between two limits: ImageJ's saturated pixels, two percentiles, or a CT window",
            parameters=(
                Parameter("saturated", "float", "percent of the pixels saturated, half at each end",
                          "saturated %", default=0.35, variants=("imagej",), widget={"*": (0.0, 99.9, 0.05, 0.35)}),
                Parameter("percentiles", "floats", "the low and high percentiles, as 'low,high'", "percentiles",
                          default=(1.0, 99.0), variants=("percentile",), widget={"*": "1, 99"}),
                Parameter("window", "text", f"'centre,width' in the image's units, or a CT preset: "
                          f"{', '.join(CT_WINDOWS)}", "window", variants=("window", "window-exact"),
                          widget={"*": "brain"}, parse=parse_window),
            ),
            takes=("out_range", "mask", "axis"), noun="the contrast stretch", done="stretched", limits=stretch_limits,
        ),
        Operation(
            "match", "Match to a reference", match_histograms,
            _labelled(MATCH_VARIANTS, ("scikit-image (interpolated)", "Fiji (discrete levels, 8/16-bit)",
                                       "ITK (a few quantiles, MRI)")),
            "each image's histogram matched to a reference image's",
            parameters=(Parameter("reference", "image", "the image (or its counted distribution) to match to",
                                  "reference"),
                        Parameter("levels", "int", "ITK's histogram levels (NumberOfHistogramLevels)", "levels",
                                  default=256, variants=("itk",), widget={"*": (1, 1 << 16, 1, 256)}),
                        Parameter("match_points", "int", "ITK's quantiles matched (NumberOfMatchPoints)",
                                  "match points", default=1, variants=("itk",), widget={"*": (1, 1000, 1, 1)})),
            needs=("reference",), colour="channels", takes=("mask", "axis"), noun="matching", done="matched",
        ),
        Operation(
            "bleach", "Bleach correction", correct_bleaching,
            _labelled(BLEACH_METHODS, ("histogram matching", "simple ratio", "exponential fit")),
            "photobleaching corrected along time: each time point matched or scaled to a reference time point",
            variant_keyword="method",
            parameters=(
                Parameter("reference_frame", "int", "the time point to correct to", "reference time point",
                          default=0, keyword="reference", widget={"*": (0, 1 << 20, 1, 0)}),
                Parameter("background", "float", "the background subtracted before the ratio", "background",
                          default=0.0, variants=("ratio",), widget={"*": (-1e9, 1e9, 1.0, 0.0)}),
                Parameter("matching", "choice", "scikit-image's interpolation or Fiji's discrete lookup",
                          "matching", default="skimage", choices=QUANTILE_VARIANTS, variants=("histogram",),
                          keyword="variant"),
            ),
            needs=("time axis",), colour="channels", takes=("mask", "axis"), noun="bleach correction",
            done="bleach-corrected",
        ),
    )
}


def methods() -> tuple[str, ...]:
    """The operations that need nothing but the image, the *methods*: the Equalize widget's choices and the
    command line's ``--method`` (those that need a reference or a time axis have their own widget and flags).
    """
    return tuple(name for name, operation in OPERATIONS.items() if not operation.needs)


def operation_choices(names=tuple(OPERATIONS)) -> list[tuple[str, str]]:
    """``(label, name)`` pairs, as magicgui's ComboBox takes them."""
    return [(OPERATIONS[name].label, name) for name in names]
