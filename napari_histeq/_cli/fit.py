"""``napari-histeq fit``: one model fitted on many files, saved: an equalisation (their counts pooled) or a
standardisation (their landmarks averaged).

``napari-histeq batch --model FILE`` then applies it to any files of that dtype:
the frames of a time lapse, the wells of a plate, the scans of a study get one
table, so their intensities stay comparable.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from .._engine.backend import BACKENDS
from .._equalization.model import fit_equalization_pooled
from .._equalization.variants import VARIANTS
from .._standardization.standardize import DEFAULT_CUTOFF, fit_standardization
from .files import read_image
from .masks import mask_path, read_mask
from .method_args import _out_range


def build_fit_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-histeq fit",
        description="Fit one model on many images and save it for 'napari-histeq batch --model': an "
                    "equalisation (their histograms pooled: one table), or Nyul and Udupa's standardisation "
                    "(their landmarks averaged onto a standard scale, as TorchIO trains it).")
    parser.add_argument("inputs", nargs="+", type=Path, help="image files (any format batch reads; of one dtype "
                                                             "for an equalisation)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the model file to write (.npz)")
    parser.add_argument("--method", choices=("equalize", "standardize"), default="equalize",
                        help="equalize (default): one table for all the images; standardize: MRI scale "
                             "standardisation (float32 results on a 0..100 scale)")
    parser.add_argument("--cutoff", type=_cutoff, default=DEFAULT_CUTOFF, metavar="LOW,HIGH",
                        help="standardize: the quantiles of the outer landmarks (default 0.01,0.99)")
    parser.add_argument("--variant", choices=list(VARIANTS), default="standard")
    parser.add_argument("--nbins", type=int, help="bins for float and 32/64-bit images")
    parser.add_argument("--out-range", type=_out_range, default="dtype", metavar="RANGE",
                        help="dtype (default), image (the images' own min..max) or LO,HI")
    parser.add_argument("--backend", choices=BACKENDS, default="auto")
    parser.add_argument("--mask", type=Path, metavar="PATH",
                        help="count only these pixels (non-zero): a mask file for every input, or a folder of "
                             "masks named as the inputs (scan.tif: scan.*, scan_mask.*)")
    return parser


def _cutoff(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two quantiles LOW,HIGH (say 0.01,0.99), got {text!r}") from None
    return low, high


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
        if args.method == "standardize":
            fitted = fit_standardization(images, masks=masks, cutoff=args.cutoff)
            fitted = replace(fitted, provenance={**fitted.provenance, "inputs": described})
            written = fitted.save(args.output)
        else:
            fitted = fit_equalization_pooled(images, variant=args.variant, nbins=args.nbins,
                                             out_range=args.out_range, backend=args.backend, masks=masks)
            written = fitted.save(args.output, provenance={"inputs": described})
    except (TypeError, ValueError, OSError) as error:
        print(f"napari-histeq fit: error: {error}", file=sys.stderr)
        return 1
    print(f"fitted on {len(images)} image{'s' if len(images) != 1 else ''} ({described[0]['dtype']}): {written}")
    return 0
