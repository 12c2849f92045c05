"""At-risk orders: labels as known, no leakage, calibration, reasons, clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier

from forecasting.capacity import CapacityForecaster
from forecasting.errors import ConfigError, DataContractError
from forecasting.queries import RISK_COLUMNS
from forecasting.risk.evaluate import evaluate, expected_calibration_error, risk_metrics
from forecasting.risk.features import FeatureSpace, training_snapshots
from forecasting.risk.history import on_time_record, on_time_records
from forecasting.risk.labels import is_late, labels_as_of
from forecasting.risk.model import OUTPUT_COLUMNS, AtRiskModel
from forecasting.risk.reasons import phrase
from forecasting.risk.site_load import site_load
from forecasting.risk.split_features import booster_order, split_features
from forecasting.risk.validation import QUIET_DAYS, check_history_reaches
from forecasting.risk.walk_forward import walk_forward_model
from forecasting.synthetic import generate_orders
from ordercast.cli import main

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
    snaps = training_snapshots(known, as_of, lookahead_days=120)
    assert (snaps["moment"] < known.loc[snaps["row"], "order_date"].to_numpy()).any()
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
        known_altered, training_snapshots(known_altered, as_of, lookahead_days=120), known_altered
    )
    pd.testing.assert_frame_equal(before, after_frame)
    pd.testing.assert_series_equal(labels_before, labels_as_of(altered, as_of)[: len(history)])


def test_scores_are_calibrated_on_synthetic_data(history) -> None:
    start = history["order_date"].min()
    model = AtRiskModel(delivery_time=False, max_iter=150).fit(
        history, as_of=start + pd.Timedelta(days=150)
    )
    outcome = is_late(history).set_axis(history["line_id"])
    scored = []
    for day in range(150, 290, 14):  # score the open book every two weeks, model fixed
        batch = model.score_lines(history, start + pd.Timedelta(days=day))
        batch["late"] = outcome.reindex(batch["line_id"]).to_numpy()
        scored.append(batch.dropna(subset=["late"]))
    lines = pd.concat(scored)
    metrics = risk_metrics(
        lines["late"].astype(int).to_numpy(), lines["p_late"].to_numpy(), model.base_rate_
    )
    assert len(lines) > 3000
    # Stated tolerance: expected calibration error at most 0.06 on lines it never saw,
    # scored for 20 weeks after training while the sites get busier. Measured: 0.054 with
    # the default three-seed average (seeds 0 and 1); a single booster moved between
    # 0.046 and 0.065 with its seed alone, so 0.05 was a coin toss.
    assert metrics["ece"] <= 0.06
    assert metrics["brier"] < 0.9 * metrics["brier_base_rate"]
    assert metrics["roc_auc"] > 0.8


def test_evaluate_scores_every_line_promised_after_the_split(history) -> None:
    split = history["order_date"].min() + pd.Timedelta(days=240)
    scored, metrics = evaluate(AtRiskModel(delivery_time=False, max_iter=100), history, split)
    assert list(scored.columns) == [*OUTPUT_COLUMNS, "late"]
    delivered_later = (history["promised_date"] >= split) & history["delivered_date"].notna()
    assert len(scored) == int(delivered_later.sum())
    assert 0 <= metrics["ece"] <= 1 and metrics["lines"] == len(scored)
    # A line delivered by its promise before it is scored is on time for certain; the
    # boosters, blind to the delivery, would give it an open line's risk.
    by_line = history.set_index("line_id").loc[scored["line_id"]]
    early = (by_line["delivered_date"] < split).to_numpy()
    assert early.any() and (~early).any()
    done = scored[early]
    assert (done["p_late"] == 0).all() and (done["risk_band"] == "delivered").all()
    assert (done["late"] == 0).all()
    assert done["reason_1"].str.startswith("delivered on ").all()
    assert (scored.loc[~early, "risk_band"] != "delivered").all()
    assert scored.loc[~early, "p_late"].gt(0).all()


def test_open_lines_are_scored_with_meaningful_reasons(history) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=240)
    model = AtRiskModel(delivery_time=False, max_iter=150).fit(history, as_of=as_of)
    scored = model.score_lines(history, as_of)
    open_at = (history["order_date"] <= as_of) & ~(history["delivered_date"] < as_of)
    assert len(scored) == int(open_at.sum())
    assert scored["p_late"].between(0, 1).all()
    assert set(scored["risk_band"]) <= {"low", "medium", "high", "overdue"}
    # Past its promise and undelivered: late for certain, with how late instead.
    passed = (scored["promised_date"] < as_of).to_numpy()
    assert passed.any() and (~passed).any()
    overdue = scored[passed]
    assert (overdue["risk_band"] == "overdue").all() and (overdue["p_late"] == 1).all()
    days = (as_of - overdue["promised_date"]).dt.days
    assert (overdue["delay_p50_days"] >= days).all()
    assert (overdue["delay_p90_days"] >= overdue["delay_p50_days"]).all()
    assert overdue["reason_1"].str.contains("promised date passed").all()
    assert scored.loc[~passed, ["delay_p50_days", "delay_p90_days"]].isna().all().all()
    assert (scored.loc[~passed, "risk_band"] != "overdue").all()
    # Every line has a first reason, or says that nothing stands out.
    assert (scored["reason_1"] != "").all()
    risky = scored[~passed].nlargest(20, "p_late")
    assert (risky["reason_1"] != "").all()
    words = " ".join(risky[["reason_1", "reason_2", "reason_3"]].to_numpy().ravel())
    assert any(k in words for k in ("late on", "site", "days left", "lead time"))
    # A track record names whose it is, from the line's own attributes.
    by_line = history.set_index("line_id")
    for _, row in scored.iterrows():
        for reason in row[["reason_1", "reason_2", "reason_3"]]:
            if reason.startswith("carrier ") and " late on " in reason:
                assert reason.startswith(f"carrier {by_line.loc[row['line_id'], 'carrier']} ")
    # Lines seen after they were delivered (snapshots a caller gives): by their promise,
    # on time for certain; after it, late by the days they were, not an estimate.
    delivered = history["delivered_date"] < as_of
    slip = (history["delivered_date"] - history["promised_date"]).dt.days
    picked = history.index[delivered & (slip > 0)][:20].append(
        history.index[delivered & (slip <= 0)][:20]
    )
    snaps = pd.DataFrame({"row": picked, "moment": as_of})
    seen = model.score_lines(history, as_of, snapshots=snaps, actions=False)
    late_done = (slip.loc[picked] > 0).to_numpy()
    assert late_done.sum() == 20 and (~late_done).sum() == 20
    gone = seen[late_done]
    assert (gone["p_late"] == 1).all() and (gone["risk_band"] == "overdue").all()
    np.testing.assert_array_equal(gone["delay_p50_days"], slip.loc[picked][late_done])
    np.testing.assert_array_equal(gone["delay_p90_days"], gone["delay_p50_days"])
    assert gone["reason_1"].str.match(r"delivered on \S+, \d+ days? after its promise$").all()
    assert (seen.loc[~late_done, "risk_band"] == "delivered").all()


def test_metric_definitions() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0.0
    metrics = risk_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]), base_rate=0.5)
    assert metrics["roc_auc"] == 1.0 and metrics["brier_base_rate"] == 0.25


def test_bad_input_is_a_clear_error(history, tmp_path: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="is before all the data"):
        AtRiskModel().fit(history, as_of="2000-01-01")
    no_promise = history.head(50).copy()
    no_promise.loc[no_promise.index[3], "promised_date"] = pd.NaT
    with pytest.raises(DataContractError, match=r"row 4 .* promised_date is missing"):
        AtRiskModel().fit(no_promise, as_of=history["order_date"].max())
    with pytest.raises(ConfigError, match=r"lack column\(s\) \['promised_date'\]"):
        AtRiskModel().fit(history.drop(columns="promised_date"), as_of=history["order_date"].max())
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

    # Far past the file's end every open line looked overdue (p_late 1) and the model
    # learnt them as late: refused before training; a short gap is said.
    last = max(history[c].max() for c in ("order_date", "delivered_date"))
    path = tmp_path / "history.csv"
    history.to_csv(path, index=False)
    out = tmp_path / "late.csv"
    late = f"{last + pd.Timedelta(days=60):%Y-%m-%d}"
    assert main(["risk", "score", str(path), "--as-of", late, "--out", str(out)]) == 2
    assert f"60 days after the last order or delivery the history records ({last:%Y-%m-%d})" in (
        capsys.readouterr().err
    )
    assert not out.exists()
    with pytest.warns(UserWarning, match="10 days after the last order or delivery"):
        check_history_reaches(history, last + pd.Timedelta(days=10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_history_reaches(history, last + pd.Timedelta(days=QUIET_DAYS))


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
    assert phrase("vendor_late_rate", 0.39, "Acme") == (
        "vendor Acme late on 39% of lines in the last year"
    )
    assert phrase("brand_late_rate_all", 0.2) == "brand late on 20% of all its lines so far"
    # read "1020 overdue lines" and "1 overdue lines" before
    assert phrase("site_overdue_lines", 1020.0) == "1,020 overdue lines open at the site"
    assert phrase("site_overdue_lines", 1.0) == "1 overdue line open at the site"


def test_site_load_projects_the_queue_to_the_promised_date() -> None:
    days = pd.date_range("2024-01-01", periods=120, freq="D")
    # Each day a 100-unit line ordered and shipped that day, and 20 units that wait.
    shipping = pd.DataFrame(
        {"site": "A", "order_date": days, "quantity": 100.0, "delivered_date": days}
    )
    arriving = pd.DataFrame(
        {"site": "A", "order_date": days, "quantity": 20.0, "delivered_date": pd.NaT}
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


def test_lookahead_snapshots_see_a_line_from_before_it_was_ordered(history) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    known = history[history["order_date"] < as_of]
    plain = training_snapshots(known, as_of)
    ahead = training_snapshots(known, as_of, lookahead_days=90)
    extra = ahead.iloc[len(plain) :]
    ordered = known.loc[extra["row"], "order_date"].to_numpy()
    gap = (ordered - extra["moment"].to_numpy()).astype("timedelta64[D]").astype(int)
    assert len(extra) > 0.5 * known["line_id"].nunique()
    assert gap.min() >= 1 and gap.max() <= 90
    assert (extra["moment"] > known["order_date"].min()).all()  # never before any history
    # Same label as the line's other snapshots: the outcome does not depend on the view.
    labels = plain.drop_duplicates("row").set_index("row")["label"]
    np.testing.assert_array_equal(extra["label"], labels.loc[extra["row"]])
    frame = FeatureSpace(known).frame(known, extra.head(200), known)
    np.testing.assert_array_equal(frame["days_until_ordered"], gap[:200])
    assert (frame["age_days"] == 0).all()  # its own clock starts at its order


def test_attributes_are_encoded_by_their_record_not_as_raw_categories(history) -> None:
    space = FeatureSpace(history)
    assert list(space.native) == ["site"]
    assert {"carrier", "customer", "channel", "product_family"} <= set(
        cols[0] for cols in space.groups.values()
    )
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    known = history[history["order_date"] < as_of]
    frame = FeatureSpace(known).frame(known, training_snapshots(known, as_of).head(500), known)
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    assert categorical == ["site"]
    assert frame["product_family_late_rate"].between(0, 1).all()
    assert frame["carrier_late_rate_all"].between(0, 1).all()
    # Numbers read as text (a CSV export) stay numbers, not one record per distinct value.
    as_text = FeatureSpace(history.assign(weight_kg=history["weight_kg"].astype(str)))
    assert "weight_kg" in as_text.numeric and "weight_kg" not in as_text.groups
    # A scoring batch without an attribute column still gets every feature (as unknown).
    bare = known.drop(columns=["carrier"])
    batch = FeatureSpace(known).frame(bare, training_snapshots(bare, as_of).head(50), bare)
    assert batch["carrier_late_rate_all"].isna().all()


def test_month_of_year_needs_two_years_of_history(history) -> None:
    assert history["order_date"].max() - history["order_date"].min() < pd.Timedelta(days=730)
    snaps = training_snapshots(history, history["order_date"].max()).head(10)
    assert "promised_month" not in FeatureSpace(history).frame(history, snaps, history)
    stretched = history.assign(order_date=history["order_date"] - pd.Timedelta(days=800)).head(1)
    longer = pd.concat([stretched, history], ignore_index=True)
    assert "promised_month" in FeatureSpace(longer).frame(longer, snaps, longer)


def test_a_burst_of_orders_is_projected_to_fade_back_to_the_years_rate() -> None:
    days = pd.date_range("2023-01-01", periods=400, freq="D")
    # 100 a day for a year, then 200 a day for the last 35 days; ships 120 a day.
    ordered = np.where(np.arange(400) >= 365, 200.0, 100.0)
    arriving = pd.DataFrame(
        {"site": "A", "order_date": days, "quantity": ordered, "delivered_date": pd.NaT}
    )
    shipping = pd.DataFrame(
        {"site": "A", "order_date": days[0], "quantity": 120.0, "delivered_date": days}
    )
    history = pd.concat([arriving, shipping], ignore_index=True)
    moment = days[-1] + pd.Timedelta(days=1)
    horizons = [7, 60, 180, 365]
    load = site_load(
        history,
        pd.Series(["A"] * len(horizons)),
        pd.Series([moment] * len(horizons)),
        pd.Series([moment + pd.Timedelta(days=h) for h in horizons]),
        np.full(len(horizons), 600.0),
    )
    queued = load["backlog_days_at_promise"].to_numpy()
    assert load["utilization"].iloc[0] == pytest.approx(200 / 120)
    # The queue grows while the burst lasts, then drains as orders fall back to about
    # 100 a day (the year's mean, a little above it) below the 120 shipped.
    assert queued[0] < queued[1] and queued[1] > queued[2]
    assert queued[3] == 0.0


def test_risk_commands_write_scored_lines_with_the_chosen_bands_and_tolerance(
    tmp_path: Path, capsys
) -> None:
    small = generate_orders(sites=1, skus=20, days=200, seed=5).orders
    data = tmp_path / "orders.csv"
    small.to_csv(data, index=False)
    as_of = f"{small['order_date'].min() + pd.Timedelta(days=150):%Y-%m-%d}"
    scored_path, saved = tmp_path / "scored.csv", tmp_path / "risk.joblib"
    argv = ["risk", "score", str(data), "--as-of", as_of, "--out", str(scored_path)]
    assert main([*argv, "--bands", "0.1,0.3", "--save-model", str(saved)]) == 0
    # Trained here, the model is the service's: the configured profile (default "queue",
    # which AtRiskModel's defaults are too, so a config naming "line" tells the two apart).
    params = joblib.load(saved).get_params()
    for name, value in walk_forward_model(profile="queue").get_params().items():
        assert params[name] == ((0.1, 0.3) if name == "bands" else value), name
    line_config, line_saved = tmp_path / "line.yaml", tmp_path / "line.joblib"
    line_config.write_text("risk:\n  profile: line\n")
    assert main([*argv, "--config", str(line_config), "--save-model", str(line_saved)]) == 0
    line_params = joblib.load(line_saved).get_params()
    assert line_params == walk_forward_model(profile="line").get_params()
    assert main([*argv, "--model", str(saved), "--trust", "--profile", "line"]) == 2
    assert "--profile chooses the features of a model trained here" in capsys.readouterr().err
    answer = pd.read_csv(scored_path)
    # Every line of the file comes back; those open at --as-of are scored.
    assert list(answer.columns) == list(RISK_COLUMNS) and len(answer) == len(small)
    assert set(answer.loc[~answer["scored"], "status"]) <= {
        "delivered_before_as_of",
        "ordered_after_as_of",
    }
    scored = answer[answer["scored"]]
    assert len(scored) > 0 and scored["unscored_reason"].isna().all()
    expected = np.where(
        scored["p_late"] >= 0.3, "high", np.where(scored["p_late"] >= 0.1, "medium", "low")
    )
    assert (scored["risk_band"] == expected).all()
    # A saved model keeps the tolerance it learnt with; asking for another is refused.
    assert main([*argv, "--model", str(saved), "--trust", "--tolerance-days", "2"]) == 2
    assert "trained with a tolerance of 0 days" in capsys.readouterr().err
    assert main([*argv, "--bands", "0.5,0.2"]) == 2
    assert "need 0 < medium < high < 1" in capsys.readouterr().err

    evaluated = tmp_path / "evaluated.csv"
    evaluate_argv = ["risk", "evaluate", str(data), "--split-date", as_of]
    assert main([*evaluate_argv, "--out", str(evaluated), "--tolerance-days", "1"]) == 0
    printed = capsys.readouterr().out
    assert "roc_auc" in printed and "precision_top10" in printed
    lines = pd.read_csv(evaluated)
    assert list(lines.columns) == [*OUTPUT_COLUMNS, "late"]
    # Late means more than a day after the promise: recomputable from the file and data.
    truth = small.set_index("line_id")
    delay = (truth["delivered_date"] - truth["promised_date"]).dt.days.reindex(lines["line_id"])
    np.testing.assert_array_equal(lines["late"], (delay > 1).astype(int))
    # One split, the --profile's model (default "line", as the walk): the same scores.
    model = walk_forward_model(tolerance_days=1, profile="line")
    expected, _ = evaluate(model, small, pd.Timestamp(as_of), 1)
    np.testing.assert_array_equal(lines["p_late"], expected["p_late"].to_numpy())


def test_reasons_skip_only_features_no_tree_uses(history) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    model = AtRiskModel(delivery_time=False, max_iter=30).fit(history, as_of=as_of)
    features = model.feature_frame(history, as_of)
    used = model.used_features_
    unused = [c for c in model.features_ if c not in used]
    assert used and unused  # with 30 rounds some records go unused
    # The shortcut (boosters once, then the calibration map) is the calibrated model.
    p = model.predict_proba_frame(features)
    np.testing.assert_allclose(p, model.model_.predict_proba(features)[:, 1], atol=2e-6)
    # Scrambling every unused feature leaves every probability as it was...
    scrambled = features.copy()
    for column in unused:
        if isinstance(scrambled[column].dtype, pd.CategoricalDtype):
            scrambled[column] = scrambled[column].iloc[::-1].to_numpy()
        else:
            scrambled[column] = -1e9
    np.testing.assert_array_equal(model.predict_proba_frame(scrambled), p)
    # ... while scrambling the used ones does not.
    moved = features.copy()
    for column in used:
        if not isinstance(moved[column].dtype, pd.CategoricalDtype):
            moved[column] = -1e9
    assert not np.allclose(model.predict_proba_frame(moved), p)


def test_records_count_late_as_the_labels_do_with_a_tolerance() -> None:
    history = lines(
        [
            ("two-days-late", "2024-02-01", "2024-03-01", "2024-03-03"),
            ("never-delivered", "2024-02-01", "2024-03-01", None),
        ]
    )
    queries = pd.DataFrame({"moment": pd.to_datetime(["2024-03-04", "2024-03-05"])})
    group, asked = history["site"], pd.Series(["A", "A"])

    def counts(tolerance: int) -> list[tuple[float, float]]:
        known = history.assign(late=is_late(history, tolerance).astype(float))
        record = on_time_records(
            known, group, queries, asked, (365,), prior_weight=0.0, tolerance_days=tolerance
        )[365]
        return list(zip(record["lines"], record["rate"], strict=True))

    # No tolerance: both are late from their promise on 1 March.
    assert counts(0) == [(2.0, 1.0), (2.0, 1.0)]
    # Three days' grace: the delivery on 3 March is on time; the open line is known late
    # only once 4 March has passed, so not yet on the 4th.
    assert counts(3) == [(1.0, 0.0), (2.0, 0.5)]


def test_the_model_has_scikit_learns_shape(history) -> None:
    model = AtRiskModel(
        delivery_time=False, max_iter=20, n_models=2, bands=(0.1, 0.4), random_state=3
    )
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert AtRiskModel(**model.get_params()).get_params() == model.get_params()
    assert not [k for k in vars(copy) if k.endswith("_")]  # learned state only after fit
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    assert copy.fit(history, as_of=as_of) is copy
    assert {"features_", "used_features_", "booster_", "model_"} <= set(vars(copy))
    assert clone(copy).get_params() == model.get_params()  # a fitted model clones unfitted
    assert not hasattr(clone(copy), "features_")
    # The labels come from the dates: a y (an old positional as-of date) is refused.
    with pytest.raises(ConfigError, match=r"fit\(orders, as_of=\.\.\.\) without y"):
        AtRiskModel().fit(history, as_of)


def test_split_features_agree_with_the_trees(history) -> None:
    """The public route (partial dependence) against the fitted trees themselves, read
    through scikit-learn's private attributes here only, as an oracle."""
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    known = history[history["order_date"] < as_of]
    frame = FeatureSpace(known).frame(known, training_snapshots(known, as_of), known)
    frame = frame[booster_order(frame)]
    y = (frame["site_late_rate"].fillna(0.2) > 0.25).to_numpy() ^ (np.arange(len(frame)) % 7 == 0)
    # A feature split only on missing against present: only a missing probe can see it.
    frame["sometimes_missing"] = np.where(np.arange(len(frame)) % 3 == 0, np.nan, 1.0)
    y = y ^ frame["sometimes_missing"].isna().to_numpy()
    boosters = [
        HistGradientBoostingClassifier(
            max_iter=15, categorical_features="from_dtype", random_state=seed
        ).fit(frame, y)
        for seed in (0, 1)
    ]
    if not all(hasattr(b, "_predictors") for b in boosters):
        pytest.skip("this scikit-learn keeps its trees elsewhere; nothing to compare with")
    names = np.array(booster_order(frame), dtype=object)  # the trees' own column order
    in_trees = {
        name
        for booster in boosters
        for iteration in booster._predictors
        for tree in iteration
        for name in names[tree.nodes["feature_idx"][tree.nodes["is_leaf"] == 0]]
    }
    found = split_features(boosters, frame)
    assert "sometimes_missing" in in_trees
    assert set(found) == in_trees | {"site"}  # categorical features always count as used
    assert len(found) < len(frame.columns)
    with pytest.raises(ValueError, match="categorical columns first"):
        split_features(boosters, frame[frame.columns[::-1]])


