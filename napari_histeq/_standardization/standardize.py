"""Nyúl and Udupa's histogram standardisation (MRI scale standardisation), as TorchIO computes it.

MRI intensities have no fixed unit: the same tissue differs between scans,
scanners and sessions. Standardisation learns, on a study, where a set of
percentile landmarks of each scan fall on a standard scale (0..100), averages
them, and then maps any scan piecewise linearly from its own landmarks onto
the learned ones (Nyúl, Udupa and Zhang, IEEE TMI 19(2), 2000).

The arithmetic is TorchIO's ``HistogramStandardization`` (``train`` and its
``_normalize``), step for step: the landmarks are the cutoff percentiles, the
deciles and the quartiles (``numpy.percentile`` of the counted pixels); the
learned scale averages each scan's landmarks mapped linearly so that its
cutoffs land on 0 and 100; a scan is mapped in float32 between every
landmark but the two outer quartiles, with a flat segment where two of its
landmarks coincide. Two departures, both where TorchIO would fail or
disagree with itself: NaN and infinite pixels are not counted (TorchIO's
percentiles become NaN), and the cutoff is clipped into ``[0, 0.09]`` and
``[0.91, 1]`` when fitting as TorchIO clips it when applying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._engine.backend import array_module, is_lazy_array, to_backend
from .._engine.saved import ModelFileError, write_model
from .._engine.wrapped import unwrap

#: TorchIO's defaults: the cutoff quantiles, and the standard scale the landmarks are mapped to.
DEFAULT_CUTOFF = (0.01, 0.99)
STANDARD_RANGE = (0, 100)
#: The landmarks a scan is mapped between: all but the quartiles 25 and 75 (TorchIO's ``range_to_use``).
MAPPED_LANDMARKS = [0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12]
#: Landmarks of a scan closer than this are one: the segment between them is flat (TorchIO's epsilon).
SAME_LANDMARK = 1e-5


def standardized_cutoff(cutoff) -> np.ndarray:
    """The cutoff quantiles as TorchIO uses them: within 0..1, the low one at most 0.09 and the high one at
    least 0.91, so that the landmarks are always thirteen.
    """
    cutoff = np.array(cutoff, dtype=np.float64)
    if cutoff.shape != (2,) or not np.isfinite(cutoff).all():
        raise ValueError(f"cutoff must be two quantiles (low, high), got {cutoff.tolist()}")
    cutoff[0] = max(0, cutoff[0])
    cutoff[1] = min(1, cutoff[1])
    cutoff[0] = np.min([cutoff[0], 0.09])
    cutoff[1] = np.max([cutoff[1], 0.91])
    return cutoff


def landmark_percentiles(cutoff) -> np.ndarray:
    """The percentiles a scan's landmarks are: the two cutoffs, the quartiles and the deciles, sorted."""
    low, high = 100 * np.array(cutoff)
    quartiles = np.arange(25, 100, 25).tolist()
    deciles = np.arange(10, 100, 10).tolist()
    return np.array(sorted(set([low, high] + quartiles + deciles)))


def _counted(values, mask) -> np.ndarray:
    """The pixels whose landmarks count: within ``mask`` (an array, or a function of the image), finite."""
    if callable(mask):
        mask = mask(values)
    keep = np.ones(values.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), values.shape)
    if values.dtype.kind == "f":
        keep = keep & np.isfinite(values)
    counted = values[keep]
    if counted.size == 0:
        raise ValueError("the mask selects no pixel to find landmarks in" if mask is not None
                         else "no finite pixel to find landmarks in")
    return counted


def _host(image) -> np.ndarray:
    return np.asarray(image) if is_lazy_array(image) else to_backend(np, image)


