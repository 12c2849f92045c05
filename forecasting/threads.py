"""How many threads a boosted-tree prediction gets.

scikit-learn's HistGradientBoosting predicts tree by tree, one OpenMP parallel region each:
hundreds of regions for a few thousand rows. Each region's thread start-up then costs more
than its work, and on a busy machine the waiting threads spin against the other processes
(a 1,000-line at-risk batch: 389 ms; the global model on 800 series: 1.6 s instead of 0.65).
Below about a million rows one thread is faster here (2 cores shared with the server's
own threads); above, the trees' work may win. The at-risk model's compiled boosters
(:mod:`forecasting.risk.compiled_trees`) avoid OpenMP altogether: they cut a large batch
into blocks of rows, one Python thread each (:func:`row_blocks`), every tree on one thread.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from functools import cache

from threadpoolctl import ThreadpoolController

# Measured on the demo's at-risk champion, a 1,000-line request (its occluded copies make
# ~21,000 rows) on this 2-core machine, quiet: 200-210 ms on one thread, 400-1,500 ms on
# two (/tmp/work/api_prof.py, 2026-12-02). Only far larger batches are left to OpenMP.
SINGLE_THREAD_ROWS = 1_000_000


@cache
def _controller() -> ThreadpoolController:
    # Finding the loaded thread pools scans every shared library of the process (~12 ms);
    # threadpool_limits() does it on each call, which was a third of a 5-line at-risk
    # request. The libraries do not change once the models are loaded: scan once.
    return ThreadpoolController()


def prediction_threads(rows: int) -> AbstractContextManager:
    """A context in which tree predictions of ``rows`` rows run on the right thread count."""
    if rows >= SINGLE_THREAD_ROWS:
        return nullcontext()
    return _controller().limit(limits=1, user_api="openmp")


# Rows per block of a blocked prediction. A 1,000-line at-risk request scores ~21,000
# occluded rows (p50 through the API 236 ms on one thread, 135 ms in two blocks); a 5-line
# one ~100, for which a thread costs more than it saves.
PARALLEL_MIN_ROWS = 4_000


def row_blocks(rows: int, cores: int | None = None) -> int:
    """Into how many blocks of rows, one thread each, a prediction of ``rows`` rows is cut:
    one per core (``cores``, default this process's), none smaller than
    :data:`PARALLEL_MIN_ROWS`, at least one."""
    return max(1, min(cores or _usable_cores(), rows // PARALLEL_MIN_ROWS))


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
