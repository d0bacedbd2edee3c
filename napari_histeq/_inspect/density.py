"""Kernel density estimates from a histogram: the density curves of the histogram plots at O(bins) cost.

A Gaussian KDE of pixels that sit on a grid of levels is the histogram
convolved with the Gaussian kernel sampled on that grid, so it needs the
counts only, never the pixels. For 8/16-bit images (one bin per level) it is
exactly ``scipy.stats.gaussian_kde`` of the pixels, evaluated at the levels;
for float images it is the usual binned KDE (each pixel at its bin's centre).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

BANDWIDTH_RULES = ("scott", "silverman")
#: The kernel is cut where it falls below exp(-TAIL**2 / 2) of its peak (1e-28 for 11.3 sigmas).
TAIL_SIGMAS = 11.3


class Density(NamedTuple):
    """A density curve: ``values`` at ``positions`` (it integrates to about 1)."""

    positions: np.ndarray
    values: np.ndarray
    bandwidth: float


def density_from_histogram(counts, positions, *, bw_method="scott") -> Density | None:
    """The Gaussian kernel density estimate of pixels counted on a regular grid.

    Parameters
    ----------
    counts : array of int, shape (nbins,)
        How many pixels sit at each position.
    positions : array of float, shape (nbins,)
        Equally spaced: the levels of an 8/16-bit image, or bin centres.
    bw_method : {"scott", "silverman"} or float
        The bandwidth rule, as in ``scipy.stats.gaussian_kde`` (and seaborn):
        the data's standard deviation times ``n ** (-1/5)`` (Scott) or
        ``(3 n / 4) ** (-1/5)`` (Silverman), or times the number given.

    Returns
    -------
    density : Density or None
        None where no density exists: fewer than two pixels, or all of
        them at one position (the standard deviation is zero).

    Examples
    --------
    >>> import numpy as np
    >>> density = density_from_histogram(np.array([1, 2, 1]), np.array([0.0, 1.0, 2.0]))
    >>> round(density.bandwidth, 4), round(float(density.values[1]), 4)
    (0.6188, 0.4097)
    """
    factor = _bandwidth_factor(bw_method)
    counts = np.asarray(counts, dtype=np.float64)
    positions = np.asarray(positions, dtype=np.float64)
    if counts.shape != positions.shape or counts.ndim != 1:
        raise ValueError(f"counts and positions must be 1-D and alike, got {counts.shape} and {positions.shape}")
    scale = power_of_two_scale(positions)
    if scale != 1.0:  # positions near the ends of float64: squares would overflow; scaling is exact
        density = density_from_histogram(counts, positions / scale, bw_method=bw_method)
        return density and Density(positions, density.values / scale, density.bandwidth * scale)
    total = counts.sum()
    if total < 2:
        return None
    mean = (counts * positions).sum() / total
    variance = (counts * (positions - mean) ** 2).sum() / (total - 1)  # unbiased, as gaussian_kde
    if not variance > 0:
        return None
    rule = {"scott": total ** -0.2, "silverman": (total * 3 / 4) ** -0.2}
    bandwidth = math.sqrt(variance) * (rule[factor] if isinstance(factor, str) else factor)
    step = positions[1] - positions[0] if len(positions) > 1 else 1.0
    reach = min(len(counts) - 1, math.ceil(TAIL_SIGMAS * bandwidth / step))
    offsets = np.arange(-reach, reach + 1) * step
    kernel = np.exp(-0.5 * (offsets / bandwidth) ** 2) / (total * bandwidth * math.sqrt(2 * math.pi))
    return Density(positions, np.clip(_convolve_same(counts, kernel), 0, None), float(bandwidth))


def power_of_two_scale(values) -> float:
    """1, or a power of two that brings finite ``values`` beyond 2**500 within 2: sums and squares
    of them then stay finite, and dividing by it (and multiplying back) is exact.
    """
    extent = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return 2.0 ** math.floor(math.log2(extent)) if math.isfinite(extent) and extent > 2.0**500 else 1.0


def _bandwidth_factor(bw_method):
    if isinstance(bw_method, str):
        if bw_method not in BANDWIDTH_RULES:
            raise ValueError(f"bw_method must be one of {BANDWIDTH_RULES} or a positive number, got {bw_method!r}")
        return bw_method
    if isinstance(bw_method, bool) or not isinstance(bw_method, (int, float)) or not 0 < bw_method < math.inf:
        raise ValueError(f"bw_method must be one of {BANDWIDTH_RULES} or a positive number, got {bw_method!r}")
    return float(bw_method)


def _convolve_same(signal, kernel):
    """``np.convolve(signal, kernel, "same")`` for an odd kernel; by FFT where direct would be slow."""
    if len(signal) * len(kernel) <= 1 << 22:
        full = np.convolve(signal, kernel)
    else:
        size = len(signal) + len(kernel) - 1
        fft_size = 1 << (size - 1).bit_length()
        full = np.fft.irfft(np.fft.rfft(signal, fft_size) * np.fft.rfft(kernel, fft_size), fft_size)[:size]
    half = len(kernel) // 2
    return full[half : half + len(signal)]
