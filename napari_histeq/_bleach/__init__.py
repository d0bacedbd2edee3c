"""Bleach correction of time series (``correct_bleaching``): each frame matched or scaled to a
reference frame; the scale factors (``gains``) and the operation (``correct``).
"""
