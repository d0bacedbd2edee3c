"""One runner for both wings: a user's settings over an image's pyramid levels, colour and channels.

The napari layer functions, the widgets' previews and both commands hold a
:class:`~.settings.Settings`; this is the one place that turns it into calls
of the operation's function, with one set of rules:

* **colour** (RGB or RGBA, the last axis): an operation whose colour rule is
  ``"rgb"`` runs through :func:`napari_histeq.equalize_rgb` in the settings'
  rgb mode; one whose rule is ``"channels"`` runs on each colour alone.
  Alpha is never counted nor changed.
* **pyramid levels**: a grey image whose operation has a fit (global
  equalisation) is fitted on one level and every level is mapped with that
  one table, so the pyramid stays consistent; otherwise (colour, adaptive,
  matching, bleach correction) each level runs on its own.
"""

from __future__ import annotations

import inspect
import threading

import numpy as np

from .._engine.backend import is_lazy_array, module_of
from .._equalization.colour import equalize_rgb
from .settings import Settings


def run(settings: Settings, data, *, axis=None, colour=False, mask=None, channel_axis=None, time_axis=None,
        spacing=None):
    """``data`` processed as ``settings`` say.

    ``axis``: the axes one histogram spans; ``time_axis``: the time axis of an
    operation that needs one (bleach correction); ``channel_axis``: channels
    processed one by one (grey images); ``colour``: the last axis holds RGB(A);
    ``spacing``: the voxel size along each axis but colour (a layer's scale, a
    medical file's), for sizes given in physical units (``kernel_size_mm``).
    """
    spec, keywords = settings.spec, settings.keywords()
    if keywords.get("kernel_size_mm") is not None:
        keywords["spacing"] = None if spacing is None else tuple(float(s) for s in spacing)
    if "time axis" in spec.needs:
        if time_axis is None:
            raise ValueError(f"{spec.label.lower()} needs a time axis")
        keywords["axis"] = time_axis
    else:
        keywords["axis"] = axis
    if mask is not None:
        keywords["mask"] = mask
    if "reference" in spec.needs and settings.parameters.get("reference") is None:
        raise ValueError(f"{spec.label.lower()} needs a reference image")
    if colour and spec.colour == "rgb":
        return equalize_rgb(data, mode=settings.rgb_mode, operation=spec.function, **keywords)
    if colour:  # each colour on its own; alpha as it was
        result = spec.function(data[..., :3], channel_axis=-1, **keywords)
        if data.shape[-1] == 4:
            result = module_of(result).concatenate([result, data[..., 3:]], axis=-1)
        return result
    if channel_axis is not None:
        keywords["channel_axis"] = channel_axis
    return spec.function(data, **keywords)


def run_levels(settings: Settings, levels, *, axis=None, colour=False, mask=None, channel_axis=None,
               time_axis=None, fit_level=0, spacing=None):
    """Every pyramid level's result, and the output range of the one fit (None where each level ran alone).

    ``levels``: finest first (one for most images); ``fit_level``: the level
    whose histogram makes the table of a grey image's fit. A single level runs
    the operation itself, which fits and applies in one staging of the image
    (to a GPU it travels once, not twice). ``spacing``: the finest level's voxel
    size; a coarser level's is that times how much smaller it is along each axis.
    """
    levels = list(levels)
    spec = settings.spec
    if not 0 <= fit_level < len(levels):
        raise ValueError(f"fit_level {fit_level} is not a level of this {len(levels)}-level image")
    if spec.fit is None or colour or channel_axis is not None or len(levels) == 1:
        results = [run(settings, level, axis=axis, colour=colour, mask=mask, channel_axis=channel_axis,
                       time_axis=time_axis, spacing=level_spacing(spacing, levels[0], level, colour))
                   for level in levels]
        return results, None
    fitted = spec.fit(levels[fit_level], axis=axis, mask=mask, **settings.keywords())
    return [fitted.apply(level) for level in levels], tuple(float(v) for v in fitted.out_range)


def level_spacing(spacing, finest, level, colour=False):
    """The voxel size of a pyramid ``level`` whose finest level has ``spacing`` (None stays None)."""
    if spacing is None:
        return None
    spatial = len(finest.shape) - int(colour)
    spacing = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if spacing.size != spatial:
        raise ValueError(f"spacing has {spacing.size} values for an image of {spatial} axes")
    factors = np.asarray(finest.shape[:spatial], np.float64) / np.asarray(level.shape[:spatial], np.float64)
    return tuple((spacing * factors).tolist())


_warm = threading.Event()
_warming = threading.Lock()


def warm_up(dtypes=("uint8", "uint16")) -> None:
    """Load (or, on a fresh install, compile) the kernels a first equalisation and its histogram use.

    numba compiles a kernel on its first call, about a second on a fresh
    install; the napari widgets call this in a background thread as they
    open, so that the first click is as fast as the next ones. Each call
    after the first returns at once. Images of at least the kernels'
    smallest row are used, so that the kernels, not the reference, run.
    """
    with _warming:
        if _warm.is_set():
            return
        from .._equalization.equalize import equalize, histogram

        for dtype in dtypes:
            image = np.zeros((256, 256), dtype)  # 65536 pixels: past the kernels' smallest row
            image[::7] = np.iinfo(dtype).max // 3
            histogram(image)
            equalize(image)
        _warm.set()


def warm_up_in_background() -> threading.Thread:
    """:func:`warm_up` in a daemon thread (never the GUI thread); returns the thread."""
    thread = threading.Thread(target=warm_up, name="napari-histeq warm-up", daemon=True)
    thread.start()
    return thread


def input_limits(settings: Settings, image, *, axis=None, mask=None):
    """The input values the operation maps to the ends of its output (its registry entry's ``limits``: a
    contrast stretch's), one ``[low, high]`` per histogram group in C order; None for an operation without
    such limits, or a dask or zarr image (they would cost another pass over its chunks).
    """
    spec = settings.spec
    if spec.limits is None or is_lazy_array(image):
        return None
    accepted = inspect.signature(spec.limits).parameters
    keywords = {name: value for name, value in settings.keywords().items() if name in accepted}
    return np.reshape(np.asarray(spec.limits(image, axis=axis, mask=mask, **keywords), np.float64), (-1, 2)).tolist()
