"""``max_fit_snapshots``: the boosters learn from a random subset of the training snapshots
once there are more of them than that, and from all of them otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.risk.features import training_snapshots
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return generate_orders(sites=2, skus=8, days=200, seed=5).orders


def _as_of(history: pd.DataFrame) -> pd.Timestamp:
    return history["order_date"].min() + pd.Timedelta(days=150)


def _fit_snapshots(history: pd.DataFrame, as_of: pd.Timestamp) -> int:
    model = AtRiskModel()
    snaps = training_snapshots(
        history[history["order_date"] < as_of],
        as_of,
        model.tolerance_days,
        model.complete_cohorts,
        model.lookahead_days,
    )
    return int(len(snaps) * (1 - model.calibration_share))


def _p_late(history: pd.DataFrame, as_of: pd.Timestamp, cap: int | None = None) -> np.ndarray:
    model = AtRiskModel(delivery_time=False, max_iter=15, n_models=1, max_fit_snapshots=cap).fit(
        history, as_of=as_of
    )
    return model.score_lines(history, as_of)["p_late"].to_numpy()


def test_a_cap_above_the_snapshot_count_changes_nothing(history: pd.DataFrame) -> None:
    as_of = _as_of(history)
    above = _fit_snapshots(history, as_of) + 1
    np.testing.assert_array_equal(_p_late(history, as_of), _p_late(history, as_of, cap=above))


def test_a_cap_below_it_trains_on_a_sample_the_same_way_every_time(
    history: pd.DataFrame,
) -> None:
    as_of = _as_of(history)
    cap = _fit_snapshots(history, as_of) // 4
    capped = _p_late(history, as_of, cap=cap)
    np.testing.assert_array_equal(capped, _p_late(history, as_of, cap=cap))
    assert not np.array_equal(capped, _p_late(history, as_of))  # the cap was applied
    assert ((capped >= 0) & (capped <= 1)).all()


def test_the_base_rate_counts_every_snapshot(history: pd.DataFrame) -> None:
    as_of = _as_of(history)
    cap = _fit_snapshots(history, as_of) // 4
    every = AtRiskModel(delivery_time=False, max_iter=5, n_models=1).fit(history, as_of=as_of)
    sampled = AtRiskModel(delivery_time=False, max_iter=5, n_models=1, max_fit_snapshots=cap).fit(
        history, as_of=as_of
    )
    assert sampled.base_rate_ == every.base_rate_
