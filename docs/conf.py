"""Sphinx configuration: Markdown pages (MyST), the API reference from the numpydoc docstrings, the
PyData theme (as napari and scikit-image use). Built with warnings as errors in CI (.ci/docs).
"""

import napari_histeq

project = "napari-histeq"
author = "the napari-histeq developers"
copyright = "2026, the napari-histeq developers"
release = napari_histeq.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "numpydoc",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "screenshots/README*", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_typehints = "none"

intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = "napari-histeq"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path = []
