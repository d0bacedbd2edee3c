"""Threads and processes: the CPU kernels from many threads at once, in forked children,
and independent of numba's threading layer (workqueue, OpenMP or TBB).

Every scenario that could hang runs in a child Python with a timeout, so a hang
fails the test instead of blocking the suite. Results are checked against the
textbook loop oracle, not against another run of ours.
"""

import os
import subprocess
import sys
import textwrap
import threading
from itertools import pairwise

import numpy as np
import pytest
from oracles import textbook_equalize

from napari_histeq import _kernels, equalize
from napari_histeq._engine import backend as _backend
from napari_histeq._kernels import threads

KERNELS = _kernels.cpu_kernels() is not None
needs_kernels = pytest.mark.skipif(not KERNELS, reason=f"{_kernels.ENV_VAR} switches the kernels off")


@pytest.fixture(autouse=True)
def cpu_backend(monkeypatch):
    """The CPU's kernels, in this process and its children, also where a GPU is the default.

    (A child forked after CUDA started cannot use the GPU: ``test_backend`` covers that.)
    """
    monkeypatch.setenv(_backend.ENV_VAR, "numpy")


def run_python(code, timeout=120, **env):
    """Run ``code`` in a fresh interpreter; a hang fails (TimeoutExpired) after ``timeout`` s."""
    environment = {**os.environ, **env}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=timeout, env=environment, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run_under_layer(code, layer, timeout=120):
    """:func:`run_python` under numba's threading ``layer`` ("default": the one numba picks)."""
    return run_python(code, timeout=timeout, **({} if layer == "default" else {"NUMBA_THREADING_LAYER": layer}))


def run_threads(work, count):
    """``work(i)`` on ``count`` threads at once; a thread still inside after 120 s fails the test."""
    workers = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive(), "a thread hung inside a kernel"


def check_from_many_threads(call, inputs, expected, threads, calls):
    """``call(inputs[k])`` from ``threads`` threads at once, ``calls`` times each, every result ``expected[k]``."""
    results = [None] * threads
    barrier = threading.Barrier(threads)

    def work(i):
        barrier.wait()
        results[i] = [call(inputs[i % len(inputs)]) for _ in range(calls)]

    run_threads(work, threads)
    for i, outputs in enumerate(results):
        for output in outputs:
            np.testing.assert_array_equal(output, expected[i % len(inputs)])


def image_and_expected(dtype=np.uint8, side=256, seed=0):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    image = rng.gamma(2.0, 0.05 * (info.max - info.min), (side, side)).astype(np.int64) + info.min
    image = np.clip(image, info.min, info.max).astype(dtype)
    return image, textbook_equalize(image)


