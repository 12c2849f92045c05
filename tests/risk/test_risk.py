"""At-risk orders: labels as known, no leakage, calibration, reasons, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError, DataContractError
from forecasting.risk.evaluate import evaluate, expected_calibration_error, risk_metrics
from forecasting.risk.features import FeatureSpace, training_snapshots
from forecasting.risk.history import on_time_record
from forecasting.risk.labels import is_late, labels_as_of
from forecasting.risk.model import OUTPUT_COLUMNS, AtRiskModel
from forecasting.risk.reasons import phrase
from forecasting.risk.site_load import site_load
from forecasting.synthetic import generate_orders
from training.cli import main

T = pd.Timestamp("2024-03-01")


def lines(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["line_id", "order_date", "promised_date", "delivered_date"])
    for column in ("order_date", "promised_date", "delivered_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame.assign(order_id=frame["line_id"], site="A", quantity=1.0)


def test_labels_use_only_what_was_known_at_t() -> None:
    frame = lines(
        [
            ("on-time", "2024-01-01", "2024-01-10", "2024-01-09"),
            ("late", "2024-01-01", "2024-01-10", "2024-01-12"),
            ("overdue-open", "2024-01-01", "2024-02-10", None),
            ("overdue-delivered-after-t", "2024-01-01", "2024-02-10", "2024-03-05"),
            ("late-but-delivered-after-t", "2024-02-01", "2024-03-10", "2024-03-20"),
            ("open-not-due", "2024-02-20", "2024-03-15", None),
            ("ordered-after-t", "2024-03-02", "2024-03-05", "2024-03-04"),
        ]
    )
    labels = dict(zip(frame["line_id"], labels_as_of(frame, T), strict=True))
    assert labels["on-time"] == 0.0 and labels["late"] == 1.0
    assert labels["overdue-open"] == 1.0 and labels["overdue-delivered-after-t"] == 1.0
    for unknown in ("late-but-delivered-after-t", "open-not-due", "ordered-after-t"):
        assert np.isnan(labels[unknown])
    tolerant = dict(zip(frame["line_id"], labels_as_of(frame, T, tolerance_days=3), strict=True))
    assert tolerant["late"] == 0.0  # two days late is within a three-day tolerance


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return generate_orders(sites=2, skus=40, days=300, seed=21).orders


def test_changing_anything_after_t_leaves_features_and_labels_unchanged(history) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    known = history[history["order_date"] < as_of]
    space = FeatureSpace(known)
    snaps = training_snapshots(known, as_of)
    before = space.frame(known, snaps, known)
    labels_before = labels_as_of(history, as_of)

    altered = history.copy()
    after = altered["delivered_date"] >= as_of
    altered.loc[after, "delivered_date"] += pd.Timedelta(days=30)  # later deliveries move
    later_orders = altered["order_date"] >= as_of
    altered.loc[later_orders, "quantity"] *= 7  # later orders change
    extra = altered[later_orders].head(50).assign(line_id=lambda f: f["line_id"] + "-x")
    altered = pd.concat([altered, extra], ignore_index=True)  # and new ones appear
    known_altered = altered[altered["order_date"] < as_of]
    after_frame = FeatureSpace(known_altered).frame(
        known_altered, training_snapshots(known_altered, as_of), known_altered
    )
    pd.testing.assert_frame_equal(before, after_frame)
    pd.testing.assert_series_equal(labels_before, labels_as_of(altered, as_of)[: len(history)])


def test_scores_are_calibrated_on_synthetic_data(history) -> None:
    start = history["order_date"].min()
    model = AtRiskModel(max_iter=150).fit(history, start + pd.Timedelta(days=150))
    outcome = is_late(history).set_axis(history["line_id"])
    scored = []
    for day in range(150, 290, 14):  # score the open book every two weeks, model fixed
        batch = model.score(history, start + pd.Timedelta(days=day))
        batch["late"] = outcome.reindex(batch["line_id"]).to_numpy()
        scored.append(batch.dropna(subset=["late"]))
    lines = pd.concat(scored)
    metrics = risk_metrics(
        lines["late"].astype(int).to_numpy(), lines["p_late"].to_numpy(), model.base_rate_
    )
    assert len(lines) > 3000
    # Stated tolerance: expected calibration error at most 0.05 on lines it never saw.
    assert metrics["ece"] <= 0.05
    assert metrics["brier"] < 0.9 * metrics["brier_base_rate"]
    assert metrics["roc_auc"] > 0.8


def test_evaluate_scores_every_line_promised_after_the_split(history) -> None:
    split = history["order_date"].min() + pd.Timedelta(days=240)
    scored, metrics = evaluate(AtRiskModel(max_iter=100), history, split)
    assert list(scored.columns) == [*OUTPUT_COLUMNS, "late"]
    delivered_later = (history["promised_date"] >= split) & history["delivered_date"].notna()
    assert len(scored) == int(delivered_later.sum())
    assert 0 <= metrics["ece"] <= 1 and metrics["lines"] == len(scored)


def test_open_lines_are_scored_with_meaningful_reasons(history) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=240)
    model = AtRiskModel(max_iter=150).fit(history, as_of)
    scored = model.score(history, as_of)
    open_at = (history["order_date"] <= as_of) & ~(history["delivered_date"] < as_of)
    assert len(scored) == int(open_at.sum())
    assert scored["p_late"].between(0, 1).all()
    assert set(scored["risk_band"]) <= {"low", "medium", "high"}
    risky = scored.nlargest(20, "p_late")
    assert (risky["reason_1"] != "").all()
    words = " ".join(risky[["reason_1", "reason_2", "reason_3"]].to_numpy().ravel())
    assert any(k in words for k in ("late on", "site", "days left", "lead time"))


def test_metric_definitions() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    metrics = risk_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]), base_rate=0.5)
    assert metrics["roc_auc"] == 1.0 and metrics["brier_base_rate"] == 0.25


def test_bad_input_is_a_clear_error(history, tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="is before all the data"):
        AtRiskModel().fit(history, "2000-01-01")
    no_promise = history.head(50).copy()
    no_promise.loc[no_promise.index[3], "promised_date"] = pd.NaT
    with pytest.raises(DataContractError, match=r"row 4 .* promised_date is missing"):
        AtRiskModel().fit(no_promise, history["order_date"].max())
    with pytest.raises(ConfigError, match=r"lack column\(s\) \['promised_date'\]"):
        AtRiskModel().fit(history.drop(columns="promised_date"), history["order_date"].max())
    path = tmp_path / "o.csv"
    history.head(200).to_csv(path, index=False)
    assert (
        main(
            ["risk", "score", str(path), "--as-of", "1999-01-01", "--out", str(tmp_path / "s.csv")]
        )
        == 2
    )
    assert "before all the data" in capsys.readouterr().err
    assert (
        main(["risk", "score", str(path), "--as-of", "someday", "--out", str(tmp_path / "s.csv")])
        == 2
    )


def test_on_time_record_counts_a_late_line_once_its_promise_passes() -> None:
    day = pd.Timestamp
    history = pd.DataFrame(
        {
            "site": ["A"] * 4,
            "promised_date": [
                day("2024-03-01"),
                day("2024-03-05"),
                day("2024-03-08"),
                day("2024-04-01"),
            ],
            # on time; late, delivered after the moment; never delivered; promised later
            "delivered_date": [day("2024-02-28"), day("2024-03-20"), pd.NaT, pd.NaT],
        }
    )
    history["late"] = is_late(history)
    queries = pd.DataFrame({"moment": [day("2024-03-10"), day("2024-03-04")]})
    record = on_time_record(
        history, history["site"], queries, pd.Series(["A", "A"]), prior_weight=0.0
    )
    # On 10 March: one on-time delivery, two promises passed undelivered -> 2 of 3 late.
    assert record["lines"].tolist() == [3.0, 1.0]
    assert record["rate"].iloc[0] == pytest.approx(2 / 3)
    assert record["rate"].iloc[1] == 0.0  # on 4 March only the on-time line is known
    assert "last 90 days" in phrase("site_late_rate_90d", 0.61)


def test_site_load_projects_the_queue_to_the_promised_date() -> None:
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    arriving = pd.DataFrame(
        {"site": "A", "order_date": days, "quantity": 120.0, "delivered_date": pd.NaT}
    )
    shipping = pd.DataFrame(
        {"site": "A", "order_date": days[0], "quantity": 100.0, "delivered_date": days}
    )
    history = pd.concat([arriving, shipping], ignore_index=True)
    moment = pd.Timestamp("2024-04-01")
    load = site_load(
        history,
        pd.Series(["A", "A"]),
        pd.Series([moment, moment]),
        pd.Series([moment + pd.Timedelta(days=10), moment - pd.Timedelta(days=3)]),
        np.array([50.0, 50.0]),
    )
    # Ships 100 a day, receives 120: 120% of capacity; 50 + 20 x 10 units = 2.5 days ahead.
    np.testing.assert_allclose(load["utilization"], 1.2)
    np.testing.assert_allclose(load["backlog_days_at_promise"], [2.5, 0.5])
    # Nothing from the moment on counts: a flood of orders that day changes nothing.
    flood = pd.DataFrame(
        {"site": "A", "order_date": [moment], "quantity": [1e6], "delivered_date": [pd.NaT]}
    )
    later = site_load(
        pd.concat([history, flood], ignore_index=True),
        pd.Series(["A"]),
        pd.Series([moment]),
        pd.Series([moment + pd.Timedelta(days=10)]),
        np.array([50.0]),
    )
    assert later["utilization"].iloc[0] == pytest.approx(1.2)
