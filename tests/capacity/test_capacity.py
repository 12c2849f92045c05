"""Capacity: estimation recovers the truth, the queue conserves work, calendars, scenarios."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.arrivals import sample_arrivals
from forecasting.capacity.estimate import estimate_capacity, holiday_closures
from forecasting.capacity.flows import site_flows
from forecasting.capacity.forecaster import OUTPUT_COLUMNS, run_queue
from forecasting.demand.calendar_features import holiday_dates
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError
from forecasting.risk.evaluate import expected_calibration_error
from forecasting.synthetic import generate_orders
from ordercast.cli import main


def constrained_flows(pattern: list[float], weeks: int = 13) -> pd.DataFrame:
    """A site always holding a backlog, shipping exactly its capacity each day."""
    days = pd.date_range("2024-01-01", periods=7 * weeks, freq="D")  # starts on a Monday
    shipped = np.array([pattern[d.dayofweek] for d in days])
    return pd.DataFrame(
        {
            "site": "A",
            "date": days,
            "released": shipped,
            "shipped": shipped,
            "backlog_start": 5000.0,
            "backlog_end": 5000.0,
        }
    )


def test_estimation_recovers_a_known_constant() -> None:
    estimate = estimate_capacity(constrained_flows([800.0] * 7))
    np.testing.assert_allclose(estimate["capacity_units"], 800.0)


def test_estimation_recovers_a_known_weekday_pattern() -> None:
    pattern = [1000.0, 1000.0, 900.0, 1000.0, 1100.0, 500.0, 0.0]
    estimate = estimate_capacity(constrained_flows(pattern)).set_index("weekday")
    np.testing.assert_allclose(estimate["capacity_units"].to_numpy(), pattern)


def test_estimate_is_within_10_percent_of_the_truth_where_the_site_was_constrained() -> None:
    history = generate_orders(sites=2, skus=60, days=300, seed=5)
    as_of = history.orders["order_date"].max()
    model = CapacityForecaster().fit(history.orders, as_of)
    truth = history.capacity[history.capacity["date"] > as_of - pd.Timedelta(days=91)]
    truth = (
        truth.assign(weekday=truth["date"].dt.dayofweek)
        .groupby(["site", "weekday"])["capacity_units"]
        .median()
    )
    estimate = model.estimate_.set_index(["site", "weekday"])
    # Where the site was constrained (the estimate rests on binding days), as the issue asks.
    binding = estimate.index[(estimate["constrained_days"] >= 3) & (truth > 0)]
    assert len(binding) >= 6
    ratio = estimate.loc[binding, "capacity_units"] / truth[binding]
    assert ratio.between(0.9, 1.1).mean() >= 0.9


@settings(max_examples=50, deadline=None)
@given(
    backlog=st.floats(0, 1e4),
    arrivals=st.lists(st.floats(0, 1e4), min_size=1, max_size=30),
    capacity=st.floats(0, 1e4),
)
def test_the_queue_conserves_work(backlog: float, arrivals: list[float], capacity: float) -> None:
    work = np.array([arrivals])
    cap = np.full(len(arrivals), capacity)
    _, shipped, ends = run_queue(np.array([backlog]), work, cap)
    assert np.isclose(work.sum(), shipped.sum() + ends[0, -1] - backlog)
    assert (shipped <= cap + 1e-9).all() and (ends >= -1e-9).all()


def test_shortfall_probability_is_calibrated_on_a_known_distribution() -> None:
    rng = np.random.default_rng(0)
    arrivals = rng.uniform(0, 2000, size=(4000, 1))  # P(available > 1500) = 0.25
    available, _, _ = run_queue(np.array([0.0]), arrivals, np.array([1500.0]))
    assert (available > 1500).mean() == pytest.approx(0.25, abs=0.03)


@pytest.fixture(scope="module")
def fitted() -> tuple[CapacityForecaster, pd.DataFrame]:
    orders = generate_orders(sites=2, skus=40, days=200, seed=8).orders
    return CapacityForecaster(n_paths=200).fit(orders), orders


def test_outlook_columns_and_scenarios(fitted) -> None:
    model, _ = fitted
    base = model.predict(14)
    assert list(base.columns) == OUTPUT_COLUMNS
    assert len(base) == 2 * 14
    assert (base["available_p10"] <= base["available_p90"]).all()
    assert base["p_shortfall"].between(0, 1).all()
    more = model.predict(14, scenario={"capacity_change_pct": 50})
    assert more["backlog_p50"].sum() <= base["backlog_p50"].sum()
    assert (more["capacity"] >= base["capacity"]).all()
    closed_day = base["ds"].iloc[2]
    closed = model.predict(14, scenario={"closures": [str(closed_day.date())]})
    assert (closed.loc[closed["ds"] == closed_day, "capacity"] == 0).all()


def test_a_sites_outlook_does_not_depend_on_the_other_sites_asked(fitted) -> None:
    model, _ = fitted
    first, second = model.sites_
    together = model.predict(14)
    for site in (first, second):
        alone = model.predict(14, sites=[site])
        pd.testing.assert_frame_equal(
            alone.reset_index(drop=True),
            together[together["site"] == site].reset_index(drop=True),
        )
    # The second site alone is not a copy of the first's random stream.
    assert not np.allclose(
        model.predict(14, sites=[second])["arrivals_p50"], together["arrivals_p50"].iloc[:14]
    )


def test_a_user_calendar_overrides_the_estimate(fitted) -> None:
    _, orders = fitted
    calendar = pd.DataFrame(
        {"site": ["SITE-1"] * 7, "weekday": range(7), "capacity_units": [123.0] * 7}
    )
    model = CapacityForecaster(n_paths=50).fit(orders, calendar=calendar)
    outlook = model.predict(7, sites=["SITE-1"])
    assert (outlook["capacity"] == 123.0).all()


def test_weekday_names_and_iso_dates_read_as_their_days(fitted) -> None:
    _, orders = fitted
    calendar = pd.DataFrame(
        {
            "site": ["SITE-1"] * 3,
            "weekday": ["Monday", "tue", None],
            "date": [None, None, "2030-01-01"],
            "capacity_units": [11.0, 22.0, 0.0],
        }
    )
    model = CapacityForecaster(n_paths=50).fit(orders, calendar=calendar)
    assert model.calendar_["weekday"].tolist()[:2] == [0, 1]
    assert model.calendar_["date"].iloc[2] == pd.Timestamp("2030-01-01")
    outlook = model.predict(14, sites=["SITE-1"])
    days = pd.to_datetime(outlook["ds"]).dt.dayofweek
    assert (outlook.loc[days == 0, "capacity"] == 11.0).all()
    assert (outlook.loc[days == 1, "capacity"] == 22.0).all()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            {"site": ["SITE-1"], "weekday": [0], "capacity_units": [-5]},
            r"calendar rule 1: capacity_units must be a number >= 0",
        ),
        (
            {"site": ["SITE-9"], "weekday": [0], "capacity_units": [5]},
            r"calendar rule 1: unknown site 'SITE-9'",
        ),
        (
            {"site": ["SITE-1", "SITE-1"], "weekday": [2, 2], "capacity_units": [5, 6]},
            r"calendar rules overlap: site 'SITE-1' has more than one rule for weekday 2",
        ),
        # Each of these rules used to be dropped without a word (or its day guessed).
        (
            {"site": ["SITE-1"], "weekday": ["Funday"], "capacity_units": [5]},
            r"calendar rule 1: weekday 'Funday' is not a day of the week; write 0 \(Monday\)",
        ),
        (
            {"site": ["SITE-1"], "weekday": [7], "capacity_units": [5]},
            r"calendar rule 1: weekday '7' is not a day of the week",
        ),
        (
            {
                "site": ["SITE-1", "SITE-1"],
                "date": ["2024-12-25", "25/12/2024"],
                "capacity_units": [0, 0],
            },
            r"calendar rule 2: date '25/12/2024' is not a date; write it as YYYY-MM-DD",
        ),
        (
            {"site": ["SITE-1"], "weekday": [1], "date": ["2024-12-25"], "capacity_units": [0]},
            r"calendar rule 1: give either a weekday .* or a date .*, not both",
        ),
        (
            {"site": ["SITE-1"], "weekday": [None], "date": [None], "capacity_units": [0]},
            r"calendar rule 1: give either a weekday .* or a date .*, not neither",
        ),
    ],
)
def test_bad_calendars_are_clear_errors(fitted, rules: dict, message: str) -> None:
    _, orders = fitted
    with pytest.raises(ConfigError, match=message):
        CapacityForecaster().fit(orders, calendar=pd.DataFrame(rules))


def test_unknown_site_and_horizon(fitted) -> None:
    model, _ = fitted
    with pytest.raises(UnknownSeriesError, match=r"unknown site\(s\) \['X'\]"):
        model.predict(3, sites=["X"])
    with pytest.raises(HorizonError, match="outside 1 to 90 days"):
        model.predict(400)


def test_capacity_command(fitted, tmp_path: Path, capsys) -> None:
    _, orders = fitted
    data = tmp_path / "o.csv"
    orders.to_csv(data, index=False)
    out, plots = tmp_path / "cap.csv", tmp_path / "plots"
    assert (
        main(
            [
                "capacity",
                "forecast",
                "--data",
                str(data),
                "--horizon",
                "7",
                "--out",
                str(out),
                "--plot",
                str(plots),
            ]
        )
        == 0
    )
    assert list(pd.read_csv(out).columns) == OUTPUT_COLUMNS
    assert sorted(p.name for p in plots.glob("*.png")) == [
        "capacity-SITE-1.png",
        "capacity-SITE-2.png",
    ]
    assert "peak load ratio" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("site,weekday,capacity_units\nSITE-1,1,-3\n")
    assert (
        main(
            [
                "capacity",
                "forecast",
                "--data",
                str(data),
                "--horizon",
                "7",
                "--out",
                str(out),
                "--calendar",
                str(bad),
            ]
        )
        == 2
    )


def test_holiday_closures_are_learnt_and_close_future_holidays() -> None:
    days = pd.date_range("2023-01-02", "2024-12-20", freq="D")
    us = pd.DatetimeIndex(holiday_dates("US", 2023, 2024))
    shipping = np.where((days.dayofweek < 5) & ~days.isin(us), 1000.0, 0.0)
    flows = pd.DataFrame(
        {
            "site": np.repeat(["closes", "opens"], len(days)),
            "date": np.tile(days, 2),
            "shipped": np.concatenate([shipping, np.where(days.dayofweek < 5, 1000.0, 0.0)]),
        }
    )
    assert holiday_closures(flows, "US") == {"closes": True, "opens": False}


def test_forecaster_closes_a_site_on_the_holidays_it_closed_on(fitted) -> None:
    model, _ = fitted
    assert model.holiday_closures_  # the synthetic sites close on US holidays
    site = next(s for s, closes in model.holiday_closures_.items() if closes)
    july = pd.date_range("2025-07-01", "2025-07-07", freq="D")
    capacity = model.capacity_for(site, july)
    assert capacity[july == "2025-07-04"][0] == 0.0
    assert capacity[july == "2025-07-03"][0] > 0.0


def test_arrival_paths_follow_the_forecast_quantiles() -> None:
    days = pd.date_range("2025-01-01", periods=3, freq="D")
    grid = np.array([0.1, 0.5, 0.9])
    forecast = pd.DataFrame(
        {"site": "A", "ds": days, "q10": [10.0, 20.0, 30.0], "q50": [50.0, 60.0, 70.0]}
    ).assign(q90=[90.0, 100.0, 110.0])
    paths = sample_arrivals(forecast, "A", days, 20_000, np.random.default_rng(1))
    assert paths.shape == (20_000, 3)
    for t in range(3):
        below = [(paths[:, t] <= forecast[f"q{int(q * 100)}"].iloc[t]).mean() for q in grid]
        np.testing.assert_allclose(below, [0.0, 0.5, 1.0], atol=0.02)
    with pytest.raises(ConfigError, match="arrivals must be 'forecast' or 'bootstrap'"):
        CapacityForecaster(arrivals="magic").fit(fitted_orders())


def fitted_orders() -> pd.DataFrame:
    return generate_orders(sites=1, skus=10, days=60, seed=2).orders


@pytest.fixture(scope="module")
def small_orders() -> pd.DataFrame:
    return generate_orders(sites=2, skus=20, days=120, seed=3).orders


def test_labour_hours_times_rate_override_the_estimate(small_orders) -> None:
    calendar = pd.DataFrame(
        {
            "site": ["SITE-1"] * 7 + ["SITE-2"],
            "weekday": [*range(7), 0],
            "labour_hours": [16.0] * 5 + [8.0, 0.0] + [np.nan],
            "units_per_hour": [12.5] * 7 + [np.nan],
            "capacity_units": [np.nan] * 7 + [40.0],  # rules may mix the two forms
        }
    )
    model = CapacityForecaster(n_paths=50).fit(small_orders, calendar=calendar)
    days = pd.date_range("2025-03-03", periods=7, freq="D")  # Monday to Sunday
    np.testing.assert_array_equal(model.capacity_for("SITE-1", days), [200.0] * 5 + [100.0, 0.0])
    assert model.capacity_for("SITE-2", days)[0] == 40.0


def test_a_yaml_calendar_in_labour_hours_works_from_the_command_line(
    small_orders, tmp_path: Path
) -> None:
    data, out, calendar = tmp_path / "o.csv", tmp_path / "cap.csv", tmp_path / "cal.yaml"
    small_orders.to_csv(data, index=False)
    calendar.write_text(
        "rules:\n"
        "  - {site: SITE-1, weekday: 0, labour_hours: 10, units_per_hour: 7}\n"
        "  - {site: SITE-1, date: '2030-01-01', capacity_units: 0}\n"
    )
    args = ["capacity", "forecast", "--data", str(data), "--horizon", "14", "--out", str(out)]
    assert main([*args, "--calendar", str(calendar)]) == 0
    outlook = pd.read_csv(out, parse_dates=["ds"])
    mondays = outlook[(outlook["site"] == "SITE-1") & (outlook["ds"].dt.dayofweek == 0)]
    assert len(mondays) == 2 and (mondays["capacity"] == 70.0).all()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"capacity_units": 100, "labour_hours": 8, "units_per_hour": 10},
            r"calendar rule 2: give capacity_units or labour_hours with units_per_hour, "
            r"not both",
        ),
        ({"labour_hours": 8}, r"calendar rule 2: labour_hours needs units_per_hour"),
        ({"units_per_hour": 10}, r"calendar rule 2: units_per_hour needs labour_hours"),
        (
            {"labour_hours": -8, "units_per_hour": 10},
            r"calendar rule 2: labour_hours must be a number >= 0, not -8",
        ),
        (
            {"labour_hours": "eight", "units_per_hour": 10},
            r"calendar rule 2: labour_hours must be a number >= 0, not 'eight'",
        ),
        (
            {"labour_hours": 8, "units_per_hour": -1},
            r"calendar rule 2: units_per_hour must be a number > 0, not -1",
        ),
        (
            {"labour_hours": 8, "units_per_hour": "fast"},
            r"calendar rule 2: units_per_hour must be a number > 0, not 'fast'",
        ),
        ({}, r"calendar rule 2: no capacity; give capacity_units, or labour_hours"),
    ],
)
def test_bad_labour_hour_rules_are_clear_errors(small_orders, rule: dict, message: str) -> None:
    good = {"site": "SITE-1", "weekday": 0, "labour_hours": 8, "units_per_hour": 10}
    calendar = pd.DataFrame([good, {"site": "SITE-1", "weekday": 1, **rule}])
    with pytest.raises(ConfigError, match=message):
        CapacityForecaster().fit(small_orders, calendar=calendar)


def hand_made_orders() -> pd.DataFrame:
    """Order A: two lines (5 and 3 units) shipped on different days; order B: one line of 7."""
    day = pd.Timestamp("2025-01-06")
    return pd.DataFrame(
        {
            "order_id": ["A", "A", "B"],
            "line_id": ["A1", "A2", "B1"],
            "site": ["S", "S", "S"],
            "order_date": [day, day, day + pd.Timedelta(days=1)],
            "ship_date": [day + pd.Timedelta(days=1), day + pd.Timedelta(days=2), pd.NaT],
            "delivered_date": [pd.NaT, pd.NaT, pd.NaT],
            "quantity": [5.0, 3.0, 7.0],
        }
    )


@pytest.mark.parametrize(
    ("measure", "released", "shipped", "backlog"),
    [
        ("units", [8, 7, 0], [0, 5, 3], [8, 10, 7]),
        ("lines", [2, 1, 0], [0, 1, 1], [2, 2, 1]),
        # An order counts once: released on its order date, shipped with its last line.
        ("orders", [1, 1, 0], [0, 0, 1], [1, 2, 1]),
    ],
)
def test_flows_in_units_lines_and_orders(
    measure: str, released: list[float], shipped: list[float], backlog: list[float]
) -> None:
    flows = site_flows(hand_made_orders(), until=pd.Timestamp("2025-01-08"), measure=measure)
    assert list(flows["date"]) == list(pd.date_range("2025-01-06", periods=3, freq="D"))
    np.testing.assert_array_equal(flows["released"], released)
    np.testing.assert_array_equal(flows["shipped"], shipped)
    np.testing.assert_array_equal(flows["backlog_end"], backlog)


def test_an_unknown_measure_is_a_clear_error(small_orders) -> None:
    with pytest.raises(ConfigError, match="measure must be units, lines or orders, not 'kg'"):
        site_flows(hand_made_orders(), measure="kg")
    with pytest.raises(ConfigError, match="measure must be units, lines or orders, not 'kg'"):
        CapacityForecaster(measure="kg").fit(small_orders)


def test_the_outlook_in_lines_and_from_the_command_line(small_orders, tmp_path: Path) -> None:
    in_units = CapacityForecaster(n_paths=100, arrivals="bootstrap").fit(small_orders)
    in_lines = CapacityForecaster(n_paths=100, arrivals="bootstrap", measure="lines").fit(
        small_orders
    )
    units, lines = in_units.predict(14), in_lines.predict(14)
    assert list(lines.columns) == OUTPUT_COLUMNS
    # Synthetic lines carry many units each, so capacity in lines is far smaller.
    assert lines["capacity"].sum() > 0
    assert lines["capacity"].sum() < 0.2 * units["capacity"].sum()
    # The backlog is counted in lines too: never more than the open lines.
    open_lines = small_orders["ship_date"].fillna(small_orders["delivered_date"]).isna().sum()
    assert sum(in_lines.backlog_.values()) <= open_lines
    data, out = tmp_path / "o.csv", tmp_path / "cap.csv"
    small_orders.to_csv(data, index=False)
    args = ["capacity", "forecast", "--data", str(data), "--horizon", "7", "--out", str(out)]
    assert main([*args, "--measure", "lines"]) == 0
    from_cli = pd.read_csv(out)
    assert list(from_cli.columns) == OUTPUT_COLUMNS
    # Capacity does not depend on how arrivals are drawn: the CLI's matches the model's.
    np.testing.assert_allclose(from_cli["capacity"], in_lines.predict(7)["capacity"])
    assert main([*args, "--measure", "kg"]) == 2


def test_shortfall_probabilities_are_calibrated_on_synthetic_history() -> None:
    """p_shortfall against the simulated truth (work carried over on an open day), over
    several forecast origins of a small history (2 sites, 60 SKUs: about 180 open
    site-days, so the error of the error is itself a few points). Stated tolerance:
    expected calibration error <= 0.15. benchmarks/capacity.py measures it on three full
    histories."""
    history = generate_orders(sites=2, skus=60, days=420, seed=12)
    truth = history.site_daily.assign(carried=lambda d: d["backlog_units"] > 0.5)
    start = history.orders["order_date"].min()
    scored = []
    for day in range(300, 400, 14):
        as_of = start + pd.Timedelta(days=day)
        known = history.orders[history.orders["order_date"] <= as_of]
        outlook = CapacityForecaster(n_paths=300, random_state=day).fit(known, as_of).predict(14)
        joined = outlook.merge(truth, left_on=["site", "ds"], right_on=["site", "date"])
        scored.append(joined[joined["capacity_units"] > 0])
    lines = pd.concat(scored)
    assert len(lines) > 100
    y, p = lines["carried"].to_numpy(int), lines["p_shortfall"].to_numpy(float)
    assert 0.05 < y.mean() < 0.95  # both outcomes occur, so calibration is tested
    assert expected_calibration_error(y, p) <= 0.15


def test_an_outlook_starting_long_after_the_history_is_refused_and_a_gap_said(
    small_orders,
) -> None:
    # As of weeks after its last order, the history's missing days read as no demand: the
    # outlook of 2030 from orders ending in 2024 came out with NaN ratios and no arrivals.
    last = small_orders["order_date"].max()
    with pytest.raises(ConfigError, match=r"is 40 days after the last order .* at most 28 days"):
        CapacityForecaster(n_paths=50).fit(small_orders, last + pd.Timedelta(days=40))
    with pytest.warns(UserWarning, match="is 5 days after the last order"):
        CapacityForecaster(n_paths=50).fit(small_orders, last + pd.Timedelta(days=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the day after the last order: a quiet day, no word
        CapacityForecaster(n_paths=50).fit(small_orders, last + pd.Timedelta(days=1))
