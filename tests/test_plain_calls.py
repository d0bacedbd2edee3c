"""The plainest calls (a NumPy uint8 or uint16 image, every option at its default) skip the request and its
stages; small ones run on the calling thread alone while the helper threads sleep. Both must give the
results the oracles give.
"""

import time

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import textbook_equalize
from skimage import exposure

from napari_histeq import _kernels, equalize, match_histograms, stretch_contrast
from napari_histeq._engine import accel
from napari_histeq._engine import backend as _backend
from napari_histeq._kernels import threads

needs_kernels = pytest.mark.skipif(_kernels.cpu_kernels() is None,
                                   reason=f"{_kernels.ENV_VAR} switches the kernels off")


@pytest.fixture(autouse=True)
def cpu_backend(monkeypatch):
    monkeypatch.setenv(_backend.ENV_VAR, "numpy")
    monkeypatch.setenv(threads.ENV_VAR, "2")


def _image(shape, seed=0, dtype=np.uint8):
    scale = 12.0 if dtype == np.uint8 else 300.0
    return np.random.default_rng(seed).gamma(2.0, scale, shape).clip(0, np.iinfo(dtype).max).astype(dtype)


def _imagej_normalize(image, saturated):
    """ImageJ's Enhance Contrast (Normalize) of an 8- or 16-bit image, written out from ContrastEnhancer."""
    top = int(np.iinfo(image.dtype).max)
    cumulative = np.cumsum(np.bincount(image.ravel(), minlength=top + 1))
    threshold = int(image.size * saturated / 200.0)
    low = int(np.argmax(cumulative > threshold))  # the first level whose count from below passes it
    from_above = cumulative[-1] - np.concatenate([[0], cumulative[:-1]])
    high = top - int(np.argmax(from_above[::-1] > threshold))
    if high <= low:
        return image.copy()
    levels = np.arange(top + 1)
    table = np.where(levels <= low, 0, np.where(levels >= high, top, (levels - low) / (high - low) * top))
    return table.astype(image.dtype)[image]  # truncated, as Java's (int)


@needs_kernels
@pytest.mark.parametrize("shape", [(512, 512), (181, 97), (3, 129, 67)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_plainest_calls_are_the_oracles(shape, dtype):
    image = _image(shape, dtype=dtype)
    assert image.size >= accel.MIN_KERNEL_ROW
    np.testing.assert_array_equal(equalize(image), textbook_equalize(image))
    assert "one launch" in accel.last_route("histogram").reason
    if dtype == np.uint8:
        opencv = cv2.equalizeHist(image.reshape(-1, 1)).reshape(shape)
        np.testing.assert_array_equal(equalize(image, variant="opencv"), opencv)
    reference = _image((300, 200)[: image.ndim] + (3,) * (image.ndim - 2), seed=1, dtype=dtype) // 2 + 60
    expected = np.rint(exposure.match_histograms(image.ravel(), reference.ravel())).astype(dtype)
    np.testing.assert_array_equal(match_histograms(image, reference), expected.reshape(shape))
    np.testing.assert_array_equal(stretch_contrast(image), _imagej_normalize(image, 0.35))
    out = np.empty_like(image)
    assert equalize(image, out=out) is out
    np.testing.assert_array_equal(out, textbook_equalize(image))


@needs_kernels
@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 3 * accel.MIN_KERNEL_ROW), wide=st.booleans(), low=st.integers(0, 65535),
       spread=st.integers(0, 65535), seed=st.integers(0, 2**32 - 1), in_place=st.booleans())
def test_plain_calls_of_every_size_are_the_formula(size, wide, low, spread, seed, in_place):
    # under and over the kernels' minimum, odd tails, one level or all of them; in place or not
    rng = np.random.default_rng(seed)
    top = 65535 if wide else 255
    low = low % (top + 1)
    image = rng.integers(low, min(top, low + spread) + 1, size).astype(np.uint16 if wide else np.uint8)
    expected = textbook_equalize(image)
    result = equalize(image, out=image) if in_place else equalize(image)
    assert result is image if in_place else result is not image
    np.testing.assert_array_equal(result, expected)


def _until_the_helpers_sleep():
    threads.run_parallel(lambda _: None, [(0,), (1,)])  # the helpers exist
    deadline = time.monotonic() + 5
    while not threads.helpers_asleep() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert threads.helpers_asleep()


@needs_kernels
def test_a_small_image_with_the_helpers_asleep_is_done_by_its_caller_who_wakes_them(monkeypatch):
    from napari_histeq._kernels import onepass

    image = _image((512, 512))
    _until_the_helpers_sleep()
    monkeypatch.setattr(onepass, "start_on_helpers", lambda *args: pytest.fail("a helper was given work"))
    generation = int(threads._pool.generation[0])
    np.testing.assert_array_equal(equalize(image), textbook_equalize(image))
    assert int(threads._pool.generation[0]) != generation  # woken, to watch for the next call
    monkeypatch.undo()
    np.testing.assert_array_equal(equalize(image), textbook_equalize(image))


