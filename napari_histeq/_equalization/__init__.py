"""Global histogram equalisation: one table per histogram group (``equalize``), its variants
(textbook, OpenCV, ImageJ), and colour images (``equalize_rgb``).
"""
