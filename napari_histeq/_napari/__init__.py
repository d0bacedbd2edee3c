"""Everything napari: the layer functions (no Qt), the two dock widgets, their worker, sample data, the window.

Nothing below this package imports it; napari and Qt load only when it is used.
"""