# A pixel count above the kernels' row threshold, so the threaded kernels run.
FORK_SCRIPT = """
    import multiprocessing, numpy as np, napari_histeq
    rng = np.random.default_rng(0)
    img = rng.gamma(2.0, 12.0, (256, 256)).clip(0, 255).astype(np.uint8)
    expected = napari_histeq.equalize(img, backend="numpy")  # the parent has run the kernels
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(napari_histeq.equalize, [img] * 4)
    assert all(np.array_equal(r, expected) for r in results)
    print("ok", "libgomp" in open("/proc/self/maps").read())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the default start method on Linux only")
@pytest.mark.parametrize("layer", ["default", "workqueue", "omp", "tbb"])
def test_fork_pool_after_equalize(layer):
    # The example: with GNU OpenMP loaded, a forked child that equalised was killed
    # ("fork() called from a process already using GNU OpenMP") and Pool.map never returned.
    assert run_under_layer(FORK_SCRIPT, layer).split()[0] == "ok"


@needs_kernels
def test_equalize_never_starts_an_openmp_runtime():
    # The kernels run on the package's own threads: numba's threading layer is never launched,
    # so no OpenMP runtime is loaded (and none spins) whatever the environment provides.
    stdout = run_python("""
        import numpy as np, napari_histeq
        from numba.np.ufunc import parallel
        for dtype in (np.uint8, np.uint16, np.float32):
            napari_histeq.equalize(np.arange(1 << 16).astype(dtype).reshape(256, 256))
        napari_histeq.equalize(np.zeros((256, 256), np.uint8), mask=np.eye(256, dtype=bool))
        print(parallel._is_initialized, "libgomp" in open("/proc/self/maps").read())
    """, NUMBA_THREADING_LAYER="omp")
    assert stdout.split() == ["False", "False"]


@pytest.mark.skipif(sys.platform != "linux", reason="os.fork")
def test_fork_while_another_thread_is_inside_a_kernel():
    # The old kernels held a process-wide lock while running; a child forked at that moment
    # inherited the held lock and deadlocked on its first equalize.
    stdout = run_python("""
        import os, threading, numpy as np, napari_histeq
        rng = np.random.default_rng(1)
        big = rng.integers(0, 65536, (2048, 2048), dtype=np.uint16)
        small = rng.gamma(2.0, 12.0, (256, 256)).clip(0, 255).astype(np.uint8)
        expected = napari_histeq.equalize(small)
        stop = threading.Event()

        def busy():
            while not stop.is_set():
                napari_histeq.equalize(big)

        worker = threading.Thread(target=busy)
        worker.start()
        try:
            for _ in range(20):
                pid = os.fork()
                if pid == 0:  # the child: equalise, report through the exit code
                    ok = np.array_equal(napari_histeq.equalize(small), expected)
                    os._exit(0 if ok else 3)
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0, status
        finally:
            stop.set()
            worker.join()
        print("ok")
    """, timeout=180)
    assert stdout.strip() == "ok"


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
def test_many_threads_at_once(dtype):
    # Widget worker, live preview and dask threads may all call in together.
    images, expected = zip(*[image_and_expected(dtype, side=192, seed=seed) for seed in range(6)])
    check_from_many_threads(equalize, images, expected, threads=18, calls=5)


@needs_kernels
def test_thread_count_does_not_change_results(monkeypatch):
    image, expected = image_and_expected(np.uint16, side=300)
    for count in ("1", "2", "7"):
        monkeypatch.setenv(threads.ENV_VAR, count)
        np.testing.assert_array_equal(equalize(image), expected)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_thread_count_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv(threads.ENV_VAR, value)
    with pytest.raises(ValueError, match=threads.ENV_VAR):
        threads.num_threads()


def test_thread_count_follows_the_cpu_affinity(monkeypatch):
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    assert threads.num_threads() == len(os.sched_getaffinity(0))
    stdout = run_python("""
        import os
        from napari_histeq._kernels.threads import num_threads
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        print(num_threads())
    """)
    assert stdout.strip() == "1"
    # the cores are read again a moment after a change made while the kernels run (a quarter second)
    stdout = run_python("""
        import os, time
        from napari_histeq._kernels.threads import num_threads
        before = num_threads()
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        time.sleep(0.3)
        print(before == len(os.sched_getaffinity(0)) or before, num_threads())
    """)
    assert stdout.split()[-1] == "1"


def test_run_parallel_keeps_order_and_raises(monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert threads.run_parallel(lambda a, b: a * b, [(i, 2) for i in range(50)]) == [2 * i for i in range(50)]

    def fails_on_seven(i):
        if i == 7:
            raise ArithmeticError("seven")
        return i

    with pytest.raises(ArithmeticError, match="seven"):
        threads.run_parallel(fails_on_seven, [(i,) for i in range(20)])
    # a task that itself runs tasks (a kernel called from a pool thread) does not deadlock
    nested = threads.run_parallel(lambda n: sum(threads.run_parallel(abs, [(-i,) for i in range(n)])),
                                  [(n,) for n in range(10)])
    assert nested == [sum(range(n)) for n in range(10)]


def test_split_covers_the_range():
    for n in (1, 2, 7, 100):
        for parts in (1, 3, 8, 200):
            ranges = threads.split(n, parts)
            assert ranges[0][0] == 0 and ranges[-1][1] == n and len(ranges) <= parts
            assert all(a < b for a, b in ranges)
            assert all(b == c for (_, b), (c, _) in pairwise(ranges))


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the default start method on Linux only")
def test_dask_process_scheduler_with_fork():
    # dask's process pool with a fork context raised BrokenProcessPool once the parent had equalised.
    pytest.importorskip("dask")
    stdout = run_python("""
        import dask, dask.array as da, numpy as np, napari_histeq
        rng = np.random.default_rng(2)
        stack = rng.gamma(2.0, 300.0, (4, 256, 256)).clip(0, 65535).astype(np.uint16)
        expected = napari_histeq.equalize(stack, axis=(-2, -1))
        lazy = napari_histeq.equalize(da.from_array(stack, chunks=(1, 256, 256)), axis=(-2, -1))
        with dask.config.set({"multiprocessing.context": "fork"}):
            result = lazy.compute(scheduler="processes", num_workers=2)
        assert np.array_equal(result, expected)
        print("ok")
    """, timeout=180)
    assert stdout.strip() == "ok"


CLAHE_FORK_SCRIPT = """
    import multiprocessing, numpy as np, napari_histeq
    from skimage import exposure
    rng = np.random.default_rng(1)
    images = [rng.random((200, 300)) for _ in range(4)]
    napari_histeq.equalize_adapthist(images[0])  # the parent has run the CLAHE kernels
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(napari_histeq.equalize_adapthist, images)
    assert all(np.array_equal(r, exposure.equalize_adapthist(i)) for r, i in zip(results, images))
    print("ok")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the default start method on Linux only")
