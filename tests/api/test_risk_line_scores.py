"""POST /v1/orders/at-risk with a trained model: a line's score is its own (alone, in 50
lines or in the whole open book it is the same), and a line past its promise is overdue,
with how late it is expected to be."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from forecasting.risk.features import open_at
from forecasting.risk.memory import as_known_at
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders
from tests.api.conftest import settings_with
from tests.api.test_risk_attributes import OneModel, json_lines

AT_RISK = "/v1/orders/at-risk"
SCORE = ["p_late", "risk_band", "expected_delay_days", "reason_1", "reason_2", "reason_3"]


@pytest.fixture(scope="module")
def book() -> Iterator[tuple[TestClient, list[dict[str, Any]], str]]:
    orders = generate_orders(sites=2, skus=12, days=200, seed=9).orders
    as_of = orders["order_date"].min() + pd.Timedelta(days=170)
    model = AtRiskModel(delivery_time=False, n_models=1, max_iter=40, lookahead_days=30).fit(
        orders, as_of=as_of
    )
    lines = as_known_at(orders[open_at(orders, as_of)], as_of)
    for column in ("order_date", "promised_date", "ship_date", "delivered_date"):
        lines[column] = lines[column].dt.strftime("%Y-%m-%d")  # not yet: NaN, left out
    app = create_app(settings_with(), loader=OneModel(model), kinds=("risk",), poll=False)
    with TestClient(app) as client:
        yield client, json_lines(lines), f"{as_of:%Y-%m-%d}"


def scores(
    client: TestClient, lines: list[dict[str, Any]], as_of: str, actions: bool = False
) -> pd.DataFrame:
    body = {"as_of": as_of, "orders": lines, "actions": actions}
    response = client.post(AT_RISK, json=body)
    assert response.status_code == 200, response.text
    return pd.DataFrame(response.json()["lines"]).set_index("line_id")


def test_a_line_scores_the_same_alone_in_fifty_and_in_the_open_book(book) -> None:
    client, lines, as_of = book
    assert len(lines) > 60
    whole = scores(client, lines, as_of)
    for position in (0, len(lines) // 2, len(lines) - 1):
        line_id = lines[position]["line_id"]
        alone = scores(client, [lines[position]], as_of)
        others = [line for line in lines if line["line_id"] != line_id][position % 7 :][:49]
        fifty = scores(client, [*others, lines[position]], as_of)
        assert alone.loc[line_id, SCORE].tolist() == whole.loc[line_id, SCORE].tolist()
        assert fifty.loc[line_id, SCORE].tolist() == whole.loc[line_id, SCORE].tolist()


def test_a_line_past_its_promise_is_overdue_with_how_late(book) -> None:
    client, lines, as_of = book
    day = pd.Timestamp(as_of)
    late = [
        lines[k]
        | {
            "line_id": f"LATE-{k}",
            "order_date": f"{day - pd.Timedelta(days=12):%Y-%m-%d}",
            "promised_date": f"{day - pd.Timedelta(days=k + 1):%Y-%m-%d}",
        }
        for k in range(5)
    ]
    for line in late:
        line.pop("ship_date", None)  # not shipped either
    answer = scores(client, [*lines[:20], *late], as_of)
    promised = pd.to_datetime(answer["promised_date"])
    passed = (promised < pd.Timestamp(as_of)).to_numpy()
    assert passed.any() and (~passed).any()
    overdue, current = answer[passed], answer[~passed]
    assert (overdue["risk_band"] == "overdue").all() and (overdue["p_late"] == 1.0).all()
    days = (pd.Timestamp(as_of) - promised[passed]).dt.days
    assert (overdue["delay_p50_days"] >= days).all()
    assert (overdue["delay_p90_days"] >= overdue["delay_p50_days"]).all()
    assert overdue["reason_1"].str.startswith("promised date passed").all()
    assert current[["delay_p50_days", "delay_p90_days"]].isna().all().all()
    assert current["reason_1"].notna().all()  # every line says why, or that nothing stands out


def test_actions_are_given_when_asked_for(book) -> None:
    client, lines, as_of = book
    plain = scores(client, lines, as_of)
    assert plain["action"].isna().all()
    asked = scores(client, lines, as_of, actions=True)
    pd.testing.assert_series_equal(asked["p_late"], plain["p_late"])
    high = asked["risk_band"] == "high"
    assert asked.loc[~high, "action"].isna().all()


def test_the_answer_says_how_old_the_models_memory_is(book) -> None:
    # A champion not refreshed for weeks scored from month-old records without a word.
    client, lines, as_of = book
    on_time = client.post(AT_RISK, json={"as_of": as_of, "orders": lines[:3]}).json()
    assert on_time["memory_as_of"] == as_of and on_time["notes"] == []
    later = f"{pd.Timestamp(as_of) + pd.Timedelta(days=40):%Y-%m-%d}"
    stale = client.post(AT_RISK, json={"as_of": later, "orders": lines[:3]})
    assert stale.status_code == 200, stale.text
    (note,) = stale.json()["notes"]
    assert f"40 days after the day the model's memory knows the order book as of ({as_of})" in note
    assert "ordercast refresh" in note
