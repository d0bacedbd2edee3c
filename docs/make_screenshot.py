"""Screenshot of napari with the dark sample and its equalised copy side by side,
the Equalize Histogram widget docked: python docs/make_screenshot.py

Needs a display; on a headless machine run it under xvfb-run.
"""

from pathlib import Path

import napari

from napari_histeq._histogram_widget import HistogramWidget

DOCS = Path(__file__).resolve().parent


def main() -> Path:
    viewer = napari.Viewer(title="napari-histeq")
    viewer.window.resize(1500, 1080)
    viewer.open_sample("napari-histeq", "dark_xray")
    _, widget = viewer.window.add_plugin_dock_widget("napari-histeq", "Equalize Histogram")
    plots = HistogramWidget(viewer)  # docked at the bottom, where the three plots fit in a row
    viewer.window.add_dock_widget(plots, name="Histogram and CDF (napari-histeq)", area="bottom")
    widget()
    while widget.running:
        napari.qt.get_qapp().processEvents()
    viewer.canvas.grid.enabled = True
    viewer.layers.selection.active = viewer.layers["dark X-ray"]
    napari.qt.get_qapp().processEvents()
    while plots.busy:
        napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    path = DOCS / "viewer.png"
    viewer.screenshot(str(path), canvas_only=False)
    viewer.close()
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
