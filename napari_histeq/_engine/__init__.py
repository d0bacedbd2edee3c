"""The engine: histogram -> transfer -> apply, for every operation that maps levels through tables.

Modules, ground floor first: ``backend`` (NumPy or CuPy, dask), ``validate``
(every check and its message), ``groups`` (which pixels share a histogram),
``binning`` (bins per dtype), ``wrapped`` (masked arrays, xarray),
``request`` (one call's arguments, checked once), ``placement`` (where the
result goes: ``out=``, device), ``transfer`` (counts -> tables, the
reference), ``histogram`` and ``apply`` (the reference stages),
``accel`` (the door to the numba kernels), ``pipeline``
(the stages in order, in memory) and ``lazy`` (the same over dask chunks).

The engine knows no operation by name: an operation hands it a *transfer*,
which says how counts become tables and which kernels can build them.
"""
