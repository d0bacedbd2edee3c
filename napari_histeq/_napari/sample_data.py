"""napari sample-data contributions: the built-in dark samples as layers."""

from __future__ import annotations

from .._samples import dark_stack, dark_xray


def dark_xray_sample():
    """A dark, noisy X-ray-like 2D uint8 image."""
    return [(dark_xray(), {"name": "dark X-ray", "colormap": "gray"}, "image")]


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
