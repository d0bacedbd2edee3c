"""The first view of ``napari-histeq``: room for the image, the widget and the plots at once.

napari opens at about 1090x630 whatever the screen, and docks every plugin
widget in the right column, where the Equalize widget leaves the plots a
strip a few pixels high. The command therefore sizes a first-launch window
to the screen and docks the plots along the bottom, where their three panels
fit in a row. What napari saved for the user wins (a window size, a dock
layout, where the user last moved the plots): it is restored, not overridden.
"""

from __future__ import annotations

#: Share of the screen's free area a first-launch window takes, and the size it never exceeds.
SCREEN_SHARE = 0.92
LARGEST_FIRST_WINDOW = (1800, 1150)
#: Share of the window's height the plots get along the bottom.
PLOTS_SHARE = 0.4


def remembered_dock_areas() -> dict:
    """Where napari will put each plugin dock widget (napari >= 0.6 remembers them); read it before docking."""
    from napari.settings import get_settings

    return dict(getattr(get_settings().application, "plugin_widget_positions", None) or {})


def arrange_first_view(viewer, controls_dock, plots_dock, remembered: dict) -> None:
    """Size the window (first launch only) and give the plots the bottom of it.

    ``controls_dock`` and ``plots_dock`` are the dock widgets napari made for
    the Equalize and the Histogram and CDF widgets; ``remembered`` is
    :func:`remembered_dock_areas` as it was before they were docked.
    """
    from napari.settings import get_settings
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication, QSizePolicy

    settings = get_settings().application
    window = viewer.window._qt_window
    if settings.save_window_state and settings.window_state:
        return  # napari restores the user's own dock layout
    if not (settings.save_window_geometry and settings.window_size):
        screen = (window.screen() or QApplication.primaryScreen()).availableGeometry()
        width = min(int(screen.width() * SCREEN_SHARE), LARGEST_FIRST_WINDOW[0])
        height = min(int(screen.height() * SCREEN_SHARE), LARGEST_FIRST_WINDOW[1])
        window.resize(width, height)
        window.move(screen.x() + (screen.width() - width) // 2, screen.y() + (screen.height() - height) // 2)
    # the controls take the height they need, not the whole column
    controls_dock.widget().setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    # the layer list keeps the full height on the left; the plots span the canvas and the controls
    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
    if remembered.get(plots_dock.name, "bottom") != "bottom":
        return  # where the user last put the plots
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, plots_dock)
    window.resizeDocks([plots_dock], [int(window.height() * PLOTS_SHARE)], Qt.Orientation.Vertical)


def layout_report(viewer, controls_dock, plots_dock) -> dict:
    """Sizes of what the user sees first, in pixels (for tests and the README)."""
    from qtpy.QtWidgets import QApplication, QScrollArea

    window = viewer.window._qt_window
    canvas = viewer.window._qt_viewer.canvas.native
    screen = (window.screen() or QApplication.primaryScreen()).availableGeometry()
    controls = controls_dock.widget()
    scrolls = plots_dock.widget().findChildren(QScrollArea)
    return {
        "screen": [screen.width(), screen.height()],
        "window": [window.width(), window.height()],
        "canvas": [canvas.width(), canvas.height()],
        "controls": {"dock": [controls_dock.width(), controls_dock.height()],
                     "needs_height": controls.minimumSizeHint().height()},
        "plots": {"dock": [plots_dock.width(), plots_dock.height()],
                  "scrolls": any(scroll.verticalScrollBar().isVisible() for scroll in scrolls)},
    }


def screenshot_after_equalize(viewer, widget, plots, path) -> None:
    """Press Equalize, wait for the result and its plots, and save the whole window to ``path``."""
    from napari.qt import get_qapp

    app = get_qapp()
    source = widget.image.value
    widget()
    while widget.running:
        app.processEvents()
    viewer.layers.selection.active = source  # the plots show the source and its result
    app.processEvents()
    while plots.busy:
        app.processEvents()
    viewer.screenshot(str(path), canvas_only=False)
