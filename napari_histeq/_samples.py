"""Built-in sample images, generated (nothing is downloaded), NumPy only."""

from __future__ import annotations

import numpy as np


def dark_xray(shape=(512, 512), seed=0) -> np.ndarray:
    """A dark, noisy, X-ray-like 2D uint8 image: the kind equalisation is for.

    A chest-like phantom (soft tissue, two lungs, spine, ribs) under-exposed
    so that every pixel lies below level 128 (most below 80), with film-grain noise.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)``.
    seed : int
        Seed of the noise.

    Returns
    -------
    image : ndarray of uint8

    Examples
    --------
    >>> from napari_histeq import dark_xray
    >>> image = dark_xray()
    >>> image.dtype, image.shape, int(image.max()) < 128
    (dtype('uint8'), (512, 512), True)
    """
    rows, cols = shape
    y, x = np.mgrid[-1 : 1 : rows * 1j, -1 : 1 : cols * 1j]
    density = np.zeros(shape)
    density += 0.55 * ((x / 0.85) ** 2 + (y / 0.95) ** 2 < 1)  # body
    for side in (-1, 1):  # lungs let more radiation through: less density
        density -= 0.35 * (((x - side * 0.38) / 0.27) ** 2 + ((y + 0.05) / 0.6) ** 2 < 1)
    density += 0.45 * (np.abs(x) < 0.07) * (np.abs(y) < 0.9)  # spine
    for k in range(7):  # ribs: thin arcs across both lungs
        arc = np.abs(y - (-0.55 + 0.17 * k) - 0.25 * x**2)
        density += 0.18 * (arc < 0.022) * (np.abs(x) < 0.7)
    density = _smooth(density, 3)
    rng = np.random.default_rng(seed)
    exposure = 0.12 + 0.5 * density + rng.normal(0, 0.015, shape)  # dark: low exposure
    exposure *= 1 - 0.25 * (x**2 + y**2)  # vignetting
    return np.clip(exposure * 160, 0, 255).astype(np.uint8)


def dark_stack(shape=(32, 256, 256), seed=0) -> np.ndarray:
    """A dark 16-bit 3D fluorescence stack: blob-like cells on a dim background.

    Values sit in the low part of a 12-bit camera's range (background near
    100, the brightest cells about 1500), with Poisson noise, and each
    plane is a little dimmer than the one before (bleaching).

    Parameters
    ----------
    shape : tuple of int
        ``(planes, rows, columns)``.
    seed : int
        Seed of the cell positions and the noise.

    Returns
    -------
    stack : ndarray of uint16

    Examples
    --------
    >>> from napari_histeq import dark_stack
    >>> stack = dark_stack()
    >>> stack.dtype, stack.shape
    (dtype('uint16'), (32, 256, 256))
    """
    planes, rows, cols = shape
    rng = np.random.default_rng(seed)
    z, y, x = np.ogrid[:planes, :rows, :cols]
    signal = np.zeros(shape, dtype=np.float64)
    for _ in range(40):
        cz, cy, cx = rng.uniform(0, 1, 3) * (planes, rows, cols)
        radius = rng.uniform(6, 16)
        brightness = rng.uniform(200, 1400)
        distance2 = ((z - cz) * 3.0) ** 2 + (y - cy) ** 2 + (x - cx) ** 2
        signal += brightness * np.exp(-distance2 / (2 * radius**2))
    bleaching = np.linspace(1.0, 0.7, planes)[:, None, None]
    expected = (100 + signal) * bleaching
    return np.clip(rng.poisson(expected), 0, 65535).astype(np.uint16)


def bleaching_series(shape=(40, 128, 128), half_life=12.0, seed=0) -> np.ndarray:
    """A 2D+t uint16 time lapse whose fluorescence fades: cells that drift a little and bleach.

    The signal decays as ``0.25 + 0.75 * 2 ** (-t / half_life)`` on a
    background of 100, with Poisson noise: what :func:`correct_bleaching`
    is for.

    Parameters
    ----------
    shape : tuple of int
        ``(time points, rows, columns)``.
    half_life : float
        Time points until the bleachable part of the signal halves.
    seed : int

    Returns
    -------
    series : ndarray of uint16

    Examples
    --------
    >>> from napari_histeq import bleaching_series
    >>> series = bleaching_series()
    >>> series.shape, bool(series[0].mean() > series[-1].mean())
    ((40, 128, 128), True)
    """
    frames, rows, cols = shape
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[:rows, :cols]
    centres = rng.uniform(0, 1, (25, 2)) * (rows, cols)
    drift = rng.normal(0, 0.3, (25, 2))
    radii, brightness = rng.uniform(4, 10, 25), rng.uniform(300, 1500, 25)
    fade = 0.25 + 0.75 * 2.0 ** (-np.arange(frames) / half_life)
    series = np.empty(shape, dtype=np.uint16)
    for t in range(frames):
        signal = np.zeros((rows, cols))
        for (cy, cx), (dy, dx), radius, peak in zip(centres, drift, radii, brightness):
            distance2 = (y - cy - dy * t) ** 2 + (x - cx - dx * t) ** 2
            signal += peak * np.exp(-distance2 / (2 * radius**2))
        series[t] = np.clip(rng.poisson(100 + signal * fade[t]), 0, 65535)
    return series


