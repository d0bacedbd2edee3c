"""Make the README's figures from the built-in samples: python docs/make_figures.py"""

from pathlib import Path

import imageio.v3 as iio
import numpy as np

from napari_histeq import dark_xray, equalize, plot_histograms

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


if __name__ == "__main__":
    print(f"wrote {before_after()} and {histograms()}")
