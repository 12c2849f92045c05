"""The release rule: when an order line becomes work a site can ship (#23)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.release import (
    ALL,
    ReleaseRule,
    fit_release_rule,
    release_dates,
    release_lags,
)
from forecasting.synthetic import generate_orders

START = pd.Timestamp("2024-01-01")
AS_OF = pd.Timestamp("2024-06-30")


def ship_by_history() -> pd.DataFrame:
    """A site that holds lines until they are due: b2b lines are ordered 30 days ahead and
    shipped 2 days before their promise; web lines promised in 4 days ship the next day.
    Lines shipping after ``AS_OF`` are open."""
    rows = []
    for day in pd.date_range(START, AS_OF, freq="D"):
        for _ in range(10):
            rows.append(("b2b", day, day + pd.Timedelta(days=30), day + pd.Timedelta(days=28), 10))
            rows.append(("web", day, day + pd.Timedelta(days=4), day + pd.Timedelta(days=1), 5))
    frame = pd.DataFrame(
        rows, columns=["channel", "order_date", "promised_date", "ship_date", "quantity"]
    )
    frame["ship_date"] = frame["ship_date"].where(frame["ship_date"] <= AS_OF)
    frame["delivered_date"] = frame["ship_date"] + pd.Timedelta(days=1)
    frame["site"] = "S"
    frame["order_id"] = [f"O{i}" for i in range(len(frame))]
    return frame


def test_the_rule_learns_how_long_before_its_promise_a_line_ships() -> None:
    rule = fit_release_rule(ship_by_history(), AS_OF)
    assert rule.windows["b2b"] == pytest.approx(2)
    assert rule.windows["web"] == pytest.approx(3)


def test_lines_ordered_far_ahead_are_released_when_due_not_on_their_order_date() -> None:
    orders = ship_by_history()
    rule = fit_release_rule(orders, AS_OF)
    release = release_dates(orders, rule)
    b2b = orders["channel"] == "b2b"
    lag = (release - orders["order_date"]).dt.days
    assert (lag[b2b] == 28).all() and (lag[~b2b] == 1).all()
    # Never released after the line shipped.
    shipped = orders["ship_date"].notna()
    assert (release[shipped] <= orders.loc[shipped, "ship_date"]).all()
    # New work: a share of the units is released 28 days after its order date.
    lags = release_lags(orders, rule, AS_OF)
    assert lags.sum() == pytest.approx(1.0)
    assert lags[28] == pytest.approx(100 / 150) and lags[1] == pytest.approx(50 / 150)


def test_open_lines_enter_the_queue_on_their_release_day() -> None:
    orders = ship_by_history()
    model = CapacityForecaster(arrivals="bootstrap", n_paths=50, holidays=None).fit(orders, AS_OF)
    open_units = orders.loc[orders["ship_date"].isna(), "quantity"].sum()
    # Every line released so far has shipped: nothing waits, though 2,850 units are open.
    assert model.backlog_["S"] == 0.0 and open_units == 28 * 100 + 50
    # Each open unit is released once, on its day: none counted twice or lost.
    scheduled = model.scheduled_.xs("S", level="site")
    assert scheduled.sum() == pytest.approx(open_units)
    assert scheduled.index.min() == AS_OF + pd.Timedelta(days=1)
    outlook = model.predict(14)
    first = outlook.iloc[0]
    # Day one releases the open b2b lines ordered 27 days before as_of (100 units) and
    # the web lines of as_of (50); new orders are released a day or 28 days after.
    assert first["arrivals_p50"] >= 150
    assert (outlook["backlog_p50"] < 200).all()


def test_without_promised_dates_lines_are_released_on_their_order_date() -> None:
    orders = ship_by_history().drop(columns="promised_date")
    rule = fit_release_rule(orders, AS_OF)
    assert rule.windows == {ALL: np.inf}
    assert (release_dates(orders, rule) == orders["order_date"]).all()
    assert (
        release_dates(ship_by_history(), ReleaseRule({ALL: np.inf})) == orders["order_date"]
    ).all()


def test_on_the_generator_the_rule_releases_on_the_order_date_as_the_generator_does() -> None:
    # The generator releases every line on its order date and ships first in first out:
    # the learnt rule must find that, and the backlog then equals the simulated queue's.
    history = generate_orders(sites=3, skus=40, days=300, seed=4)
    for as_of in pd.to_datetime(["2024-06-15", "2024-09-20"]):
        known = history.orders[history.orders["order_date"] <= as_of]
        rule = fit_release_rule(known, as_of)
        lag = (release_dates(known.assign(ship_date=pd.NaT), rule) - known["order_date"]).dt.days
        on_order_date = float(known["quantity"][lag == 0].sum() / known["quantity"].sum())
        assert on_order_date >= 0.99
        model = CapacityForecaster(arrivals="bootstrap", n_paths=20).fit(known, as_of)
        truth = history.site_daily[history.site_daily["date"] == as_of].set_index("site")
        for site, backlog in model.backlog_.items():
            # Lines released a day late (at most 1%) may move some units out of it.
            assert backlog == pytest.approx(truth.loc[site, "backlog_units"], rel=0.02, abs=5)