@dataclass(frozen=True)
class Standardization:
    """A learned standard scale: the landmarks every scan is mapped onto.

    Made by :func:`fit_standardization` (or from TorchIO's landmarks, the
    array its ``HistogramStandardization.train`` returns); saved with
    :meth:`save`, read back with :func:`napari_histeq.load_model`.

    Attributes
    ----------
    landmarks : numpy.ndarray
        Thirteen values on the standard scale, one per landmark percentile.
    cutoff : tuple of float
        The low and high quantiles of the landmarks (TorchIO's ``cutoff``).
    provenance : dict
        Where the fit came from: the inputs' names, shapes and dtypes, and
        their masks' pixel counts.
    """

    landmarks: np.ndarray
    cutoff: tuple = DEFAULT_CUTOFF
    provenance: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        landmarks = np.asarray(self.landmarks, dtype=np.float64)
        if landmarks.shape != (13,):
            raise ValueError(f"a standardisation has 13 landmarks, got an array of shape {landmarks.shape}")
        object.__setattr__(self, "landmarks", landmarks)
        object.__setattr__(self, "cutoff", tuple(float(c) for c in standardized_cutoff(self.cutoff)))

    @property
    def percentiles(self) -> np.ndarray:
        """The percentiles of a scan that are mapped onto :attr:`landmarks`."""
        return landmark_percentiles(self.cutoff)

    def landmarks_of(self, image, *, mask=None) -> np.ndarray:
        """``image``'s own landmarks, the values :meth:`apply` maps onto :attr:`landmarks` (float32 percentiles)."""
        if not callable(mask):
            image, mask, _ = unwrap(image, mask)
        return self._scan(image, mask)[2]

    def _scan(self, image, mask):
        """``(values, data, landmarks)``: the scan on the host, as flat float32, and its own landmarks."""
        values = _host(image)
        if callable(mask):
            mask = mask(values)
        data = values.reshape(-1).astype(np.float32)  # TorchIO's: the percentiles of float32 pixels
        if mask is not None:
            mask = np.broadcast_to(to_backend(np, np.asarray(mask, bool)), values.shape).reshape(-1)
        return values, data, np.percentile(_counted(data, mask), self.percentiles)

    def apply(self, image, *, mask=None):
        """``image`` mapped onto the standard scale, as float32, piecewise linearly between its landmarks.

        Parameters
        ----------
        image : array
            A scan (NumPy, CuPy, dask or zarr; the latter are read into memory, one scan).
        mask : array of bool or callable, optional
            The pixels whose percentiles are the scan's landmarks (a brain
            mask; or a function of the image, such as ``lambda v: v > v.mean()``);
            every pixel is mapped.

        Returns
        -------
        standardized : array of float32
            The shape of ``image``, on its backend (NumPy for dask and zarr).
        """
        if not callable(mask):  # a masked array's valid pixels are the region, an xarray keeps its coordinates
            image, mask, wrap = unwrap(image, mask)
            if wrap is not None:
                return wrap(self.apply(image, mask=mask))
        xp = np if is_lazy_array(image) else array_module(image)
        values, data, own = self._scan(image, mask)
        scale, landmarks = self.landmarks[MAPPED_LANDMARKS], own[MAPPED_LANDMARKS]
        rise, run = np.diff(scale), np.diff(landmarks)
        run[run < SAME_LANDMARK] = np.inf  # two landmarks at one value: a flat segment
        slopes = rise / run
        intercepts = scale[:-1] - slopes * landmarks[:-1]
        segment = np.digitize(data, landmarks[1:-1], right=False)
        mapped = (slopes[segment] * data + intercepts[segment]).astype(np.float32)
        return to_backend(xp, mapped.reshape(values.shape))

    def save(self, path):
        """Write the standardisation to ``path`` (``.npz``): its landmarks and a JSON header."""
        fields = {"operation": "standardize", "cutoff": list(self.cutoff), "provenance": self.provenance}
        return write_model(path, fields, {"landmarks": self.landmarks})

    @classmethod
    def _from(cls, header: dict, arrays: dict, path) -> Standardization:
        """The standardisation a model file holds (its header and arrays, as ``read_model`` gives them)."""
        if "landmarks" not in arrays:
            raise ModelFileError(f"{Path(path).name}: a standardisation file without its landmarks")
        try:
            return cls(arrays["landmarks"], tuple(header.get("cutoff", DEFAULT_CUTOFF)), header.get("provenance", {}))
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"{Path(path).name}: a damaged standardisation ({error})") from None


