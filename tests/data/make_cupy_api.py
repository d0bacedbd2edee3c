"""Remake ``cupy_api.json``: the names and call signatures of the installed CuPy, for ``host_cupy``.

Run where CuPy is installed (it imports without a GPU):

    python tests/data/make_cupy_api.py

The stand-in offers only what this records: a function CuPy lacks, or a keyword
it does not take, fails on the host as it would on a GPU.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import numpy as np

#: "_ndarray_base.astype(self, dtype, order='K', casting=None, subok=None, copy=True) -> ..."
DOC_SIGNATURE = re.compile(r"^[\w.]+\((?P<params>.*)\)")


def parameters(function) -> str | None:
    """``function``'s parameter list as Python source, or None where neither Python nor its docstring says."""
    try:
        return str(inspect.signature(function))[1:-1].replace("cupy.", "")
    except (TypeError, ValueError):
        pass
    first_line = (function.__doc__ or "").strip().splitlines()[:1]
    match = DOC_SIGNATURE.match(first_line[0]) if first_line else None
    return match["params"] if match else None


def signature_parses(params: str) -> bool:
    try:
        compile(f"def _({params}): pass", "<signature>", "exec")
    except SyntaxError:
        return False
    return True


def main() -> None:
    import cupy

    functions, numpy_objects = {}, []
    for name in sorted(n for n in dir(cupy) if not n.startswith("_")):
        value = getattr(cupy, name)
        if value is getattr(np, name, object()):
            numpy_objects.append(name)
        elif callable(value) and not isinstance(value, type):
            params = None if isinstance(value, cupy.ufunc) else parameters(value)
            functions[name] = params if params and signature_parses(params) else None
    methods = {}
    for name in sorted(n for n in dir(cupy.ndarray) if not n.startswith("_")):
        value = getattr(cupy.ndarray, name)
        params = parameters(value) if callable(value) else None
        methods[name] = params if params and signature_parses(params) else None
    api = {"cupy": cupy.__version__, "functions": functions, "numpy_objects": numpy_objects,
           "ndarray": methods}
    path = Path(__file__).with_name("cupy_api.json")
    path.write_text(json.dumps(api, indent=0, sort_keys=True) + "\n")
    print(f"wrote {path}: CuPy {cupy.__version__}, {len(functions)} functions, {len(methods)} ndarray attributes")


if __name__ == "__main__":
    main()
