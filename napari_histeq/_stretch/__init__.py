"""Contrast stretch (``stretch_contrast``): limits from the histogram (ImageJ's saturated pixels,
percentiles as MONAI computes them) or a CT window (DICOM's VOI function), then a linear map between
them. The limits (``limits``), the transfer the engine builds tables from (``transfer``), the operation
(``stretch``).
"""