@needs_kernels
def test_a_large_image_shares_its_work_with_sleeping_helpers(monkeypatch):
    from napari_histeq._kernels import onepass

    image = _image((1024, 1024))
    assert image.size >= onepass._ALONE_BELOW
    _until_the_helpers_sleep()
    shared = []
    original = onepass.start_on_helpers
    monkeypatch.setattr(onepass, "start_on_helpers", lambda *args: shared.append(1) or original(*args))
    np.testing.assert_array_equal(equalize(image), textbook_equalize(image))
    assert shared


@pytest.mark.parametrize("forced", ["", "numpy", "NumPy ", "cupy", "gpu"])
def test_the_quick_backend_question_is_backend_infos_answer(monkeypatch, forced):
    monkeypatch.setenv(_backend.ENV_VAR, forced)
    try:
        expected = _backend.backend_info().name == "numpy"
    except (ValueError, RuntimeError):  # a bad setting, or cupy forced without a GPU: the request path says so
        expected = False
    assert _backend.auto_is_numpy() is expected


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_out_that_starts_off_a_word_still_gets_the_result(dtype):
    # the lane reads and writes 64-bit words: an out= one element past a word goes the stages' way
    image = _image((300, 300), dtype=dtype)
    buffer = np.empty(image.size + 1, dtype)
    out = buffer[1:].reshape(image.shape)
    assert out.ctypes.data % 8
    assert equalize(image, out=out) is out
    np.testing.assert_array_equal(out, textbook_equalize(image))
    assert "one launch" not in accel.last_route("histogram").reason


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("where", ["fresh", "out", "in place"])
def test_a_slow_table_leaves_the_helpers_faulting_in_pages_and_every_pixel_right(monkeypatch, dtype, where):
    # While they wait for the table the helpers touch every page of the output (an atomic add of 0):
    # with a slow table they go over all of it, in place too, and nothing may change but the mapping.
    image = _image((1024, 1536), dtype=dtype)
    expected = textbook_equalize(image)
    original = accel.tables_from_counts

    def slow(*args, **kwargs):
        time.sleep(0.1)  # time for a helper to start even on a busy machine
        return original(*args, **kwargs)

    from napari_histeq._kernels import onepass

    lanes = []

    class Watched(onepass.OnePass):
        def __init__(self, *args):
            super().__init__(*args)
            lanes.append(self)

    def every_page_touched(lane):
        parts = lane.bounds.size - 1
        return lane.cells[2 * parts + 2 + onepass._FAULTED] >= lane.out_words.size

    monkeypatch.setattr(accel, "tables_from_counts", slow)
    monkeypatch.setattr(onepass, "OnePass", Watched)
    for _attempt in range(5):  # a helper still compiling its kernel (a fresh numba cache) joins a later call
        image_now = image.copy()
        target = {"fresh": None, "out": np.zeros_like(image), "in place": image_now}[where]
        result = equalize(image_now, out=target)
        assert "one launch" in accel.last_route("histogram").reason
        np.testing.assert_array_equal(result, expected)
        if every_page_touched(lanes[-1]):
            break
    assert every_page_touched(lanes[-1])


@needs_kernels
def test_a_uint16_lane_counts_into_no_more_sub_histograms_than_its_pixels_are_worth(monkeypatch):
    # each part counts into 65536-level sub-histograms (512 KiB): four parts for a 256 KiB image took
    # 2 MiB more memory than the stages did, and a dask series of such chunks twice its memory limit
    from napari_histeq._kernels import onepass

    lanes = []

    class Watched(onepass.OnePass):
        def __init__(self, *args):
            super().__init__(*args)
            lanes.append(self)

    monkeypatch.setattr(onepass, "OnePass", Watched)
    monkeypatch.setattr(onepass, "helpers_asleep", lambda: False)  # as in a loop: the lane may share
    for shape, parts in (((256, 512), 1), ((2048, 2048), 4)):
        image = _image(shape, dtype=np.uint16)
        np.testing.assert_array_equal(equalize(image), textbook_equalize(image))
        assert lanes[-1].partials.shape[0] == parts


@pytest.mark.parametrize("image", [np.uint8(5), np.zeros((0, 4), np.uint8), np.zeros((0,), np.uint16)])
def test_an_empty_or_0d_image_with_a_wrong_out_gets_the_images_error_first(image):
    with pytest.raises(ValueError, match=r"0-dimensional|empty"):
        equalize(image, out=np.empty(3, image.dtype))
