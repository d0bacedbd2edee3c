"""Make the README's figures from the built-in samples: ``python docs/make_figures.py``."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from napari_histeq import dark_xray, equalize, equalize_adapthist, plot_histograms

DOCS = Path(__file__).resolve().parent


def before_after() -> Path:
    image = dark_xray()
    gap = np.full((image.shape[0], 8), 255, dtype=np.uint8)
    path = DOCS / "before_after.png"
    iio.imwrite(path, np.concatenate([image, gap, equalize(image)], axis=1))
    return path


def histograms() -> Path:
    image = dark_xray()
    path = DOCS / "histograms.png"
    plot_histograms(image, equalize(image), path, title="dark X-ray sample: standard equalisation")
    return path


def adaptive() -> Path:
    """The dark sample as it is, equalised globally, and adaptively (scikit-image's and OpenCV's CLAHE)."""
    image = dark_xray()
    panels = [image, equalize(image), equalize_adapthist(image, clip_limit=0.02),
              equalize_adapthist(image, variant="opencv", clip_limit=3.0)]
    gap = np.full((image.shape[0], 8), 255, dtype=np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    path = DOCS / "adaptive.png"
    iio.imwrite(path, np.concatenate(row, axis=1))
    return path


if __name__ == "__main__":
    print(f"wrote {before_after()}, {histograms()} and {adaptive()}")
