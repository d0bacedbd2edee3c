"""Input checks shared by the public functions: each raises a TypeError or
ValueError that says what was wrong and what is accepted.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from .backend import is_cupy_array

OUT_RANGES = ("dtype", "image")

#: More bins than this would need gigabytes of counters and index temporaries.
MAX_BINS = 1 << 24
#: Integer dtypes of at most this many bits get one histogram bin per level.
MAX_LEVEL_BITS = 16


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_fits_in_memory(needed: int, what: str, remedy: str) -> None:
    """Refuse, before allocating, what needs more memory than the machine has free."""
    available = available_memory()
    if available is not None and needed > available:
        raise ValueError(f"{what} would need {needed / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB "
                         f"this machine has free; {remedy}")


def check_region_tables_fit(regions: int, nbins: int, bytes_per_bin: int) -> None:
    """Adaptive equalisation's per-region tables (and counts), refused before they outgrow the machine."""
    check_fits_in_memory(regions * nbins * bytes_per_bin, f"{regions} regions' tables of {nbins} bins",
                         "use fewer regions (a coarser tile_grid, or a larger kernel_size)")


def as_image(image):
    """Return ``image`` as a NumPy or CuPy array after checking it can be equalised."""
    if not is_cupy_array(image):
        if image is None or isinstance(image, (str, bytes, dict)):
            raise TypeError(f"image must be an array, got {type(image).__name__}")
        if type(image).__module__.split(".")[0] == "zarr" and not hasattr(image, "dtype"):
            raise TypeError(
                f"image is a zarr {type(image).__name__}, which holds arrays; pass one of them, e.g. group['0']"
            )
        image = np.asarray(image)
    check_image_dtype(image.dtype)
    check_image_shape(image.shape)
    if image.dtype.kind == "f" and image.dtype.itemsize > 8:
        _check_fits_float64(image)
    return image


def _check_fits_float64(image) -> None:
    """Longdouble images are binned in float64: refuse values that do not survive the conversion."""
    with np.errstate(over="ignore"):
        lost = np.isfinite(image) & ~np.isfinite(image.astype(np.float64))
    if lost.any():
        raise ValueError(
            f"image ({image.dtype}) holds finite values beyond float64's range (+-1.8e308), which the "
            "histogram cannot bin; scale the image into that range first"
        )


def check_image_dtype(dtype) -> None:
    """Raise unless ``dtype`` is an integer or floating-point image dtype."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        raise TypeError(
            "image is boolean, which has only two levels and nothing to equalise; "
            "convert it to uint8 first if that is what you mean"
        )
    if dtype.kind == "c":
        raise TypeError("image is complex; equalise its magnitude (numpy.abs) or its parts instead")
    if dtype.kind not in "uif":
        raise TypeError(
            f"image dtype {dtype} is not supported; use an integer or floating-point array"
        )


def check_image_shape(shape) -> None:
    """Raise for 0-d and empty images."""
    shape = tuple(shape)
    if len(shape) == 0:
        raise ValueError("image is 0-dimensional; pass an array with at least one axis")
    if 0 in shape:
        raise ValueError(f"image is empty (shape {shape}); there is nothing to equalise")


def check_out(out, image, out_dtype):
    """Raise unless ``out`` can take the result for ``image``; return it.

    It must have the image's shape and array type (NumPy or CuPy), the
    output dtype, and be writeable. ``None`` passes through.
    """
    if out is None:
        return None
    on_device = is_cupy_array(image)
    if not (is_cupy_array(out) if on_device else isinstance(out, np.ndarray)):
        expected = "a CuPy array" if on_device else "a NumPy array"
        raise TypeError(f"out must be {expected}, like the image; got {type(out).__name__}")
    if tuple(out.shape) != tuple(image.shape):
        raise ValueError(f"out has shape {tuple(out.shape)}; the result has the image's shape {tuple(image.shape)}")
    if np.dtype(out.dtype).newbyteorder("=") != np.dtype(out_dtype):  # either byte order takes the values
        raise TypeError(f"out has dtype {out.dtype}; the result of a {image.dtype} image is {np.dtype(out_dtype)}")
    if isinstance(out, np.ndarray) and not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def is_level_dtype(dtype) -> bool:
    """True for integer dtypes small enough to get one bin per possible level."""
    dtype = np.dtype(dtype)
    return dtype.kind in "ui" and dtype.itemsize * 8 <= MAX_LEVEL_BITS


def check_nbins(nbins, dtype):
    """Validate ``nbins`` for an image of ``dtype``; returns it unchanged."""
    if nbins is None:
        return None
    if isinstance(nbins, bool) or not isinstance(nbins, numbers.Integral):
        raise TypeError(f"nbins must be an integer or None, got {nbins!r}")
    if nbins < 2:
        raise ValueError(f"nbins must be at least 2, got {nbins}")
    if nbins > MAX_BINS:
        raise ValueError(f"nbins must be at most {MAX_BINS} (2**24), got {nbins}")
    if is_level_dtype(dtype):
        raise ValueError(
            f"nbins applies to float and 32/64-bit integer images; {np.dtype(dtype)} "
            "images always get one bin per level (pass nbins=None)"
        )
    return int(nbins)


def normalize_axis(axis, ndim: int) -> tuple[int, ...]:
    """The histogram axes as a sorted tuple of non-negative ints (None: every axis)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        axis = (axis,)
    try:
        axes = tuple(axis)
    except TypeError:
        raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}") from None
    normalized = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, numbers.Integral):
            raise TypeError(f"axis must be None, an int or a tuple of ints, got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis {ax} is out of bounds for an image with {ndim} dimensions")
        normalized.append(int(ax) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    if not normalized:
        raise ValueError("axis must name at least one axis (or be None for all of them)")
    return tuple(sorted(normalized))


def check_mask(mask, shape: tuple[int, ...]):
    """Return ``mask`` as a boolean array that broadcasts to ``shape``.

    The mask must have the image's shape, or the shape of its trailing axes
    (a 2D region of interest for every plane of a stack). Integer masks (a
    napari Labels layer) select their non-zero pixels.
    """
    if mask is None:
        return None
    if not is_cupy_array(mask):
        mask = np.asarray(mask)
    if mask.dtype.kind not in "bui":
        raise TypeError(f"mask must be boolean or integer (non-zero selects), got dtype {mask.dtype}")
    if mask.dtype.kind != "b":
        mask = mask != 0
    if mask.ndim > len(shape) or tuple(shape[len(shape) - mask.ndim :]) != tuple(mask.shape):
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match image shape {tuple(shape)}; "
            "it must equal it or its trailing axes"
        )
    return mask


