"""A high-risk line says what would lower its risk, and the figure it gives is what the
model gives the changed line."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from forecasting.risk.memory import as_known_at
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders

LATER = re.compile(
    r"promised 7 days later, on (\d{4}-\d{2}-\d{2}): p_late ([\d.]+) instead of ([\d.]+)"
)


@pytest.fixture(scope="module")
def scored() -> tuple[AtRiskModel, pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    history = generate_orders(sites=2, skus=30, days=260, seed=11).orders
    # In mid-May: a backlog, a third of the lines promised that week late.
    as_of = history["order_date"].min() + pd.Timedelta(days=134)
    model = AtRiskModel(delivery_time=False, max_iter=60, n_models=1, bands=(0.1, 0.3)).fit(
        history, as_of=as_of
    )
    book = as_known_at(history, as_of)
    book = book[book["delivered_date"].isna()].reset_index(drop=True)
    return model, book, model.score_lines(book, as_of, batch_history=False), as_of


def test_only_high_lines_get_an_action_and_it_lowers_their_risk(scored) -> None:
    _, _, answer, _ = scored
    high = answer["risk_band"] == "high"
    assert high.sum() >= 5
    assert (answer.loc[~high, "action"] == "").all()
    said = answer.loc[high & (answer["action"] != ""), "action"]
    assert len(said) > 0
    for text in said:
        lower, own = (float(v) for v in re.findall(r"p_late ([\d.]+) instead of ([\d.]+)", text)[0])
        assert lower < own


def test_a_later_promise_action_gives_the_changed_lines_score(scored) -> None:
    model, book, answer, as_of = scored
    rows = [i for i, text in enumerate(answer["action"]) if LATER.match(text)]
    assert rows, "expected some line to be helped by a later promise"
    for i in rows[:5]:
        date, lower, own = LATER.match(answer["action"].iloc[i]).groups()
        line = book[book["line_id"] == answer["line_id"].iloc[i]].copy()
        line["promised_date"] = pd.Timestamp(date)
        again = model.score_lines(line, as_of, batch_history=False)
        assert again["p_late"].iloc[0] == pytest.approx(float(lower), abs=0.006)
        assert answer["p_late"].iloc[i] == pytest.approx(float(own), abs=0.006)
