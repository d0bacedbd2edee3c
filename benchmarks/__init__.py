"""Side-by-side benchmarks; see run.py. Not tests."""
