"""Walk-forward evaluation: retrain on a schedule, score each line on its own scoring day,
never with anything known only later (forecasting.risk.walk_forward)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from forecasting.errors import ConfigError
from forecasting.risk.baselines import lane_columns, recent_lane_rate, static_attributes
from forecasting.risk.labels import is_late
from forecasting.risk.model import AtRiskModel
from forecasting.risk.walk_forward import (
    BASELINES,
    DELIVERIES_KNOWN,
    MODELS,
    SCORED_COLUMNS,
    retraining_dates,
    walk_forward,
    walk_forward_metrics,
    walk_forward_model,
)
from forecasting.synthetic import generate_orders
from ordercast.cli import main

START = pd.Timestamp("2024-03-20")
UNTIL = pd.Timestamp("2024-04-09")


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_orders(sites=2, skus=6, days=120, seed=5).orders


def _small_model() -> AtRiskModel:
    return AtRiskModel(delivery_time=False, max_iter=15, n_models=1, lookahead_days=30)


def _small_booster() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=15, categorical_features="from_dtype")


class SpyModel:
    """Implements the walk's side of AtRiskModel and records what each call was handed."""

    tolerance_days = 0
    base_rate_ = 0.1

    def __init__(self, calls: list[tuple[str, pd.Timestamp, pd.DataFrame]]) -> None:
        self.calls = calls

    def set_params(self, **params: object) -> SpyModel:
        return self  # the walk turns the delivery-time model off; a spy has none

    def fit(self, X: pd.DataFrame, y: None = None, *, as_of: pd.Timestamp) -> SpyModel:
        self.calls.append(("fit", as_of, X))
        self.trained_as_of_ = as_of
        return self

    def with_history(self, orders: pd.DataFrame, as_of: pd.Timestamp) -> SpyModel:
        assert as_of >= self.trained_as_of_
        self.calls.append(("history", as_of, orders))
        return self

    def score_lines(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp,
        snapshots: pd.DataFrame,
        *,
        batch_history: bool = True,
    ) -> pd.DataFrame:
        assert not batch_history, "the walk scores from the refreshed memory alone"
        self.calls.append(("score", as_of, orders))
        lines = orders.loc[snapshots["row"]]
        p = np.linspace(0.1, 0.9, len(lines))
        return pd.DataFrame(
            {
                "line_id": lines["line_id"].to_numpy(),
                "p_late": p,
                "risk_band": "low",
                "reason_1": "spy",
                "reason_2": "",
                "reason_3": "",
            }
        )