@pytest.mark.parametrize("layer", ["default", "omp"])
def test_adaptive_equalisation_in_forked_children_and_many_threads(layer):
    pytest.importorskip("skimage")
    assert run_under_layer(CLAHE_FORK_SCRIPT, layer, timeout=180).split()[0] == "ok"
    from skimage import exposure

    from napari_histeq import equalize_adapthist

    images = [np.random.default_rng(seed).random((150, 170)) for seed in range(4)]
    expected = [exposure.equalize_adapthist(image) for image in images]
    check_from_many_threads(equalize_adapthist, images, expected, threads=12, calls=3)


MATCH_FORK_SCRIPT = """
    import multiprocessing, numpy as np, napari_histeq
    from skimage import exposure
    rng = np.random.default_rng(2)
    decay = (0.3 + 0.7 * np.exp(-0.2 * np.arange(6)))[:, None, None]
    series = [(rng.gamma(2.0, 300.0, (6, 96, 160)) * decay).astype(np.uint16) for _ in range(4)]
    napari_histeq.correct_bleaching(series[0])  # the parent has run the counting and matching kernels
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(napari_histeq.correct_bleaching, series)
    for result, s in zip(results, series):
        expected = np.stack([np.rint(exposure.match_histograms(frame, s[0])) for frame in s])
        assert np.array_equal(result, expected)
    print("ok")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the default start method on Linux only")
@pytest.mark.parametrize("layer", ["default", "omp"])
def test_matching_and_bleach_correction_in_forked_children_and_many_threads(layer):
    pytest.importorskip("skimage")
    assert run_under_layer(MATCH_FORK_SCRIPT, layer, timeout=180).split()[0] == "ok"
    from skimage import exposure

    from napari_histeq import match_histograms

    rng = np.random.default_rng(3)
    images = [rng.gamma(2.0, 300.0, (200, 240)).astype(np.uint16) for _ in range(4)]
    reference = rng.gamma(4.0, 500.0, (120, 100)).astype(np.uint16)
    expected = [np.rint(exposure.match_histograms(image, reference)) for image in images]
    check_from_many_threads(lambda image: match_histograms(image, reference), images, expected, threads=12, calls=3)


def test_helpers_let_go_of_the_callers_arrays(monkeypatch):
    # A helper once kept its last tasks (and the output they wrote) alive until its next task:
    # every fresh 16 MiB result then came from new pages.
    import time
    import weakref

    monkeypatch.setenv(threads.ENV_VAR, "2")

    class Payload:
        pass

    payload = Payload()
    alive = weakref.ref(payload)
    threads.run_parallel(lambda item, _: time.sleep(0.01), [(payload, i) for i in range(4)])
    del payload
    deadline = time.monotonic() + 2
    while alive() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert alive() is None


@needs_kernels
def test_a_one_pass_result_is_freed_when_its_caller_lets_go(monkeypatch):
    # The lane's withdrawal closure once held the helpers' task, a method of the lane, and the lane
    # the output: a cycle that only the cyclic collector broke. Outputs piled up between collections
    # and every fresh 16 MiB result came from new pages (550 page faults a call).
    import gc
    import time
    import weakref

    from napari_histeq import equalize

    monkeypatch.setenv(threads.ENV_VAR, "2")
    image = np.random.default_rng(5).integers(0, 256, (1024, 1024), dtype=np.uint8)
    gc.disable()
    try:
        result = equalize(image, backend="numpy")
        assert result.base is None  # the array the lane wrote, not a view of it
        alive = weakref.ref(result)
        del result
        deadline = time.monotonic() + 2  # a helper may still be letting go of its share
        while alive() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert alive() is None
    finally:
        gc.enable()


@needs_kernels
def test_a_watcher_sees_another_threads_store_and_its_own_publish():
    from napari_histeq._kernels import spin

    cell, published = np.zeros(1, np.int64), np.zeros(1, np.int64)
    timer = threading.Timer(0.05, lambda: cell.__setitem__(0, 7))
    timer.start()
    seen = int(spin.wait_while(cell, 0, spin.spins_for(0.001), published))  # counts `published` up once
    while seen == 0:  # a few more bounded watches, as the helpers do
        seen = int(spin.wait_while(cell, 0, spin.spins_for(0.01)))
    timer.join()
    assert seen == 7 and published[0] == 1
    assert spin.wait_while(cell, 5, 10) == 7  # already different: returns at once
    assert spin.spins_for(250e-6) >= 1


# -- one uint8 group counted and mapped in one launch (_kernels.onepass) --


def _one_pass_route():
    from napari_histeq._engine import accel

    return accel.last_route("histogram")


@needs_kernels
@pytest.mark.parametrize("count", ["1", "2", "3", "8"])
@pytest.mark.parametrize("shape", [(512, 512), (333, 517), (3, 131, 97), (16385,)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_one_pass_lane_against_the_formula(monkeypatch, count, shape, dtype):
    # odd sizes leave a tail of fewer than 8 (uint8) or 4 (uint16) pixels; more threads than cores;
    # a 3D stack pooled
    monkeypatch.setenv(threads.ENV_VAR, count)
    scale = 12.0 if dtype == np.uint8 else 300.0
    image = np.random.default_rng(len(shape)).gamma(2.0, scale, shape).clip(0, np.iinfo(dtype).max).astype(dtype)
    expected = textbook_equalize(image)
    np.testing.assert_array_equal(equalize(image), expected)
    assert "one launch" in _one_pass_route().reason
    in_place = image.copy()
    assert equalize(in_place, out=in_place) is in_place
    np.testing.assert_array_equal(in_place, expected)


@needs_kernels
def test_one_pass_lane_leaves_unaligned_and_masked_images_to_the_stages():
    image = np.random.default_rng(2).gamma(2.0, 12.0, 300 * 300 + 1).clip(0, 255).astype(np.uint8)
    unaligned = image[1:].reshape(300, 300)  # starts one byte past a 64-bit word
    np.testing.assert_array_equal(equalize(unaligned), textbook_equalize(unaligned))
    assert "one launch" not in _one_pass_route().reason


@needs_kernels
def test_a_failing_table_sends_the_helpers_away(monkeypatch):
    # The helpers wait inside the kernel for the caller's table: an error while building it
    # must release them, and the next call must run as usual.
    from napari_histeq._engine import accel

    monkeypatch.setenv(threads.ENV_VAR, "2")
    image, expected = image_and_expected(np.uint8, side=512)
    original = accel.tables_from_counts

    def failing(*args, **kwargs):
        raise ArithmeticError("no table")

    monkeypatch.setattr(accel, "tables_from_counts", failing)
    for options in ({}, {"out_range": (0, 200)}):  # the plainest call's path and the request's
        with pytest.raises(ArithmeticError, match="no table"):
            equalize(image, **options)
    monkeypatch.setattr(accel, "tables_from_counts", original)
    check_from_many_threads(equalize, [image], [expected], threads=4, calls=3)


@needs_kernels
def test_one_pass_lane_from_inside_the_helpers():
    # Called from a helper thread (a kernel task that equalises): the caller claims every part
    # no helper took, so nothing waits for a helper that is busy with the caller's own task.
    images, expected = zip(*[image_and_expected(np.uint8, side=256, seed=seed) for seed in range(4)])
    results = threads.run_parallel(lambda k: equalize(images[k]), [(k,) for k in range(4)])
    for result, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(result, want)
