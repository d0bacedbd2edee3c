"""Adaptive equalisation (CLAHE, ``equalize_adapthist``) in 2D and 3D: scikit-image's and
OpenCV's variants, their clipping (``clipping``), region grids and blends (``tiles``), the
plan and per-block run (``clahe``) and its lazy form (``lazy``).
"""
