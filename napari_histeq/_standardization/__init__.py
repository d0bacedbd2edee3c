"""Histogram standardisation of a study (Nyúl and Udupa's, as TorchIO computes it)."""
