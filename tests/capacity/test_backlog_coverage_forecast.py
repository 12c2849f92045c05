"""The backlog band with the default arrivals (the demand engine fitted per origin) on the
generator's simulated queue: fewer origins than test_backlog_coverage.py (each fit runs
the automatic demand pipeline), so a looser floor on coverage.

8 origins x 3 sites are 24 site-days: a band that covers 80% as it should covers fewer
than 75% of them about a quarter of the time (binomial sd 8 points), so the issue's 75%
target is checked where there are hundreds of site-days (test_backlog_coverage.py,
benchmarks/capacity.py); here the band must not be badly narrow (>= 60%, two sd under
80%) and the median must beat persistence. (The first version asserted 75%: it passed
with LEVEL_CORRELATION 1 and failed, 70.8%, with the 0.7 development chose.)"""

from __future__ import annotations

import numpy as np

from tests.capacity.test_backlog_coverage import score_origins


def test_default_arrivals_cover_the_true_backlog_and_beat_persistence() -> None:
    scores = score_origins(seed=31, every=42, arrivals="forecast")
    assert len(scores) >= 24  # 8 origins x 3 sites
    assert scores["covered"].mean() >= 0.6
    assert np.median(scores["error"]) < np.median(scores["persisted_error"])