#: The CT phantom's voxel size in mm, (z, y, x): thick axial slices, as a routine abdominal CT has.
CT_PHANTOM_SPACING = (2.5, 0.7, 0.7)


def ct_phantom(shape=(48, 192, 192), seed=0) -> np.ndarray:
    """A CT-like volume in Hounsfield units (int16): air, fat, soft tissue, liver, lungs, spine.

    Voxels are :data:`CT_PHANTOM_SPACING` mm (anisotropic, as CT slices are);
    the tissues sit at their usual Hounsfield values (air -1000, lung
    about -850, fat -100, soft tissue 40, liver 60, cortical bone 700-1000),
    with scanner-like noise (about 12 HU).

    Parameters
    ----------
    shape : tuple of int
        ``(slices, rows, columns)``.
    seed : int
        Seed of the noise.

    Returns
    -------
    volume : ndarray of int16

    Examples
    --------
    >>> from napari_histeq import ct_phantom
    >>> volume = ct_phantom()
    >>> volume.dtype, int(volume.min()) <= -990, int(volume.max()) >= 700
    (dtype('int16'), True, True)
    """
    z, y, x = _unit_grid(shape)
    hu = np.full(shape, -1000.0)  # air
    body = (x / 0.9) ** 2 + (y / 0.65) ** 2 < 1
    hu[body] = -100.0  # subcutaneous fat
    hu[(x / 0.82) ** 2 + (y / 0.57) ** 2 < 1] = 40.0  # soft tissue
    for side in (-1, 1):  # lungs, in the upper slices
        lung = ((x - side * 0.4) / 0.3) ** 2 + ((y + 0.05) / 0.4) ** 2 + ((z + 0.6) / 0.9) ** 2 < 1
        hu[lung] = -850.0
    liver = ((x + 0.35) / 0.35) ** 2 + ((y + 0.05) / 0.3) ** 2 + ((z - 0.45) / 0.6) ** 2 < 1
    hu[liver] = 60.0
    radius = (x / 0.1) ** 2 + ((y - 0.4) / 0.1) ** 2
    hu = np.where(radius < 1, 700.0 + 300.0 * radius, hu)  # spine: cortex brighter than marrow
    rng = np.random.default_rng(seed)
    hu += rng.normal(0.0, 12.0, shape) * body
    return np.clip(np.rint(hu), -1024, 3071).astype(np.int16)


#: The MRI sample's voxel size in mm, (z, y, x).
MRI_SPACING = (3.0, 1.0, 1.0)


def mri_bias_field(shape=(32, 128, 128), seed=0) -> np.ndarray:
    """An MRI-like volume (T1-weighted look, float32) under a smooth bias field, as surface coils give.

    A head: scalp, skull (dark), grey matter, white matter (brighter), ventricles (dark fluid);
    then multiplied by a smooth field that is about twice as bright on one side as on the
    other, and given Rician-like noise: the intensity of one tissue drifts across the volume,
    which a global equalisation keeps and an adaptive one evens out. Voxels are
    :data:`MRI_SPACING` mm.

    Parameters
    ----------
    shape : tuple of int
        ``(slices, rows, columns)``.
    seed : int
        Seed of the noise.

    Returns
    -------
    volume : ndarray of float32

    Examples
    --------
    >>> from napari_histeq import mri_bias_field
    >>> volume = mri_bias_field()
    >>> volume.dtype, volume.shape, float(volume.min()) >= 0
    (dtype('float32'), (32, 128, 128), True)
    """
    z, y, x = _unit_grid(shape)
    radius = np.sqrt((x / 0.85) ** 2 + (y / 0.95) ** 2 + (z / 1.1) ** 2)
    signal = np.where(radius < 1.0, 0.35, 0.0)  # scalp
    signal = np.where(radius < 0.93, 0.05, signal)  # skull
    signal = np.where(radius < 0.86, 0.55, signal)  # grey matter
    signal = np.where(radius < 0.7, 0.8, signal)  # white matter
    ventricles = ((np.abs(x) - 0.12) / 0.08) ** 2 + (y / 0.3) ** 2 + (z / 0.4) ** 2 < 1
    signal = np.where(ventricles, 0.15, signal)  # fluid
    bias = 1.0 + 0.45 * x + 0.2 * y - 0.1 * z + 0.1 * x * y  # smooth: from about 0.5 to 1.6
    rng = np.random.default_rng(seed)
    noisy = np.hypot(signal * bias + rng.normal(0.0, 0.02, shape), rng.normal(0.0, 0.02, shape))  # Rician
    return (1000.0 * noisy).astype(np.float32)


def _unit_grid(shape):
    """Each voxel's coordinates, from -1 to 1 along every axis."""
    return np.mgrid[tuple(slice(-1, 1, n * 1j) for n in shape)]


def _smooth(image, passes):
    """A few passes of a 3x3 box blur (softens the phantom's edges)."""
    for _ in range(passes):
        padded = np.pad(image, 1, mode="edge")
        image = sum(
            padded[1 + dy : padded.shape[0] - 1 + dy, 1 + dx : padded.shape[1] - 1 + dx]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ) / 9.0
    return image
