"""One future (#23): the capacity outlook's new work comes from the served demand
forecast, so the work arriving in a week adds up to the demand forecast's site total."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.arrivals import site_demand
from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import BacktestConfig, GlobalModelConfig
from forecasting.demand.serving import build_serving_model
from forecasting.series import build_hierarchy, drop_partial_last_period, prefix_levels
from forecasting.synthetic import generate_orders

GRID = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
FREQ = "W-SUN"


@pytest.fixture(scope="module")
def served() -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """A generated history, a Sunday to forecast from, and the demand forecast a demand
    model trained as ``ordercast train demand`` does (site level) serves for it."""
    history = generate_orders(sites=3, skus=40, days=400, seed=13)
    as_of = pd.Timestamp("2025-01-26")  # a Sunday: the weeks after it are whole
    known = history.orders[history.orders["order_date"] <= as_of]
    series = prefix_levels(
        drop_partial_last_period(
            build_hierarchy(known, levels=[("site",)], freq=FREQ, date_col="order_date"),
            FREQ,
            as_of,
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoForecaster(
            horizon=6,
            freq=FREQ,
            quantiles=GRID,
            backtest=BacktestConfig(n_windows=2),
            global_model=GlobalModelConfig(mode="off"),
        ).fit(series)
    core = build_serving_model(model.predict(6, GRID), model.selection_, [["site"]], FREQ, GRID)
    return known, core.to_frame(GRID), as_of


@pytest.mark.parametrize("n_paths", [500])
def test_weekly_arrivals_equal_the_demand_forecasts_site_totals(served, n_paths: int) -> None:
    known, demand, as_of = served
    model = CapacityForecaster(n_paths=n_paths).fit(known, as_of, demand=demand, demand_freq=FREQ)
    arrivals = model.expected_arrivals(35)
    weekly = arrivals.groupby(["site", pd.Grouper(key="ds", freq=FREQ)])["arrivals_mean"].sum()
    totals = site_demand(demand).set_index(["site", "ds"])["mean"]
    weeks = weekly.index.get_level_values("ds").unique()
    assert len(weeks) == 5  # whole Monday-Sunday weeks
    compared = pd.concat({"capacity": weekly, "demand": totals.reindex(weekly.index)}, axis=1)
    ratio = compared["capacity"] / compared["demand"]
    assert len(ratio) == 15
    np.testing.assert_array_less(np.abs(ratio - 1), 0.02)
    # The outlook queues those same paths.
    outlook = model.predict(35)
    assert (outlook["arrivals_p50"] > 0).any()


def test_without_the_demand_forecast_the_arrivals_are_the_models_own(served) -> None:
    known, demand, as_of = served
    own = CapacityForecaster(arrivals="bootstrap", n_paths=200).fit(known, as_of)
    one = CapacityForecaster(arrivals="bootstrap", n_paths=200).fit(known, as_of, demand=demand)
    assert not np.allclose(
        own.expected_arrivals(14)["arrivals_mean"], one.expected_arrivals(14)["arrivals_mean"]
    )


def test_a_bottom_level_forecast_is_rolled_up_to_sites() -> None:
    bottom = pd.DataFrame(
        {
            "series_id": ["sku,site:A|S1", "sku,site:B|S1", "sku,site:A|S2"],
            "ds": pd.Timestamp("2025-02-02"),
            "mean": [10.0, 5.0, 7.0],
            "q10": [8.0, 4.0, 6.0],
        }
    )
    sites = site_demand(bottom).set_index("site")
    assert sites.loc["S1", "mean"] == 15.0 and sites.loc["S2", "mean"] == 7.0
    assert sites.loc["S1", "q10"] == 12.0
