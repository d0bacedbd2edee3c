"""Screenshot of napari with the dark sample and its equalised copy side by side,
the Equalize Histogram widget docked: python docs/make_screenshot.py

Needs a display; on a headless machine run it under xvfb-run.
"""

from pathlib import Path

import napari

DOCS = Path(__file__).resolve().parent


def main() -> Path:
    viewer = napari.Viewer(title="napari-histeq")
    viewer.window.resize(1400, 760)
    viewer.open_sample("napari-histeq", "dark_xray")
    _, widget = viewer.window.add_plugin_dock_widget("napari-histeq", "Equalize Histogram")
    widget()
    while widget.running:
        napari.qt.get_qapp().processEvents()
    viewer.canvas.grid.enabled = True
    viewer.layers.selection.active = viewer.layers["dark X-ray"]
    napari.qt.get_qapp().processEvents()
    viewer.reset_view()
    napari.qt.get_qapp().processEvents()
    path = DOCS / "viewer.png"
    viewer.screenshot(str(path), canvas_only=False)
    viewer.close()
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
