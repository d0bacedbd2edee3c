"""Every code block of the README and the docs runs, each on its own, in a fresh folder.

A ``python`` block runs with this interpreter, a ``bash`` block with this
environment's commands first on the PATH; each makes the files it reads. A
``text`` block right after a code block is that block's output, compared as
doctest compares (``...`` stands for what varies: times, paths). A block
preceded by ``<!-- not run: REASON -->`` is skipped with that reason (the
two commands, which CI runs as themselves, and installs from the network).
"""

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"(?P<skip><!-- not run: (?P<reason>[^>]*) -->\s*\n)?"
                   r"```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)```[ \t]*\n"
                   r"(?:\s*```text\n(?P<output>.*?)```)?", re.S)
RUNNERS = {"python": [sys.executable, "-c"], "bash": ["bash", "-e", "-o", "pipefail", "-c"]}
#: Blocks naming these need pydicom or nibabel (the medical extra).
MEDICAL = {"pydicom": ("pydicom", "read_dicom", "write_dicom_series"),
           "nibabel": ("nibabel", "read_nifti", "write_nifti", "write_nifti_volume")}


def _blocks():
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match["lang"] not in RUNNERS:
                continue
            line = text.count("\n", 0, match.start("code"))
            name = f"{page.relative_to(ROOT)}:{line}"
            yield pytest.param(match["lang"], match["code"], match["output"], match["reason"], id=name)


@pytest.mark.parametrize(("lang", "code", "output", "not_run"), list(_blocks()))
def test_code_block_runs(lang, code, output, not_run, tmp_path):
    if not_run:
        pytest.skip(f"not run here: {not_run}")
    for module in ("napari", "npe2", "dask", "zarr", "tifffile"):  # an install without them skips the block
        if re.search(rf"\b{module}\b(?!_histeq|-histeq)", code):
            pytest.importorskip(module)
    for module, names in MEDICAL.items():  # the medical readers' and writers' own libraries
        if any(re.search(rf"\b{name}\b", code) for name in names):
            pytest.importorskip(module)
    environment = {**os.environ, "MPLBACKEND": "Agg", "NAPARI_CONFIG": str(tmp_path / "napari.yaml"),
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([*RUNNERS[lang], code], cwd=tmp_path, env=environment, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if output is not None:
        checker = doctest.OutputChecker()
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        assert checker.check_output(output, result.stdout, flags), f"expected:\n{output}\ngot:\n{result.stdout}"


#: Fences that are not code: outputs, and Sphinx's directives.
NOT_CODE = {"text", "{eval-rst}", "{toctree}", "{include}"}


def test_every_fence_is_code_that_runs_or_says_what_it_is():
    """A fence the pattern misses (a typo in its language, a missing newline) would silently not run;
    a fence with no language would be neither run nor checked.
    """
    for page in PAGES:
        text = page.read_text()
        languages = re.findall(r"(?ms)^```(\S*)\n.*?^```[ \t]*$", text)
        assert all(language in RUNNERS or language in NOT_CODE for language in languages), (page, languages)
        code = sum(language in RUNNERS for language in languages)
        collected = sum(1 for match in FENCE.finditer(text) if match["lang"] in RUNNERS)
        assert code == collected, page
