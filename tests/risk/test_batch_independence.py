"""A line's score is a property of the line, not of the request it came in: its records
and its site's load come from the model's memory of the book, never from the other lines
sent with it."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from forecasting.queries import answer_risk
from forecasting.risk.memory import as_known_at
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders

SCORE = ["p_late", "risk_band", "expected_delay_days", "reason_1", "reason_2", "reason_3"]


@pytest.fixture(scope="module")
def book() -> tuple[AtRiskModel, pd.DataFrame, pd.Timestamp]:
    history = generate_orders(sites=2, skus=30, days=260, seed=11).orders
    as_of = history["order_date"].min() + pd.Timedelta(days=220)
    model = AtRiskModel(delivery_time=False, max_iter=60, n_models=1).fit(history, as_of=as_of)
    model = pickle.loads(pickle.dumps(model))  # as a service holds it
    # The open book as known at as_of: lines ordered before it, not delivered by then.
    known = as_known_at(history, as_of)
    return model, known[known["delivered_date"].isna()], as_of


def scores(model: AtRiskModel, lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    answer = answer_risk(model, lines, as_of, batch_history=False)
    return answer.set_index("line_id")[SCORE]


def test_a_line_scores_the_same_alone_in_fifty_and_in_the_whole_book(book) -> None:
    model, lines, as_of = book
    assert len(lines) > 200
    whole = scores(model, lines, as_of)
    rng = np.random.default_rng(0)
    for line in rng.choice(len(lines), 5, replace=False):
        alone = scores(model, lines.iloc[[line]], as_of)
        others = rng.choice(np.delete(np.arange(len(lines)), line), 49, replace=False)
        fifty = scores(model, lines.iloc[[line, *others]], as_of)
        line_id = lines["line_id"].iloc[line]
        pd.testing.assert_series_equal(alone.loc[line_id], whole.loc[line_id])
        pd.testing.assert_series_equal(fifty.loc[line_id], whole.loc[line_id])


def test_lines_a_request_adds_do_not_move_the_others(book) -> None:
    """New lines (not in the memory) at one site, thousands of units: the other lines'
    site load is the memory's, so their scores stay."""
    model, lines, as_of = book
    sample = lines.head(30)
    flood = lines.head(200).copy()
    flood["line_id"] = "NEW-" + flood["line_id"].astype(str)
    flood["quantity"] = flood["quantity"] * 1000
    flood["ship_date"] = pd.NaT  # not shipped yet: open work at the site
    before = scores(model, sample, as_of)
    after = scores(model, pd.concat([sample, flood], ignore_index=True), as_of)
    pd.testing.assert_frame_equal(after.loc[before.index], before)
    # Not vacuous: read as a file of the whole history, the flood is open work at the site.
    flooded = pd.concat([sample, flood], ignore_index=True)
    as_file = model.feature_frame(flooded, as_of)["site_open_units"].head(len(sample))
    from_memory = model.feature_frame(flooded, as_of, batch_history=False)["site_open_units"]
    alone = model.feature_frame(sample, as_of, batch_history=False)["site_open_units"]
    np.testing.assert_array_equal(from_memory.head(len(sample)), alone)
    assert (as_file.to_numpy() > alone.to_numpy() + 1000).all()


def test_one_call_over_more_days_than_the_memory_keeps_scores_each_as_alone(book) -> None:
    """The memory keeps a few days of site tables; a call spanning more still gets them."""
    model, lines, as_of = book
    row = lines.index[0]
    days = [as_of - pd.Timedelta(days=k) for k in range(12)]
    snaps = pd.DataFrame({"row": [row] * len(days), "moment": days})
    together = model.score_lines(lines, as_of, snapshots=snaps, batch_history=False)
    for k, day in enumerate(days):
        one = pd.DataFrame({"row": [row], "moment": [day]})
        alone = model.score_lines(lines, as_of, snapshots=one, batch_history=False)
        assert together["p_late"].iloc[k] == alone["p_late"].iloc[0]


def test_a_line_scored_before_anything_was_known_gets_a_score(book) -> None:
    """A day before the first order: no site has a table that day (the API's warm-up
    once asked this, and an empty table without index names failed)."""
    model, lines, _ = book
    line = lines.head(1).copy()
    early = line["order_date"].iloc[0] - pd.Timedelta(days=400)
    line["order_date"] = early - pd.Timedelta(days=3)
    line["promised_date"] = early + pd.Timedelta(days=2)
    scored = model.score_lines(line, early, batch_history=False)
    assert len(scored) == 1 and 0 <= scored["p_late"].iloc[0] <= 1


def test_a_line_ordered_on_the_scoring_day_alone_is_scored(book) -> None:
    """A request of lines all ordered today: the history is the memory's, so the batch's
    own first order date says nothing about whether the day is too early."""
    model, lines, as_of = book
    today = lines.head(3).copy()
    today["line_id"] = "TODAY-" + today["line_id"].astype(str)
    today["order_date"] = as_of
    today["promised_date"] = as_of + pd.Timedelta(days=5)
    today["ship_date"] = pd.NaT
    answer = scores(model, today, as_of)
    assert list(answer.index) == list(today["line_id"])
    assert answer["p_late"].between(0, 1).all()


def test_a_site_without_history_is_unscored_unless_the_batch_is_its_history(book) -> None:
    model, lines, as_of = book
    assert model.known_sites() == frozenset(lines["site"].astype(str))
    moved = lines.head(3).copy()
    moved["site"] = ["SITE-NEW", moved["site"].iloc[1], "SITE-NEW"]
    request = answer_risk(model, moved, as_of, batch_history=False)
    assert request["status"].tolist() == ["unknown_site", "scored", "unknown_site"]
    assert request["p_late"].isna().tolist() == [True, False, True]
    assert request["unscored_reason"].iloc[0].startswith("site 'SITE-NEW' is not in the model's")
    # A file of the whole history brings the site's own lines: its load is counted.
    history = pd.concat([moved, lines.iloc[3:]])
    as_history = answer_risk(model, history, as_of, batch_history=True)
    assert (as_history["status"] == "scored").all()