def test_retraining_dates_start_at_the_split_then_follow_the_calendar() -> None:
    monthly = retraining_dates(pd.Timestamp("2024-01-15"), pd.Timestamp("2024-04-01"), "monthly")
    assert monthly == [
        pd.Timestamp(d) for d in ("2024-01-15", "2024-02-01", "2024-03-01", "2024-04-01")
    ]
    weekly = retraining_dates(pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-04"), "weekly")
    assert weekly == [pd.Timestamp(d) for d in ("2024-01-15", "2024-01-22", "2024-01-29")]
    with pytest.raises(ConfigError, match="daily"):
        retraining_dates(pd.Timestamp("2024-01-15"), pd.Timestamp("2024-02-04"), "daily")  # type: ignore[arg-type]


def test_no_call_is_handed_an_order_or_delivery_from_after_its_date(orders) -> None:
    calls: list[tuple[str, pd.Timestamp, pd.DataFrame]] = []
    done: list[tuple[int, int]] = []
    scored = walk_forward(
        orders,
        START,
        "weekly",
        until=UNTIL,
        model_factory=lambda: SpyModel(calls),  # type: ignore[arg-type, return-value]
        static_factory=None,
        progress=lambda step, total: done.append((step, total)),
    )
    assert {kind for kind, _, _ in calls} == {"fit", "history", "score"}
    for kind, as_of, seen in calls:
        assert seen["order_date"].max() <= as_of, kind
        assert not (seen["delivered_date"] >= as_of).any(), kind
        assert not (seen["ship_date"] >= as_of).any(), kind
    assert done == [(1, 3), (2, 3), (3, 3)]
    # Each line is scored by the latest model trained by its scoring day, on that day.
    lines = orders.set_index("line_id").loc[scored["line_id"]]
    assert (scored["trained_at"] <= scored["scored_at"]).all()
    expected_day = np.maximum(lines["order_date"].to_numpy(), scored["trained_at"].to_numpy())
    assert (scored["scored_at"].to_numpy() == expected_day).all()
    windows = retraining_dates(START, UNTIL, "weekly")
    latest = [max(t for t in windows if t <= day) for day in lines["promised_date"]]
    assert (scored["trained_at"].to_numpy() == np.array(latest, dtype="datetime64[ns]")).all()


def test_every_labelled_line_promised_in_the_period_is_scored_once(orders) -> None:
    scored = walk_forward(
        orders,
        START,
        "weekly",
        until=UNTIL,
        model_factory=lambda: SpyModel([]),  # type: ignore[arg-type, return-value]
    )
    late = is_late(orders)
    wanted = orders[late.notna() & orders["promised_date"].between(START, UNTIL)]
    assert list(scored.columns) == SCORED_COLUMNS
    assert scored["line_id"].is_unique
    assert set(scored["line_id"]) == set(wanted["line_id"])
    truth = late[wanted.index].astype(int).set_axis(wanted["line_id"])
    assert (scored["late"].to_numpy() == truth.loc[scored["line_id"]].to_numpy()).all()
    for column in ("p_late_static_booster", "p_late_lane_rate", "base_rate"):
        assert scored[column].between(0, 1).all(), column
    metrics = walk_forward_metrics(scored)
    assert list(metrics["model"]) == [*MODELS, *(n + DELIVERIES_KNOWN for n in BASELINES)]
    assert metrics[["roc_auc", "brier", "brier_base_rate", "ece"]].notna().all().all()


def test_deliveries_after_the_scoring_day_do_not_change_a_score(orders) -> None:
    """Delay every delivery made on or after a cut date by three weeks: the lines scored
    by then keep every score; lines scored later (which saw some moved deliveries) do not,
    so the scores do read deliveries and the first check could fail."""
    cut = START + pd.Timedelta(days=6)  # the day before the second training
    until = START + pd.Timedelta(days=13)  # two weekly windows
    walk = dict(until=until, model_factory=_small_model, static_factory=_small_booster)
    before = walk_forward(orders, START, "weekly", **walk)
    moved = orders.copy()
    later = moved["delivered_date"] >= cut
    for column in ("delivered_date", "ship_date"):
        moved.loc[later, column] += pd.Timedelta(days=21)
    after = walk_forward(moved, START, "weekly", **walk)
    assert list(before["line_id"]) == list(after["line_id"])
    scores = ["p_late", "risk_band", "reason_1", "p_late_static_booster", "p_late_lane_rate"]
    early = (before["scored_at"] <= cut).to_numpy()
    assert early.sum() > 50 and (~early).sum() > 50
    pd.testing.assert_frame_equal(before.loc[early, scores], after.loc[early, scores])
    changed = before.loc[~early, "p_late"].to_numpy() != after.loc[~early, "p_late"].to_numpy()
    assert changed.any()
    # Lines delivered before their scoring day (promised in the window, so by their promise)
    # are on time for certain; the baselines' rows with that knowledge differ from theirs.
    done = (before["risk_band"] == "delivered").to_numpy()
    assert done.any() and (before.loc[done, ["p_late", "late"]] == 0).all().all()
    metrics = walk_forward_metrics(before).set_index("model")
    for name in BASELINES:
        assert metrics.loc[name, "brier"] != metrics.loc[name + DELIVERIES_KNOWN, "brier"]


def test_a_model_of_another_tolerance_or_a_start_after_the_data_is_refused(orders) -> None:
    with pytest.raises(ConfigError, match="tolerance"):
        walk_forward(
            orders,
            START,
            "weekly",
            until=UNTIL,
            model_factory=lambda: AtRiskModel(tolerance_days=2),
        )
    with pytest.raises(ConfigError, match="after the last promised date"):
        walk_forward(orders, "2030-01-01", "monthly")


def test_the_model_s_defaults_are_the_service_s_default_profile() -> None:
    # An analyst's AtRiskModel() is what `ordercast train` fits with the default settings
    # (risk.profile "queue"), not a third configuration nobody measured.
    assert AtRiskModel().get_params() == walk_forward_model(profile="queue").get_params()
    assert walk_forward_model(profile="line").get_params() != AtRiskModel().get_params()


def test_lane_rate_counts_a_line_from_when_its_outcome_was_known() -> None:
    day = pd.Timestamp("2024-01-01")
    orders = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B"],
            "shipment_mode": ["Air", "Air", "Air", "Air"],
            "region": ["x", "x", "x", "x"],
            "order_date": [day] * 4,
            # on time (known after day 5); late, undelivered until day 20 (known after
            # day 8); on time long before the 365 days (never counted).
            "promised_date": [day + pd.Timedelta(days=d) for d in (6, 8, 6, 6)],
            "delivered_date": [day + pd.Timedelta(days=d) for d in (5, 20, 5, 5)],
        }
    )
    orders.loc[2, ["order_date", "promised_date", "delivered_date"]] -= pd.Timedelta(days=500)
    assert lane_columns(orders) == ["site", "shipment_mode"]
    query = pd.DataFrame({"site": ["A", "C"], "shipment_mode": ["Air", "Air"]})
    at = lambda d: recent_lane_rate(orders, query, day + pd.Timedelta(days=d), prior_lines=0)  # noqa: E731
    assert at(8).tolist() == [0.0, 0.0]  # the late line's promise passes at the end of day 8
    assert at(9).tolist() == [0.5, 1 / 3]  # lane A: 1 of 2; an unknown lane: overall 1 of 3
    shrunk = recent_lane_rate(orders, query, day + pd.Timedelta(days=9), prior_lines=2)
    assert shrunk[0] == pytest.approx((1 + 2 / 3) / 4)


