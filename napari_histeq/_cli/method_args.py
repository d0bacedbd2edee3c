"""The equalisation method's options, shared by ``napari-histeq --headless`` and ``napari-histeq batch``."""

from __future__ import annotations

import argparse

from .._settings import ADAPTIVE_VARIANTS, METHODS, Settings
from .._variants import VARIANT_NAMES


def whole_numbers(text: str):
    """``"16"`` -> 16; ``"8,32,32"`` -> (8, 32, 32)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None
    return values[0] if len(values) == 1 else values


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("method")
    group.add_argument("--method", choices=METHODS, default="global",
                       help="global: one table for the image; adaptive: CLAHE, a table per region")
    group.add_argument("--variant", choices=(*VARIANT_NAMES, *ADAPTIVE_VARIANTS[:1]), default=None,
                       help=f"global: {', '.join(VARIANT_NAMES)} (standard); adaptive: "
                            f"{', '.join(ADAPTIVE_VARIANTS)} (skimage)")
    group.add_argument("--clip-limit", type=float, help="adaptive: scikit-image's fraction (0.01) or OpenCV's "
                                                        "clipLimit (40)")
    group.add_argument("--kernel-size", type=whole_numbers, metavar="N[,N...]",
                       help="adaptive, skimage: region size per axis (default 1/8 of each)")
    group.add_argument("--tile-grid", type=whole_numbers, metavar="ROWS[,COLS]",
                       help="adaptive: regions per axis (OpenCV's tileGridSize; default 8,8)")


def settings_from(args, *, out_range="dtype") -> Settings:
    """The command's settings (ValueError for a variant of the other method)."""
    tile_grid = args.tile_grid
    if isinstance(tile_grid, int):
        tile_grid = (tile_grid, tile_grid)
    return Settings(args.variant, args.scope, getattr(args, "nbins", None), out_range, args.backend, args.rgb_mode,
                    args.method, args.clip_limit, args.kernel_size, tile_grid)
