"""OpenCV-variant CLAHE with many tiles: peak memory no more than OpenCV's own, and a clear
refusal, before allocating, of a grid whose tables the machine cannot hold.

Memory is the resident set's high-water mark of a fresh process above its level just before
the call (Linux's VmHWM, reset through /proc/self/clear_refs), for OpenCV and for us alike.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import napari_histeq as h
from napari_histeq._engine import validate as _validate

cv2 = pytest.importorskip("cv2")

PEAK = r"""
import sys
import numpy as np, cv2
import napari_histeq as h

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

image = np.random.default_rng(0).integers(0, 65536, (512, 512)).astype(np.uint16)
tiles = int(sys.argv[2])
if sys.argv[1] == "cv2":
    run = lambda: cv2.createCLAHE(2.0, (tiles, tiles)).apply(image)
else:
    run = lambda: h.equalize_adapthist(image, variant="opencv", clip_limit=2.0, tile_grid=(tiles, tiles))
h.equalize_adapthist(image[:64, :64], variant="opencv", clip_limit=2.0, tile_grid=(2, 2))  # kernels loaded
open("/proc/self/clear_refs", "w").write("5")  # the high-water mark starts again from here
before = status("VmRSS")
run()
print(status("VmHWM") - before)
"""


def peak_bytes(who: str, tiles: int) -> int:
    run = subprocess.run([sys.executable, "-c", PEAK, who, str(tiles)], capture_output=True, text=True, timeout=300,
                         check=True)
    return int(run.stdout.strip())


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's /proc/self/clear_refs")
def test_many_tiles_take_no_more_memory_than_opencv():
    # 64x64 tiles of uint16: 4096 tables of 65536 levels, 512 MiB in OpenCV's uint16; the counts
    # of every region besides them, as int32, once took three times that.
    ours, theirs = peak_bytes("ours", 64), peak_bytes("cv2", 64)
    assert theirs > 400 * 2**20, theirs  # the measure sees OpenCV's tables
    assert ours <= theirs * 1.05 + 16 * 2**20, (ours / 2**20, theirs / 2**20)


def test_a_grid_beyond_the_machine_is_refused_before_allocating(monkeypatch):
    monkeypatch.setattr(_validate, "available_memory", lambda: 2**30)
    image = np.zeros((300, 300), np.uint16)
    with pytest.raises(ValueError, match=r"22500 regions' tables of 65536 bins would need 2\.7 GiB, more than the "
                                         r"1\.0 GiB this machine has free; use fewer regions"):
        h.equalize_adapthist(image, variant="opencv", tile_grid=(150, 150), backend="numpy")  # the kernels' need
    with pytest.raises(ValueError, match="use fewer regions"):  # the skimage variant's tables too
        h.equalize_adapthist(image, kernel_size=2, nbins=65536)
    h.equalize_adapthist(image, variant="opencv", tile_grid=(8, 8))  # 64 regions: 8 MiB