def test_static_attributes_leave_out_outcomes_and_records(orders) -> None:
    frame = static_attributes(orders, orders.head(50))
    assert "lead_time_days" in frame.columns
    assert {"site", "carrier", "quantity", "promotion"} <= set(frame.columns)
    assert not {"delivered_date", "ship_date", "line_id", "order_id", "sku"} & set(frame.columns)
    assert isinstance(frame["site"].dtype, pd.CategoricalDtype)


def test_cli_walk_forward_writes_every_scored_line(
    orders, tmp_path: Path, monkeypatch, capsys
) -> None:
    profiles: list[str] = []  # the walk's model, smaller for speed; its profile recorded

    def small_model(tolerance: int, bands: tuple[float, float], profile: str) -> AtRiskModel:
        profiles.append(profile)
        return _small_model()

    # the command imports it when it runs
    monkeypatch.setattr("forecasting.risk.walk_forward.walk_forward_model", small_model)
    data = tmp_path / "orders.csv"
    orders.to_csv(data, index=False)
    out = tmp_path / "scored.csv"
    argv = ["risk", "evaluate", str(data), "--split-date", str(START.date()), "--out", str(out)]
    one_week = str((START + pd.Timedelta(days=6)).date())
    assert main([*argv, "--walk-forward", "weekly", "--until", one_week]) == 0
    assert set(profiles) == {"line"}  # the default profile
    printed = capsys.readouterr().out
    for name in MODELS:
        assert name in printed
    scored = pd.read_csv(out)
    assert list(scored.columns) == SCORED_COLUMNS
    assert len(scored) > 50 and scored["line_id"].is_unique

    out.unlink()
    profiles.clear()
    weekly = [*argv, "--walk-forward", "weekly", "--until", one_week]
    assert main([*weekly, "--profile", "queue"]) == 0
    assert set(profiles) == {"queue"}
    capsys.readouterr()
    assert main([*weekly, "--profile", "records"]) == 2
    assert "'records' is not one of" in capsys.readouterr().err
    out.unlink()
    assert main([*argv, "--walk-forward", "daily"]) == 2
    assert "daily" in capsys.readouterr().err
    argv[4] = "2030-01-01"
    assert main([*argv, "--walk-forward", "monthly"]) == 2
    assert "after the last promised date" in capsys.readouterr().err
    assert not out.exists()