def fit_standardization(images, *, masks=None, cutoff=DEFAULT_CUTOFF, names=None) -> Standardization:
    """Learn a standard intensity scale from a study's scans (Nyúl and Udupa, as TorchIO trains it).

    Each scan's landmarks (the cutoff percentiles, the quartiles and the
    deciles of its counted pixels) are mapped linearly so that its cutoffs
    land on 0 and 100, and averaged over the scans.

    Parameters
    ----------
    images : iterable of arrays
        The scans (any dtypes and shapes; dask and zarr read one at a time).
    masks : array, callable or sequence of them, optional
        The pixels each scan counts: one mask for every scan, one per scan
        (None: a scan counted whole), or a function of the scan (TorchIO's
        ``masking_function``, say ``lambda v: v > v.mean()``).
    cutoff : (float, float)
        The low and high quantiles of the landmarks (TorchIO's default 0.01, 0.99).
    names : sequence of str, optional
        The scans' names, for the model's provenance.

    Returns
    -------
    standardization : Standardization
        Apply it to any scan (:meth:`Standardization.apply`), save it.

    Examples
    --------
    >>> import numpy as np
    >>> from napari_histeq import fit_standardization
    >>> rng = np.random.default_rng(0)
    >>> scans = [rng.gamma(2.0, scale, (32, 32)) for scale in (100, 130, 90)]
    >>> model = fit_standardization(scans)
    >>> model.landmarks.round(1).tolist()  # on the standard scale: the cutoffs at 0 and 100
    [0.0, 5.6, 10.2, 12.2, 14.1, 18.4, 22.8, 28.4, 34.7, 38.8, 43.3, 57.3, 100.0]
    >>> standardized = model.apply(scans[1])  # its median lands on the scale's (22.8)
    >>> standardized.dtype, round(float(np.median(standardized)), 1)
    (dtype('float32'), 22.8)
    """
    images = list(images)
    if not images:
        raise ValueError("give at least one scan to learn the scale from")
    if masks is None or callable(masks) or not isinstance(masks, list | tuple):
        masks = [masks] * len(images)
    if len(masks) != len(images):
        raise ValueError(f"{len(masks)} masks for {len(images)} scans: one per scan, or one for all")
    cutoff = standardized_cutoff(cutoff)
    percentiles = landmark_percentiles(cutoff)
    rows, described = [], []
    for k, (image, mask) in enumerate(zip(images, masks)):
        if not callable(mask):  # a masked array: its valid pixels count
            image, mask, _ = unwrap(image, mask)
        values = _host(image)
        counted = _counted(values, mask)
        rows.append(np.percentile(counted, percentiles))
        described.append({"name": names[k] if names else f"image {k}", "shape": list(values.shape),
                          "dtype": str(values.dtype), **({} if mask is None else {"mask_pixels": int(counted.size)})})
    landmarks = _average_mapping(np.vstack(rows))
    return Standardization(landmarks, tuple(cutoff), {"operation": "standardize", "inputs": described})


def _average_mapping(database: np.ndarray) -> np.ndarray:
    """Each scan's landmarks mapped so that its cutoffs are 0 and 100, averaged (TorchIO's arithmetic)."""
    low, high = database[:, 0], database[:, -1]
    s1, s2 = STANDARD_RANGE
    with np.errstate(divide="ignore", invalid="ignore"):  # a scan whose cutoffs coincide: TorchIO's nan_to_num
        slopes = np.nan_to_num((s2 - s1) / (high - low))
    intercepts = np.mean(s1 - slopes * low)
    return slopes.dot(database) / len(database) + intercepts
