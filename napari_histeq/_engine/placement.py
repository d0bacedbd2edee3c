"""Where the work runs: host or device staging, GPU blocks, the out-of-memory retry, the ``out=`` target.

The stages compute on rows of whatever array they are handed; this module
decides where those arrays live. The output's array type follows the
input's: NumPy in, NumPy out (even when the GPU computed it); CuPy in, CuPy
out.
"""

from __future__ import annotations

import numpy as np

from .._kernels.threads import wake_helpers
from .backend import array_module, free_device_bytes, is_cupy_array, native, to_backend
from .groups import GroupLayout

#: Images at least this big wake the kernels' helper threads before their checks and set-up.
WAKE_HELPERS_AT = 1 << 18
#: Pixels per block on the CPU: bounds the int64 temporaries to ~32 MiB.
CPU_BLOCK_ELEMENTS = 1 << 22
#: Bytes of device memory one pixel of a block needs at most (input, index, output).
GPU_BYTES_PER_BLOCK_ELEMENT = 48


def on_backend(xp, data, out_dtype, work, convert=True):
    """Run ``work(staged, block_elements)`` on ``xp`` and return its result like ``data``.

    On the GPU the image is copied to the device once when it and the
    output fit in half the free memory; otherwise it stays on the host and
    travels block by block. An out-of-memory error shrinks the blocks and
    retries instead of surfacing.
    """
    if xp is np:
        if data.size >= WAKE_HELPERS_AT:
            wake_helpers()
        result = work(to_backend(np, data), CPU_BLOCK_ELEMENTS)
        return like_input(result, data) if convert else result
    free = free_device_bytes(xp)
    block_elements = max(1 << 16, free // (4 * GPU_BYTES_PER_BLOCK_ELEMENT))
    out_bytes = data.size * (np.dtype(out_dtype).itemsize if out_dtype is not None else 0)
    resident = is_cupy_array(data) or data.nbytes + out_bytes < free // 2
    for _attempt in range(8):
        try:
            staged = _stage(xp, data) if resident else data
            result = work(staged, block_elements)
            return like_input(result, data) if convert else result
        except Exception as exc:
            if type(exc).__name__ != "OutOfMemoryError":
                raise
            xp.get_default_memory_pool().free_all_blocks()
            resident = is_cupy_array(data)
            block_elements = max(1024, block_elements // 4)
    raise MemoryError("the GPU ran out of memory even with small blocks; use backend='numpy'")


def _stage(xp, data):
    return data if is_cupy_array(data) else xp.asarray(native(data))


def like_input(result, data):
    """NumPy in, NumPy out; CuPy in, CuPy out."""
    if is_cupy_array(data):
        return to_backend(array_module(data), result)
    return to_backend(np, result)


def direct_target(out, staged, layout: GroupLayout | None = None):
    """``out`` when the apply stage can write into it directly, else None (the result is copied in).

    That needs both on the host, ``out`` C-contiguous, in native byte order
    and with the group axes first (so its rows are a view; ``layout`` None: one group of every
    pixel), and ``out`` either the staged image
    itself (in place: each pixel is read before it is written) or apart
    from it: a partial overlap would read pixels already overwritten.
    """
    if not (isinstance(out, np.ndarray) and isinstance(staged, np.ndarray)):
        return None
    if not (out.flags.c_contiguous and out.dtype.isnative and (layout is None or layout.groups_lead)):
        return None
    same = out.ctypes.data == staged.ctypes.data and out.strides == staged.strides and out.dtype == staged.dtype
    if not same and np.may_share_memory(out, staged):
        return None
    return out


def into(out, result):
    """The result, written into ``out`` unless it already is ``out``."""
    if out is None or result is out:
        return result
    out[...] = result
    return out
