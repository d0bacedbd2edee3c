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
    if remembered.get(plots_dock.name, "bottom") != "bottom":
        return  # where the user last put the plots
    _to_the_bottom(window, plots_dock)


def _to_the_bottom(window, dock) -> None:
    """``dock`` along the bottom of ``window``, under the canvas and the right column, with a share of its height;
    the layer list keeps the full height on the left.
    """
    from qtpy.QtCore import Qt

    window.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.resizeDocks([dock], [int(window.height() * PLOTS_SHARE)], Qt.Orientation.Vertical)


def give_plots_the_bottom(plots, remembered: dict) -> None:
    """The plots' dock moved from a side column to the bottom, the first time it is shown.

    napari docks every plugin widget in the right column, where the plots
    would share a 330-pixel-wide column with the Equalize widget and show
    three panels a few pixels high. Along the bottom their panels fit in a
    row. Where napari remembered a place for the dock before docking it
    (``remembered``, :func:`remembered_dock_areas`: the user put it there),
    or where the dock is floating or already at the bottom, nothing moves.
    """
    from qtpy.QtCore import Qt

    dock, window = _dock_and_window(plots)
    if window is None or dock.isFloating():
        return
    if window.dockWidgetArea(dock) not in (Qt.DockWidgetArea.RightDockWidgetArea,
                                           Qt.DockWidgetArea.LeftDockWidgetArea):
        return
    if dock.objectName() in remembered:
        return
    _to_the_bottom(window, dock)


def _dock_and_window(widget):
    """The dock widget holding ``widget`` and the main window holding the dock, or ``(None, None)``."""
    from qtpy.QtWidgets import QDockWidget, QMainWindow

    dock = widget.parentWidget()
    while dock is not None and not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    window = dock.parentWidget() if dock is not None else None
    return (dock, window) if isinstance(window, QMainWindow) else (None, None)


def fit_side_column(widget) -> None:
    """``widget``'s dock narrowed to the width it asks for, where it stands in a side column wider than
    the image canvas beside it.

    Qt gives a widget docked into an emptied column that column's last width:
    after the plots (700 pixels wide in the right column) moved to the
    bottom, the Equalize widget docked there next took 708 pixels of a
    1089-pixel window and left the image 35. A column the user widened
    themselves, beside a canvas wider than it, is left as it is.
    """
    from qtpy.QtCore import Qt

    dock, window = _dock_and_window(widget)
    if window is None or dock.isFloating() or window.dockWidgetArea(dock) not in (
            Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea):
        return
    wanted = max(dock.sizeHint().width(), dock.minimumSizeHint().width())
    canvas = window.centralWidget()
    if dock.width() > 1.25 * wanted and canvas is not None and canvas.width() < dock.width():
        window.resizeDocks([dock], [wanted], Qt.Orientation.Horizontal)


def fit_side_column_when_shown(widget) -> None:
    """:func:`fit_side_column` once, when ``widget`` (a Qt widget napari docks) is first shown."""
    from qtpy.QtCore import QEvent, QObject, QTimer

    class FirstShow(QObject):
        def eventFilter(self, watched, event):
            if event.type() == QEvent.Type.Show:
                watched.removeEventFilter(self)
                # once napari has finished docking it: resizing a dock inside its own docking crashes Qt
                QTimer.singleShot(0, lambda: fit_side_column(watched))
            return False

    widget.installEventFilter(FirstShow(widget))