def check_out_range(out_range, dtype):
    """Validate ``out_range``: "dtype", "image" or a ``(lo, hi)`` pair."""
    if isinstance(out_range, str):
        if out_range not in OUT_RANGES:
            raise ValueError(f"out_range must be 'dtype', 'image' or a (lo, hi) pair, got {out_range!r}")
        return out_range
    try:
        lo, hi = out_range
    except (TypeError, ValueError):
        raise ValueError(
            f"out_range must be 'dtype', 'image' or a (lo, hi) pair, got {out_range!r}"
        ) from None
    for value in (lo, hi):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"out_range values must be numbers, got {out_range!r}")
        if not isinstance(value, numbers.Integral) and not math.isfinite(value):
            raise ValueError(f"out_range must be finite numbers, got {out_range!r}")
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        if lo != int(lo) or hi != int(hi):
            raise ValueError(f"out_range for {dtype} images must be whole numbers, got {out_range!r}")
        info = np.iinfo(dtype)
        lo, hi = int(lo), int(hi)
        if lo < info.min or hi > info.max:
            raise ValueError(f"out_range {out_range!r} is outside the {dtype} range [{info.min}, {info.max}]")
    else:
        out_dtype = output_dtype(dtype)
        largest = float(np.finfo(out_dtype).max)
        try:
            lo, hi = float(lo), float(hi)
        except OverflowError:
            lo = hi = math.inf
        if not (-largest <= lo <= largest and -largest <= hi <= largest):
            raise ValueError(
                f"out_range {out_range!r} is outside the range of the {out_dtype} output (+-{largest:.4g})"
            )
    if not lo < hi:
        raise ValueError(f"out_range needs lo < hi, got {out_range!r}")
    return (lo, hi)


def output_dtype(dtype) -> np.dtype:
    """Integer images keep their dtype; floats become float32 (float64 stays)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        return dtype.newbyteorder("=")
    return np.dtype(np.float64) if dtype.itemsize >= 8 else np.dtype(np.float32)


def dtype_range(dtype) -> tuple:
    """The full output range of ``dtype``: its integer limits, or ``(0.0, 1.0)`` for floats."""
    return _dtype_range(np.dtype(dtype))


@functools.lru_cache(maxsize=64)
def _dtype_range(dtype: np.dtype) -> tuple:
    if dtype.kind == "f":
        return 0.0, 1.0
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)
