"""Adaptive equalisation (CLAHE), OpenCV's variant: the reference, in the engine's three stages.

Not public yet (issue 15 builds ``equalize_adapthist`` on it). The stages:

* histogram: the image (padded as OpenCV pads it) seen as one row per tile,
  counted by the engine's grouped counts (``_accel``: the numba kernels);
* transfer: :class:`ClippedTransfer` clips each tile's histogram, spreads the
  excess as OpenCV does, and scales its cumulative sum in float32;
* apply: :func:`interpolate_tiles` blends the four nearest tiles' tables
  bilinearly, in float32, in OpenCV's order of operations.

Checked bit for bit against ``cv2.createCLAHE(...).apply`` (tests/test_clahe.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _accel
from ._binning import binning_for
from ._placement import CPU_BLOCK_ELEMENTS
from ._validate import as_image


@dataclass(frozen=True)
class ClippedTransfer:
    """OpenCV's CLAHE table of one tile: clip, redistribute, scale the cumulative sum (float32), round."""

    limit: int            # counts above this are clipped (0: no clipping)
    tile_pixels: int
    name: str = "clahe-opencv"
    needs_levels: bool = False

    def values(self, counts, span, integer, levels=None):
        nbins = counts.shape[1]
        counts = counts.copy()
        if self.limit > 0:
            clipped = np.maximum(counts - self.limit, 0).sum(axis=1)
            np.minimum(counts, self.limit, out=counts)
            batch = clipped // nbins
            counts += batch[:, None]
            residual = clipped - batch * nbins
            for tile in np.flatnonzero(residual):  # one more in every step-th bin, from the first
                step = max(nbins // int(residual[tile]), 1)
                counts[tile, ::step][: residual[tile]] += 1
        scale = np.float32(nbins - 1) / np.float32(self.tile_pixels)
        return np.clip(np.rint(np.cumsum(counts, axis=1).astype(np.float32) * scale), 0, span).astype(np.float64)


def clahe_opencv(image, *, clip_limit=40.0, tile_grid=(8, 8)):
    """``cv2.createCLAHE(clip_limit, (tile_grid[1], tile_grid[0])).apply(image)``, bit for bit.

    Parameters
    ----------
    image : 2D uint8 or uint16 array
    clip_limit : float
        OpenCV's clipLimit (0: no clipping).
    tile_grid : (int, int)
        Tiles along rows and along columns.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq._clahe import clahe_opencv
    >>> clahe_opencv(np.arange(64, dtype=np.uint8).reshape(8, 8), tile_grid=(2, 2))[0, :4]
    array([16, 32, 48, 48], dtype=uint8)
    """
    image = as_image(image)
    if image.ndim != 2 or image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"OpenCV's CLAHE takes 2D uint8 or uint16 images, got {image.ndim}D {image.dtype}")
    tiles_y, tiles_x = (int(n) for n in tile_grid)
    if tiles_y < 1 or tiles_x < 1:
        raise ValueError(f"tile_grid must be at least (1, 1), got {tile_grid!r}")
    if not clip_limit >= 0:
        raise ValueError(f"clip_limit must be 0 or more, got {clip_limit!r}")
    padded = _padded(image, tiles_y, tiles_x)
    tile_shape = (padded.shape[0] // tiles_y, padded.shape[1] // tiles_x)
    tile_pixels = tile_shape[0] * tile_shape[1]
    rows = padded.reshape(tiles_y, tile_shape[0], tiles_x, tile_shape[1]).transpose(0, 2, 1, 3)
    rows = np.ascontiguousarray(rows).reshape(tiles_y * tiles_x, tile_pixels)
    binning = binning_for(image.dtype, None, None)
    counts = _accel.grouped_counts(np, rows, None, binning, CPU_BLOCK_ELEMENTS)
    nbins = binning.nbins
    # OpenCV's own cast: (clipLimit * tileSizeTotal) / histSize in double, truncated, at least 1
    limit = max(int(clip_limit * tile_pixels / nbins), 1) if clip_limit > 0 else 0
    tables = _accel.tables_from_counts(counts, binning, ClippedTransfer(limit, tile_pixels), 0, nbins - 1, image.dtype)
    return interpolate_tiles(image, tables.reshape(tiles_y, tiles_x, nbins), tile_shape)


def _padded(image, tiles_y, tiles_x):
    """OpenCV pads the bottom and the right (reflect-101) whenever either size does not divide."""
    rows, cols = image.shape
    if rows % tiles_y == 0 and cols % tiles_x == 0:
        return image
    return np.pad(image, ((0, tiles_y - rows % tiles_y), (0, tiles_x - cols % tiles_x)), mode="reflect")


def interpolate_tiles(image, tables, tile_shape):
    """Each pixel through the tables of its four nearest tiles, blended bilinearly (float32, OpenCV's order)."""
    tiles_y, tiles_x, _ = tables.shape
    y1, y2, ya = _neighbours(image.shape[0], tile_shape[0], tiles_y)
    x1, x2, xa = _neighbours(image.shape[1], tile_shape[1], tiles_x)
    ya1, xa1 = np.float32(1) - ya, np.float32(1) - xa
    values = image.astype(np.intp)

    def lut(ty, tx):
        return tables[ty[:, None], tx[None, :], values].astype(np.float32)

    top = lut(y1, x1) * xa1 + lut(y1, x2) * xa
    bottom = lut(y2, x1) * xa1 + lut(y2, x2) * xa
    blended = top * ya1[:, None] + bottom * ya[:, None]
    return np.clip(np.rint(blended), 0, np.iinfo(image.dtype).max).astype(image.dtype)


def _neighbours(size, tile, tiles):
    """For each position: its two nearest tile indices along one axis and the weight of the second."""
    position = np.arange(size, dtype=np.float32) * (np.float32(1) / np.float32(tile)) - np.float32(0.5)
    first = np.floor(position)
    weight = position - first
    first = first.astype(np.intp)
    return np.maximum(first, 0), np.minimum(first + 1, tiles - 1), weight
