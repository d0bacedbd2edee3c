"""The operations as the front ends see them: what a user picks (``settings``), the registry of
operations and their parameters (``registry``), and one runner for both wings (``run``).
"""
