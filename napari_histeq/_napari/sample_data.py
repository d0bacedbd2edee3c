"""napari sample-data contributions: the built-in dark samples as layers."""

from __future__ import annotations

from .._samples import (
    CT_PHANTOM_SPACING,
    MRI_SPACING,
    bleaching_series,
    ct_phantom,
    dark_stack,
    dark_xray,
    mri_bias_field,
)


def dark_xray_sample():
    """A dark, noisy X-ray-like 2D uint8 image, 0.1 mm pixels.

    Every sample has physical units, so that any of them open together
    without napari's "inconsistent units" warning (a unitless layer beside
    one in micrometres is inconsistent).
    """
    return [(dark_xray(), {"name": "dark X-ray", "colormap": "gray", "scale": (0.1, 0.1), "units": ("mm", "mm"),
                           "axis_labels": ("y", "x")}, "image")]


def dark_stack_sample():
    """A dark 16-bit 3D fluorescence stack (32 planes), 0.3 x 0.1 x 0.1 um voxels."""
    return [
        (
            dark_stack(),
            {
                "name": "dark stack",
                "colormap": "magma",
                "scale": (0.3, 0.1, 0.1),
                "units": ("um", "um", "um"),
                "axis_labels": ("z", "y", "x"),
                "contrast_limits": (0, 65535),
            },
            "image",
        )
    ]


def bleaching_series_sample():
    """A 2D+t uint16 time lapse that bleaches (40 time points), 0.2 um pixels, 5 s apart."""
    return [
        (
            bleaching_series(),
            {
                "name": "bleaching series",
                "colormap": "green",
                "scale": (5.0, 0.2, 0.2),
                "units": ("s", "um", "um"),
                "axis_labels": ("t", "y", "x"),
            },
            "image",
        )
    ]


def ct_phantom_sample():
    """A CT-like volume in Hounsfield units (int16), 2.5 x 0.7 x 0.7 mm voxels, shown through a soft-tissue
    window (centre 40, width 400).
    """
    return [(ct_phantom(), {"name": "CT phantom", "colormap": "gray", "scale": CT_PHANTOM_SPACING,
                            "units": ("mm", "mm", "mm"), "axis_labels": ("z", "y", "x"),
                            "contrast_limits": (-160, 240)}, "image")]


def mri_sample():
    """An MRI-like float32 volume under a smooth bias field, 3 x 1 x 1 mm voxels."""
    return [(mri_bias_field(), {"name": "MRI bias field", "colormap": "gray", "scale": MRI_SPACING,
                                "units": ("mm", "mm", "mm"), "axis_labels": ("z", "y", "x")}, "image")]
