"""Histogram equalisation for microscopy and medical images, on the GPU with
CuPy where there is one and with NumPy otherwise; a napari plugin.

Importing this package needs NumPy alone: napari, Qt and CuPy load only when
they are used.
"""

from ._adaptive.equalize_adapthist import equalize_adapthist
from ._bleach.correct import correct_bleaching
from ._engine.backend import BackendInfo, backend_info
from ._engine.binning import Binning
from ._engine.saved import ModelFileError
from ._equalization.colour import equalize_rgb
from ._equalization.equalize import Equalization, Histogram, equalize, fit_equalization, histogram
from ._equalization.model import fit_equalization_pooled, pooled_histogram
from ._inspect.plot import plot_histograms
from ._inspect.stats import HistogramStats, histogram_stats
from ._matching.match import match_histograms
from ._medical.dicom import read_dicom
from ._medical.nifti import read_nifti, write_nifti
from ._medical.volume import MedicalFileError, Volume
from ._models.load import load_model
from ._napari.layers import add_equalized, equalize_layer
from ._samples import (
    CT_PHANTOM_SPACING,
    MRI_SPACING,
    bleaching_series,
    ct_phantom,
    dark_stack,
    dark_xray,
    mri_bias_field,
)
from ._standardization.standardize import Standardization, fit_standardization
from ._stretch.limits import CT_WINDOWS
from ._stretch.stretch import fit_stretch, fit_stretch_pooled, stretch_contrast, stretch_limits

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("napari-histeq")
except PackageNotFoundError:  # a source tree on PYTHONPATH, never installed
    __version__ = "0+unknown"

__all__ = [
    "CT_PHANTOM_SPACING",
    "CT_WINDOWS",
    "MRI_SPACING",
    "BackendInfo",
    "Binning",
    "Equalization",
    "Histogram",
    "HistogramStats",
    "MedicalFileError",
    "ModelFileError",
    "Standardization",
    "Volume",
    "add_equalized",
    "backend_info",
    "bleaching_series",
    "correct_bleaching",
    "ct_phantom",
    "dark_stack",
    "dark_xray",
    "equalize",
    "equalize_adapthist",
    "equalize_layer",
    "equalize_rgb",
    "fit_equalization",
    "fit_equalization_pooled",
    "fit_standardization",
    "fit_stretch",
    "fit_stretch_pooled",
    "histogram",
    "histogram_stats",
    "load_model",
    "match_histograms",
    "mri_bias_field",
    "plot_histograms",
    "pooled_histogram",
    "read_dicom",
    "read_nifti",
    "stretch_contrast",
    "stretch_limits",
    "write_nifti",
]
