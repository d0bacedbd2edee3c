"""Histogram matching (``match_histograms``): the target's transfer (``transfer``) and the
operation over levels, exact floats, and dask (``match``).
"""
