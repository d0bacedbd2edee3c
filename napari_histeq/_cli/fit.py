"""``napari-histeq fit``: one equalisation fitted on many files (their counts pooled), saved as a model.

``napari-histeq batch --model FILE`` then applies it to any files of that dtype:
the frames of a time lapse, the wells of a plate, the scans of a study get one
table, so their intensities stay comparable.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._engine.backend import BACKENDS
from .._equalization.model import fit_equalization_pooled
from .._equalization.variants import VARIANTS
from .files import read_image
from .masks import mask_path, read_mask
from .method_args import _out_range


def build_fit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-histeq fit",
        description="Fit one equalisation on many images (their histograms pooled) and save it as a model "
                    "for 'napari-histeq batch --model'.")
    parser.add_argument("inputs", nargs="+", type=Path, help="image files of one dtype (any format batch reads)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the model file to write (.npz)")
    parser.add_argument("--variant", choices=list(VARIANTS), default="standard")
    parser.add_argument("--nbins", type=int, help="bins for float and 32/64-bit images")
    parser.add_argument("--out-range", type=_out_range, default="dtype", metavar="RANGE",
                        help="dtype (default), image (the images' own min..max) or LO,HI")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--mask", type=Path, metavar="PATH",
                        help="count only these pixels (non-zero): a mask file for every input, or a folder of "
                             "masks named as the inputs (scan.tif: scan.*, scan_mask.*)")
    return parser


def main_fit(argv) -> int:
    args = build_fit_parser().parse_args(argv)
    images, masks, described = [], [], []
    for path in args.inputs:
        try:
            image = read_image(path)
        except Exception as error:
            print(f"napari-histeq fit: error: {path}: cannot read it as an image: {error}", file=sys.stderr)
            return 1
        if image.colour or image.grey_alpha:
            print(f"napari-histeq fit: error: {path}: a colour image; a model holds grey tables", file=sys.stderr)
            return 1
        try:
            mask = read_mask(path, args.mask, image.data.shape)
        except (OSError, ValueError) as error:
            print(f"napari-histeq fit: error: {path}: {error}", file=sys.stderr)
            return 1
        images.append(image.data)
        masks.append(mask)
        described.append({"name": path.name, "shape": list(image.data.shape), "dtype": str(image.data.dtype),
                          **({} if mask is None else {"mask": mask_path(path, args.mask).name,
                                                      "mask_pixels": int(mask.sum())})})
    try:
        fitted = fit_equalization_pooled(images, variant=args.variant, nbins=args.nbins, out_range=args.out_range,
                                         backend=args.backend, masks=masks)
        written = fitted.save(args.output, provenance={"inputs": described})
    except (TypeError, ValueError, OSError) as error:
        print(f"napari-histeq fit: error: {error}", file=sys.stderr)
        return 1
    print(f"fitted on {len(images)} image{'s' if len(images) != 1 else ''} ({described[0]['dtype']}): {written}")
    return 0
