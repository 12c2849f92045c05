"""The capacity recommendation: re-run as a scenario, the recommended extra capacity keeps
p_shortfall under the target on every judged open day, and a tolerance less does not."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.plan import ShiftSize, recommend_capacity
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError
from forecasting.synthetic import generate_orders

DAYS = 21


@pytest.fixture(scope="module")
def model() -> CapacityForecaster:
    """SITE-1 as the history has it (a backlog, shortfalls likely); SITE-2 with a calendar
    of far more capacity than it ever needs."""
    orders = generate_orders(sites=2, skus=6, days=120, seed=3).orders
    roomy = pd.DataFrame({"site": "SITE-2", "weekday": range(7), "capacity_units": 1e6})
    forecaster = CapacityForecaster(arrivals="bootstrap", n_paths=200, max_horizon=28)
    return forecaster.fit(orders, calendar=roomy)


def worst_open_day(model: CapacityForecaster, site: str, extra: float, skip: int = 0) -> float:
    outlook = model.predict(DAYS, [site], {"extra_units": extra, "sites": [site]})
    judged = outlook.iloc[skip:]
    return float(judged.loc[judged["capacity"] > 0, "p_shortfall"].max())


@pytest.mark.parametrize("target", [0.2, 0.5])
@pytest.mark.parametrize("grace", [0, 3])
def test_the_recommendation_is_the_least_that_meets_the_target(
    model: CapacityForecaster, target: float, grace: int
) -> None:
    (advice,) = recommend_capacity(model, ["SITE-1"], DAYS, target=target, grace_days=grace)
    assert advice.max_p_shortfall_plan >= target  # the plan does fall short
    assert advice.extra_units_per_day is not None and advice.extra_units_per_day > 0
    assert worst_open_day(model, "SITE-1", advice.extra_units_per_day, grace) < target
    less = advice.extra_units_per_day - advice.tolerance
    assert worst_open_day(model, "SITE-1", less, grace) >= target
    # The days that set it: judged open days a tolerance less leaves short.
    below = model.predict(DAYS, ["SITE-1"], {"extra_units": less, "sites": ["SITE-1"]})
    short = below[
        (below["capacity"] > 0) & (below.index >= grace) & (below["p_shortfall"] >= target)
    ]
    assert list(advice.binding_days) == list(short["ds"]) and advice.binding_days
    assert advice.max_p_shortfall == worst_open_day(
        model, "SITE-1", advice.extra_units_per_day, grace
    )
    # The scenario it gives re-runs it.
    rerun = model.predict(DAYS, ["SITE-1"], advice.scenario)
    planned = model.predict(DAYS, ["SITE-1"])
    open_days = planned["capacity"] > 0
    added = rerun.loc[open_days, "capacity"] - planned.loc[open_days, "capacity"]
    assert added.to_numpy() == pytest.approx(advice.extra_units_per_day)
    assert (rerun.loc[~open_days, "capacity"] == 0).all()


def test_a_looser_target_needs_no_more_and_grace_days_no_more(model: CapacityForecaster) -> None:
    strict, loose = (
        recommend_capacity(model, ["SITE-1"], DAYS, target=t)[0].extra_units_per_day
        for t in (0.1, 0.6)
    )
    assert strict is not None and loose is not None and loose <= strict
    (graced,) = recommend_capacity(model, ["SITE-1"], DAYS, target=0.1, grace_days=5)
    assert graced.extra_units_per_day is not None
    assert graced.extra_units_per_day <= strict + graced.tolerance


def test_a_site_without_a_shortfall_needs_nothing(model: CapacityForecaster) -> None:
    (advice,) = recommend_capacity(model, ["SITE-2"], DAYS)
    assert advice.extra_units_per_day == 0.0
    assert advice.max_p_shortfall_plan < 0.2 and advice.first_shortfall_plan is None
    assert advice.binding_days == ()


def test_shifts_are_the_units_in_shifts_of_the_size_given(model: CapacityForecaster) -> None:
    shift = ShiftSize(hours=8, units_per_hour=10)
    advice, roomy = recommend_capacity(model, ["SITE-1", "SITE-2"], DAYS, shift=shift)
    assert advice.extra_units_per_day is not None
    assert advice.shifts_per_day == pytest.approx(advice.extra_units_per_day / 80)
    assert roomy.shifts_per_day == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"target": 0.0}, ConfigError, "strictly between 0 and 1"),
        ({"target": 1.0}, ConfigError, "strictly between 0 and 1"),
        ({"target": float("nan")}, ConfigError, "strictly between 0 and 1"),
        ({"days": 29}, HorizonError, "1 to 28"),
        ({"days": 0}, HorizonError, "1 to 28"),
        ({"sites": ["SITE-9"]}, UnknownSeriesError, "'SITE-9'"),
        ({"grace_days": DAYS}, ConfigError, "grace days"),
        ({"tolerance": 0.0}, ConfigError, "tolerance"),
    ],
)
def test_bad_questions_are_refused(
    model: CapacityForecaster, kwargs: dict, error: type[Exception], match: str
) -> None:
    asked = {"sites": ["SITE-1"], "days": DAYS, **kwargs}
    with pytest.raises(error, match=match):
        recommend_capacity(model, **asked)


def test_a_shift_size_must_be_a_shift() -> None:
    with pytest.raises(ConfigError, match="hours"):
        ShiftSize(hours=30, units_per_hour=10)
    with pytest.raises(ConfigError, match="units per hour"):
        ShiftSize(hours=8, units_per_hour=0)