def layout_report(viewer, controls_dock, plots_dock) -> dict:
    """Sizes of what the user sees first, in pixels (for tests and the docs): the window, the canvas, the
    controls, each plot's axes, and whether every text of the plots' dock is in view.
    """
    from qtpy.QtWidgets import QApplication, QLabel

    window = viewer.window._qt_window
    canvas = viewer.window._qt_viewer.canvas.native
    screen = (window.screen() or QApplication.primaryScreen()).availableGeometry()
    controls = controls_dock.widget()
    plots = plots_dock.widget()
    figure = getattr(plots_dock.inner_widget(), "figure", None) if hasattr(plots_dock, "inner_widget") else None
    drawn = [] if figure is None else list({tuple(ax.get_position().bounds): ax for ax in figure.axes}.values())
    axes = [[round(ax.bbox.width), round(ax.bbox.height)] for ax in drawn]  # a twin axis is not another plot
    labels = [label for label in plots.findChildren(QLabel) if label.isVisible() and label.text()]
    hidden = [label.text()[:40] for label in labels
              if label.visibleRegion().boundingRect().height() < min(label.height(), label.sizeHint().height())
              or label.height() < label.heightForWidth(label.width())]
    return {
        "screen": [screen.width(), screen.height()],
        "window": [window.width(), window.height()],
        "canvas": [canvas.width(), canvas.height()],
        "controls": {"dock": [controls_dock.width(), controls_dock.height()],
                     "needs_height": controls.minimumSizeHint().height()},
        "plots": {"dock": [plots_dock.width(), plots_dock.height()], "area": _area(window, plots_dock),
                  "axes": axes, "texts_cut": hidden},
    }


def _area(window, dock) -> str:
    from qtpy.QtCore import Qt

    names = {Qt.DockWidgetArea.BottomDockWidgetArea: "bottom", Qt.DockWidgetArea.RightDockWidgetArea: "right",
             Qt.DockWidgetArea.LeftDockWidgetArea: "left", Qt.DockWidgetArea.TopDockWidgetArea: "top"}
    return "floating" if dock.isFloating() else names.get(window.dockWidgetArea(dock), "none")


def screenshot_after_equalize(viewer, widget, plots, path) -> None:
    """Press Equalize, wait for the result and its plots, and save the whole window to ``path``."""
    _press(viewer, widget, plots)  # the plots show the source and its result
    viewer.screenshot(str(path), canvas_only=False)


def plugins_menu_view(screenshot=None, *, window="screen", plots_first=False) -> dict:
    """Plain napari with both widgets added as its Plugins menu adds them, Equalize pressed on the X-ray
    sample: the layout report (:func:`layout_report`), and the window saved to ``screenshot`` if given.

    ``window``: ``"screen"`` sizes the window to the screen as a user would
    maximise it, ``"default"`` leaves napari's own first size (about
    1090x630 on any screen). ``plots_first`` adds the Histogram and CDF
    widget before the Equalize widget. For the tests and the docs'
    screenshots: what a user of plain napari sees.
    """
    import time

    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer()
    if window == "screen":
        screen = QApplication.primaryScreen().availableGeometry()
        viewer.window._qt_window.resize(int(screen.width() * SCREEN_SHARE), int(screen.height() * SCREEN_SHARE))
    viewer.open_sample("napari-histeq", "dark_xray")
    app = QApplication.instance()

    def settle():  # the plots move to the bottom, and a side column narrows, once napari has docked them
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)

    if plots_first:
        plots_dock, plots = viewer.window.add_plugin_dock_widget("napari-histeq", "Histogram and CDF")
        settle()
    controls, widget = viewer.window.add_plugin_dock_widget("napari-histeq", "Equalize Histogram")
    if not plots_first:
        plots_dock, plots = viewer.window.add_plugin_dock_widget("napari-histeq", "Histogram and CDF")
    widget.warm_up.join(60)
    settle()
    screenshot_after_equalize(viewer, widget, plots, screenshot) if screenshot else _press(viewer, widget, plots)
    report = layout_report(viewer, controls, plots_dock)
    viewer.close()
    return report


def _press(viewer, widget, plots) -> None:
    import time

    from napari.qt import get_qapp

    app = get_qapp()
    source = widget.image.value
    widget()
    while widget.running:
        app.processEvents()
    viewer.layers.selection.active = source
    app.processEvents()
    while plots.busy:
        app.processEvents()
    for _ in range(10):  # the dock's layout settles around the numbers' new height
        app.processEvents()
        time.sleep(0.01)
