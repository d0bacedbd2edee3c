"""Histogram equalisation for microscopy and medical images, on the GPU with
CuPy where there is one and with NumPy otherwise; a napari plugin.

Importing this package needs NumPy alone: napari, Qt and CuPy load only when
they are used.
"""

from ._adapthist import equalize_adapthist
from ._api import Equalization, Histogram, equalize, fit_equalization, histogram
from ._backend import BackendInfo, backend_info
from ._binning import Binning
from ._bleach import correct_bleaching
from ._matching import match_histograms
from ._napari.layers import add_equalized, equalize_layer
from ._plot import plot_histograms
from ._rgb import equalize_rgb
from ._samples import bleaching_series, dark_stack, dark_xray
from ._stats import HistogramStats, histogram_stats

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("napari-histeq")
except PackageNotFoundError:  # a source tree on PYTHONPATH, never installed
    __version__ = "0+unknown"

__all__ = [
    "BackendInfo",
    "Binning",
    "Equalization",
    "Histogram",
    "HistogramStats",
    "add_equalized",
    "backend_info",
    "bleaching_series",
    "correct_bleaching",
    "dark_stack",
    "dark_xray",
    "equalize",
    "equalize_adapthist",
    "equalize_layer",
    "equalize_rgb",
    "fit_equalization",
    "histogram",
    "histogram_stats",
    "match_histograms",
    "plot_histograms",
]
