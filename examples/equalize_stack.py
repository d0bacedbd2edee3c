"""Equalise a dark 16-bit z-stack plane by plane in a scripted napari session.

python examples/equalize_stack.py
"""

import napari

import napari_histeq

viewer = napari.Viewer(title="napari-histeq example")
source = viewer.add_image(
    napari_histeq.dark_stack(),
    name="cells",
    colormap="magma",
    scale=(0.3, 0.1, 0.1),
    units=("um", "um", "um"),
)

# One histogram per 2D plane, ImageJ's square-root weighted variant. The output
# lands on top of the source (same scale, units, colormap) as "cells equalized";
# running this line again would update that layer instead of adding another.
result = napari_histeq.add_equalized(viewer, source, scope="plane", variant="imagej")
print(result.name, result.metadata["napari_histeq"])

# The same without a viewer: a layer data tuple, ready for viewer._add_layer_from_data
data, kwargs, layer_type = napari_histeq.equalize_layer(source, scope="plane")

# Dock the widget to try the other options interactively.
viewer.window.add_plugin_dock_widget("napari-histeq", "Equalize Histogram")
viewer.canvas.grid.enabled = True

if __name__ == "__main__":
    napari.run()
