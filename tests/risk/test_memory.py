"""A fitted at-risk model remembers its training history, so a batch of open lines (an API
call) is scored with the same records and site load as the whole history would give."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.risk.history import GroupEvents
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders
from ordercast.cli import main


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return generate_orders(sites=2, skus=30, days=260, seed=5).orders


@pytest.fixture(scope="module")
def trained(history: pd.DataFrame) -> tuple[AtRiskModel, pd.Timestamp]:
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    model = AtRiskModel(delivery_time=False, max_iter=60, n_models=1).fit(history, as_of=as_of)
    # As a service gets it: unpickled, with the event tables still to build.
    return pickle.loads(pickle.dumps(model)), as_of


def as_known_at(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines as a caller knows them at ``as_of``: later deliveries and shipments blank."""
    out = lines.copy()
    for column in ("delivered_date", "ship_date"):
        out[column] = out[column].where(out[column] < as_of)
    return out


def by_line(scored: pd.DataFrame) -> pd.DataFrame:
    return scored.set_index("line_id").sort_index()


def test_a_batch_of_open_lines_scores_as_the_whole_history_does(trained, history) -> None:
    model, as_of = trained
    open_at = (history["order_date"] <= as_of) & ~(history["delivered_date"] < as_of)
    batch = as_known_at(history[open_at], as_of)
    assert len(batch) > 50 and len(model.memory_) > 10 * len(batch)
    whole = by_line(model.score_lines(history, as_of))
    alone = by_line(model.score_lines(batch, as_of))
    pd.testing.assert_frame_equal(alone, whole)
    # Not vacuous: without what it remembers, the same batch sees no records and no flows.
    forgetful = pickle.loads(pickle.dumps(model))
    forgetful.memory_ = None
    blind = by_line(forgetful.score_lines(batch, as_of))
    # (0.05 under the earlier site-load features; with the capacity model's flows the same
    # synthetic case moves by 0.04 at most: still far above float noise.)
    assert np.abs(blind["p_late"] - whole["p_late"]).max() > 0.02
    assert (blind["reason_1"] != whole["reason_1"]).any()


def test_memory_plus_what_happened_since_training_is_the_whole_history(trained, history) -> None:
    model, trained_as_of = trained
    as_of = trained_as_of + pd.Timedelta(days=30)
    # Everything the model does not remember: lines not delivered by its training date.
    since = history[~(history["delivered_date"] < trained_as_of)]
    batch = as_known_at(since[since["order_date"] <= as_of], as_of)
    whole = by_line(model.score_lines(history, as_of))
    pd.testing.assert_frame_equal(by_line(model.score_lines(batch, as_of)), whole)


def test_a_file_that_repeats_remembered_lines_counts_them_once(trained, history) -> None:
    model, trained_as_of = trained
    as_of = trained_as_of + pd.Timedelta(days=14)
    forgetful = pickle.loads(pickle.dumps(model))
    forgetful.memory_ = None  # scores from the file alone, as before the model remembered
    pd.testing.assert_frame_equal(
        by_line(model.score_lines(history, as_of)), by_line(forgetful.score_lines(history, as_of))
    )
    # It remembers exactly the lines delivered before its training date.
    remembered = ~model.memory_.unseen(history)
    assert (remembered == (history["delivered_date"] < trained_as_of).to_numpy()).all()


def test_compacted_event_tables_give_the_same_sums_exactly() -> None:
    rng = np.random.default_rng(0)
    group = pd.Series(rng.choice(list("abcde"), 5000))
    start = np.datetime64("2024-01-01", "ns")
    dates = start + rng.integers(0, 60, 5000).astype("timedelta64[D]")
    weights = rng.random(5000), rng.integers(0, 2, 5000).astype(float)
    full, compact = GroupEvents(group, dates, *weights), GroupEvents(group, dates, *weights)
    compact.compact()
    assert len(compact.events.sorted_keys) <= 5 * 60 < len(full.events.sorted_keys)
    queries = pd.Series(rng.choice(list("abcdez"), 2000))  # "z" never seen
    when = start + rng.integers(-5, 80, 2000).astype("timedelta64[D]")
    for a, b in zip(
        full.before(full.codes(queries), when),
        compact.before(compact.codes(queries), when),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
        assert (a[queries.to_numpy() == "z"] == 0).all()


def test_risk_score_with_a_saved_model_needs_only_the_open_lines(
    tmp_path: Path, history: pd.DataFrame
) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    whole_file, open_file = tmp_path / "orders.csv", tmp_path / "open.csv"
    history.to_csv(whole_file, index=False)
    open_at = (history["order_date"] <= as_of) & ~(history["delivered_date"] < as_of)
    as_known_at(history[open_at], as_of).to_csv(open_file, index=False)
    saved = tmp_path / "risk.joblib"
    day = f"{as_of:%Y-%m-%d}"
    common = ["risk", "score", "--as-of", day]
    assert (
        main(
            [*common, str(whole_file), "--out", str(tmp_path / "a.csv"), "--save-model", str(saved)]
        )
        == 0
    )
    assert (
        main(
            [
                *common,
                str(open_file),
                "--out",
                str(tmp_path / "b.csv"),
                "--model",
                str(saved),
                "--trust",
            ]
        )
        == 0
    )
    whole = pd.read_csv(tmp_path / "a.csv")
    from_whole = by_line(whole[whole["scored"]])  # the whole file's open lines
    from_open = by_line(pd.read_csv(tmp_path / "b.csv"))
    assert len(from_open) == int(open_at.sum()) > 50
    # unscored_reason is empty throughout: CSV reads it back as float in one, text in the other
    pd.testing.assert_frame_equal(from_open, from_whole, check_dtype=False)


def test_memory_counts_late_with_the_models_tolerance(history: pd.DataFrame) -> None:
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    model = AtRiskModel(delivery_time=False, max_iter=40, n_models=1, tolerance_days=2).fit(
        history, as_of=as_of
    )
    open_at = (history["order_date"] <= as_of) & ~(history["delivered_date"] < as_of)
    alone = by_line(model.score_lines(as_known_at(history[open_at], as_of), as_of))
    pd.testing.assert_frame_equal(alone, by_line(model.score_lines(history, as_of)))
    # The records themselves see fewer late lines with two days' grace.
    lenient = model.feature_frame(history, as_of)["site_late_rate_all"]
    strict = AtRiskModel(delivery_time=False, max_iter=40, n_models=1).fit(history, as_of=as_of)
    assert lenient.mean() < strict.feature_frame(history, as_of)["site_late_rate_all"].mean()
