"""A strict stand-in for CuPy on the host: the GPU suite's API checks where no GPU is.

It computes with NumPy, so it proves nothing about a GPU, its speed or its
arithmetic. What it proves is that the CuPy path asks only what CuPy 14 gives,
in the way CuPy gives it, so that the first run on a real device is not spent on
that:

* device arrays are their own type (``cupy.ndarray``, module ``cupy``), and
  turning one into a NumPy array implicitly raises ``TypeError`` as CuPy does
  (``np.asarray(a)``); ``a.get()`` and ``cupy.asnumpy(a)`` are the ways out;
* functions and array methods exist only where CuPy has them, and take only the
  parameters CuPy's signatures name (``tests/data/cupy_api.json``, made by
  ``tests/data/make_cupy_api.py`` from an installed CuPy);
* a NumPy array handed to a CuPy function, operator or ufunc is refused with
  CuPy's ``TypeError`` (only ``asarray`` and its kin take host data);
* reductions give 0-d device arrays, not NumPy scalars;
* ``cuda.runtime.memGetInfo`` reports ``free_bytes`` (settable), so the code that
  splits work into blocks for a small GPU runs.
"""

from __future__ import annotations

import functools
import json
import operator
import types
from pathlib import Path

import numpy as np

API = json.loads((Path(__file__).parent / "data" / "cupy_api.json").read_text())
IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")


def _checker(name: str, params: str | None):
    """A function that raises TypeError unless ``params`` (CuPy's parameter list) binds the call."""
    if params is None:
        return None
    namespace = {}
    exec(f"def {name}({params}): pass", {"None": None, "True": True, "False": False}, namespace)
    return namespace[name]


def _refuse_host_arrays(name, args, kwargs):
    for value in (*args, *kwargs.values()):
        items = value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            if isinstance(item, np.ndarray) and item.ndim > 0:
                raise TypeError(f"cupy.{name}: Unsupported type {type(item)} (a NumPy array on the host)")


def _unwrap(value):
    if isinstance(value, ndarray):
        return value._data
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic):  # CuPy reduces to 0-d device arrays
        return ndarray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _device_function(name, numpy_function, checker=None):
    """``numpy_function`` behind CuPy's rules for ``cupy.<name>``."""

    def call(*args, **kwargs):
        return _device_call(name, numpy_function, args, kwargs, checker=checker)

    call.__name__ = name
    return call


def _device_call(name, numpy_function, args, kwargs, *, checker=None):
    if checker is not None:
        try:
            checker(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"cupy.{name} does not take this call: {error}") from None
    _refuse_host_arrays(name, args, kwargs)  # the functions that take host data are HostCuPy's own methods
    return _wrap(numpy_function(*_unwrap(args), **_unwrap(kwargs)))


class ndarray:
    """A device array: NumPy data behind CuPy's rules."""

    __array_priority__ = 100

    def __init__(self, data: np.ndarray):
        self._data = data

    # what NumPy asks of an array-like
    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not hasattr(ufunc, "__name__") or ufunc.__name__ not in API["functions"]:
            return NotImplemented
        return _device_call(ufunc.__name__, getattr(ufunc, method), inputs, kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        name = func.__name__
        if name not in API["functions"]:
            return NotImplemented  # NumPy then raises TypeError, as with CuPy
        return getattr(_MODULE, name)(*args, **kwargs)

    # attributes
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    nbytes = property(lambda self: self._data.nbytes)
    itemsize = property(lambda self: self._data.itemsize)
    strides = property(lambda self: self._data.strides)
    flags = property(lambda self: self._data.flags)
    T = property(lambda self: ndarray(self._data.T))
    real = property(lambda self: ndarray(self._data.real))
    imag = property(lambda self: ndarray(self._data.imag))
    base = property(lambda self: None)

    def get(self, stream=None, order="C", out=None, blocking=True):
        if out is not None:
            out[...] = self._data
            return out
        return np.array(self._data, order=order)

    def set(self, arr, stream=None):
        self._data[...] = arr

    def __getattr__(self, name):
        if name.startswith("_") or name not in API["ndarray"]:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        method = getattr(self._data, name)
        checker = _checker(name, API["ndarray"][name])
        bound = None if checker is None else functools.partial(checker, self)
        return _device_function(f"ndarray.{name}", method, bound)

    # indexing, length, conversion to Python scalars (CuPy copies these to the host)
    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key, value):
        self._data[_unwrap(key)] = _unwrap(value)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return (_wrap(row) for row in self._data)

    def __bool__(self):
        return bool(self._data)

    def __int__(self):
        return int(self._data)

    def __float__(self):
        return float(self._data)

    def __index__(self):
        return operator.index(self._data.item()) if self._data.ndim == 0 else operator.index(self._data)

    def __repr__(self):
        return f"array({self._data!r}) on the host stand-in"


