"""The backlog band with the default arrivals (the demand engine fitted per origin) on the
generator's simulated queue: fewer origins than test_backlog_coverage.py (each fit runs
the automatic demand pipeline), the same targets over them."""

from __future__ import annotations

import numpy as np

from tests.capacity.test_backlog_coverage import score_origins


def test_default_arrivals_cover_the_true_backlog_and_beat_persistence() -> None:
    scores = score_origins(seed=31, every=42, arrivals="forecast")
    assert len(scores) >= 24  # 8 origins x 3 sites
    assert scores["covered"].mean() >= 0.75
    assert np.median(scores["error"]) < np.median(scores["persisted_error"])