def test_site_load_uses_the_capacity_models_estimate(history) -> None:
    """One capacity per site: the risk features' is the capacity outlook's estimate."""
    moment = history["order_date"].min() + pd.Timedelta(days=200)
    known = history[history["order_date"] < moment]
    site = str(known["site"].iloc[0])
    load = site_load(
        known,
        pd.Series([site]),
        pd.Series([moment]),
        pd.Series([moment + pd.Timedelta(days=10)]),
        np.array([0.0]),
    )
    # The outlook as of the day before the moment: what was known when the moment began.
    outlook = CapacityForecaster(holidays=None, arrivals="bootstrap").fit(
        history, moment - pd.Timedelta(days=1)
    )
    weekdays = outlook.estimate_[outlook.estimate_["site"] == site]["capacity_units"]
    assert len(weekdays) == 7 and weekdays.mean() > 0
    assert load["capacity"].iloc[0] == pytest.approx(weekdays.mean(), rel=1e-12)
    # Later lines change nothing at the moment (the estimate reads only days before it).
    later = site_load(
        history,
        pd.Series([site]),
        pd.Series([moment]),
        pd.Series([moment + pd.Timedelta(days=10)]),
        np.array([0.0]),
    )
    assert later["capacity"].iloc[0] == load["capacity"].iloc[0]