def _operator(name, reflected=False):
    """The array's ``__name__`` (``__rname__`` when ``reflected``), with the operands as CuPy checks them."""
    numpy_function = getattr(operator, f"__{name}__")

    def method(self, *others):
        operands = (*others, self) if reflected else (self, *others)
        return _device_call(name, numpy_function, operands, {})

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor", "lshift", "rshift",
              "matmul", "lt", "le", "eq", "ne", "gt", "ge", "neg", "pos", "abs", "invert", "iadd", "isub", "imul",
              "itruediv", "ifloordiv", "imod", "iand", "ior", "ixor"):
    setattr(ndarray, f"__{_name}__", _operator(_name))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor"):
    setattr(ndarray, f"__r{_name}__", _operator(_name, reflected=True))
ndarray.__hash__ = None
ndarray.__module__ = "cupy"  # how napari_histeq (and dask) tell a device array


class _MemoryPool:
    def free_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


class OutOfMemoryError(MemoryError):
    """CuPy's ``cuda.memory.OutOfMemoryError``."""


class _Runtime:
    free_bytes = 8 << 30  # a small GPU: big images take the path that moves them in blocks
    total_bytes = 16 << 30

    def memGetInfo(self):
        return self.free_bytes, self.total_bytes

    def getDeviceProperties(self, device):
        return {"name": b"host stand-in (no GPU)"}

    def runtimeGetVersion(self):
        return 13000


class _Device:
    def __init__(self, device=0):
        self.id = device


class HostCuPy(types.ModuleType):
    """The module: ``cupy`` as far as this project and its tests use it."""

    ndarray = ndarray
    ufunc = np.ufunc

    def __init__(self):
        super().__init__("cupy", __doc__)
        self.__version__ = API["cupy"]  # the API it copies (xarray and dask parse this)
        self.host_stand_in = True
        self.cuda = types.SimpleNamespace(
            runtime=_Runtime(), Device=_Device, memory=types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError))
        self._pool = _MemoryPool()

    def get_default_memory_pool(self):
        return self._pool

    def get_array_module(self, *args):
        return self if any(isinstance(a, ndarray) for a in args) else np

    def asarray(self, a, dtype=None, order=None, *, copy=None, blocking=False):
        """Host data is copied to the device; a device array stays itself where it can."""
        if isinstance(a, ndarray):
            data = np.asarray(a._data, dtype=dtype, order=order or "K")
            if data is a._data:
                return ndarray(data.copy()) if copy else a
            return ndarray(data)
        return ndarray(np.array(_unwrap(a), dtype=dtype, order=order or "K", copy=True))

    asanyarray = asarray

    def array(self, obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
        if isinstance(obj, ndarray) and not copy:
            return self.asarray(obj, dtype=dtype, order=order)
        return ndarray(np.array(_unwrap(obj), dtype=dtype, order=order, copy=True, ndmin=ndmin))

    def asnumpy(self, a, stream=None, order="C", out=None, blocking=True):
        return a.get(order=order, out=out) if isinstance(a, ndarray) else np.asarray(a, order=order)

    def __getattr__(self, name):
        if name in API["numpy_objects"]:
            return getattr(np, name)
        if name not in API["functions"]:
            raise AttributeError(f"module 'cupy' has no attribute {name!r}")
        numpy_function = getattr(np, name, None)
        if numpy_function is None:
            raise AttributeError(f"cupy.{name} exists, but the host stand-in has no NumPy twin for it")
        function = _device_function(name, numpy_function, _checker(name, API["functions"][name]))
        setattr(self, name, function)
        return function


_MODULE = HostCuPy()


def module() -> HostCuPy:
    """The stand-in module (one per process, as ``cupy`` is)."""
    return _MODULE
