"""benchmarks/notebooks.py counts the CPU seconds of a notebook's worker processes too."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from benchmarks.notebooks import run_one

SPIN = """\
import time
from joblib import Parallel, delayed

def spin(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return seconds

Parallel(n_jobs=2)(delayed(spin)(1.5) for _ in range(2))
"""


@pytest.mark.slow
def test_cpu_seconds_include_joblib_workers(tmp_path: Path) -> None:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(SPIN)]
    path = tmp_path / "spin.ipynb"
    nbformat.write(book, path)
    timed = run_one(path, small=True, keep=None, omp_threads=1, cells=False)
    assert timed.ok
    assert timed.cpu >= 3.0  # two workers of 1.5 CPU-s each; the kernel alone uses ~1.5
    assert timed.wall > 0 and timed.load_start >= 0 and timed.load_end >= 0
