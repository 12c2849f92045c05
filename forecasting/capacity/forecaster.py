"""Site workload against capacity, day by day, as a queue over simulated futures.

``fit`` reads the history up to ``as_of``: each site's backlog at that moment, its
capacity (a user calendar where given, otherwise estimated from constrained days, with
public holidays closed at sites that have closed on them), and its daily arrivals of new
work. New work comes from the demand engine by default (``arrivals="forecast"``: the
automatic pipeline forecasts each site's released work with fine quantiles, see
:mod:`forecasting.capacity.arrivals`), or from a bootstrap of the same weekday of the
last ``arrival_weeks`` weeks (``"bootstrap"``). ``predict`` simulates ``n_paths``
futures, queues work day to day (``backlog_t = max(0, backlog_{t-1} + arrivals_t -
capacity_t)``), and summarises workload quantiles, utilization, the probability workload
exceeds capacity, the projected backlog and the expected delay of work arriving each day.

Open orders enter as the backlog at ``as_of``: work is released to a site on its order
date and the site ships first-in first-out, so an open line is work waiting now, whatever
its promised date.

Work is measured in ``measure``: ``"units"`` (quantity, the default), ``"lines"`` (order
lines) or ``"orders"`` (see :mod:`forecasting.capacity.flows`). The backlog, the capacity
estimate, the arrivals and every workload and capacity column of the outlook are in that
measure, and so must a user calendar be (``capacity_units`` or ``units_per_hour`` then
count lines or orders)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from forecasting.capacity.arrivals import (
    arrival_forecast,
    arrival_model,
    refresh_arrivals,
    sample_arrivals,
)
from forecasting.capacity.calendar import check_calendar
from forecasting.capacity.estimate import estimate_capacity, holiday_closures
from forecasting.capacity.flows import check_measure, site_flows
from forecasting.capacity.measures import AHEAD_DAYS, MEASURE_COLUMNS, outlook_measures
from forecasting.capacity.scenario import (
    CapacityScenario,
    apply_scenario,
    check_scenario,
    parse_scenario,
)
from forecasting.demand.auto import AutoForecaster
from forecasting.demand.calendar_features import check_country, holiday_dates
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError

OUTPUT_COLUMNS = ["site", "ds", *MEASURE_COLUMNS]


def run_queue(
    backlog0: np.ndarray, arrivals: np.ndarray, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queue every path: returns work available (backlog carried in plus the day's
    arrivals), shipped and end-of-day backlog (paths x days).

    Conserves work: arrivals summed over days equal shipped plus the change in backlog.
    """
    paths, days = arrivals.shape
    backlog = np.array(backlog0, dtype=float).reshape(-1) * np.ones(paths)
    available = np.empty((paths, days))
    shipped = np.empty((paths, days))
    ends = np.empty((paths, days))
    for t in range(days):
        available[:, t] = backlog + arrivals[:, t]
        shipped[:, t] = np.minimum(available[:, t], capacity[t])
        backlog = available[:, t] - shipped[:, t]
        ends[:, t] = backlog
    return available, shipped, ends


class CapacityForecaster(BaseEstimator):
    """Probabilistic capacity outlook per site and day (see the module docstring)."""

    def __init__(
        self,
        n_paths: int = 500,
        arrival_weeks: int = 8,
        max_horizon: int = 90,
        random_state: int = 0,
        holidays: str | None = "US",
        arrivals: str = "forecast",
        measure: str = "units",
    ) -> None:
        self.n_paths = n_paths
        self.arrival_weeks = arrival_weeks
        self.max_horizon = max_horizon
        self.random_state = random_state
        self.holidays = holidays
        self.arrivals = arrivals
        self.measure = measure

    def fit(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp | str | None = None,
        calendar: pd.DataFrame | None = None,
    ) -> CapacityForecaster:
        check_measure(self.measure)
        if self.arrivals not in ("forecast", "bootstrap"):
            raise ConfigError(f"arrivals must be 'forecast' or 'bootstrap', not '{self.arrivals}'")
        as_of, flows = self._flows(orders, as_of)
        self.sites_ = sorted(flows["site"].unique())
        self.estimate_ = estimate_capacity(flows)
        self.holiday_closures_ = (
            holiday_closures(flows, check_country(self.holidays)) if self.holidays else {}
        )
        self.calendar_ = None if calendar is None else check_calendar(calendar, set(self.sites_))
        self._start_queue(flows, as_of)
        return self

    def with_backlog(
        self, orders: pd.DataFrame, as_of: pd.Timestamp | str | None = None
    ) -> CapacityForecaster:
        """A copy of this fitted forecaster whose outlook starts from ``orders`` at ``as_of``.

        ``orders`` is the whole history as it stands now (open lines included), ``as_of`` a
        date on or after the fitted ``as_of_`` (default: the last order date); the
        forecaster itself is unchanged. No capacity re-estimate: a refresh between two
        trainings.

        Refreshed: ``as_of_`` (outlooks run from the day after it), ``backlog_`` (each
        site's open work then) and the new work to come: ``arrival_model_`` refreshed on
        the flows to ``as_of`` (each site keeps the model its fit chose, re-estimated, no
        reselection) and ``arrival_forecast_`` from it, or with bootstrap arrivals
        ``arrivals_`` (the last ``arrival_weeks`` weeks).

        Not refreshed: the capacity estimate (``estimate_``), the holiday closures, the
        user calendar and ``sites_``: a site the fit never saw has no capacity and is not
        forecast until the next training.

        Raises :class:`ConfigError` when the forecaster is not fitted, ``as_of`` is before
        its ``as_of_``, or ``orders`` holds no order of its sites on or before ``as_of``.
        """
        if not hasattr(self, "estimate_"):
            raise ConfigError("with_backlog needs a fitted CapacityForecaster: call fit first")
        as_of, flows = self._flows(orders, as_of)
        if as_of < self.as_of_:
            raise ConfigError(
                f"as-of date {as_of:%Y-%m-%d} is before the forecaster's {self.as_of_:%Y-%m-%d}; "
                "start the outlook from the orders as they are now"
            )
        known = flows[flows["site"].isin(self.sites_)]
        if known.empty:
            raise ConfigError(
                f"none of the forecaster's sites ({', '.join(self.sites_)}) has orders by "
                f"{as_of:%Y-%m-%d}; retrain on the new sites' history"
            )
        fresh = copy.copy(self)
        # A forecaster pickled before it kept its arrival model has it fitted afresh.
        fresh._start_queue(known, as_of, getattr(self, "arrival_model_", None))
        return fresh

    def _flows(
        self, orders: pd.DataFrame, as_of: pd.Timestamp | str | None
    ) -> tuple[pd.Timestamp, pd.DataFrame]:
        """``as_of`` (default: the last order date) and the site flows of the orders to it."""
        as_of = pd.Timestamp(as_of) if as_of is not None else orders["order_date"].max()
        history = orders[orders["order_date"] <= as_of]
        if history.empty:
            raise ConfigError(f"no orders on or before {as_of:%Y-%m-%d}")
        return as_of, site_flows(history, until=as_of, measure=self.measure)

    def _start_queue(
        self, flows: pd.DataFrame, as_of: pd.Timestamp, fitted: AutoForecaster | None = None
    ) -> None:
        """Where the queue starts: ``as_of_``, each site's ``backlog_`` then, and the new
        work to come (``arrival_forecast_`` or the recent ``arrivals_``); the arrival model
        ``fitted`` earlier, when given, is refreshed rather than selected again."""
        self.as_of_ = as_of
        last = flows[flows["date"] == flows["date"].max()].set_index("site")
        self.backlog_ = last["backlog_end"].to_dict()
        self.arrival_model_: AutoForecaster | None = None
        self.arrival_forecast_ = None
        if self.arrivals == "forecast":
            self.arrival_model_ = (
                arrival_model(flows, self.max_horizon)
                if fitted is None
                else refresh_arrivals(fitted, flows)
            )
            self.arrival_forecast_ = arrival_forecast(self.arrival_model_, self.max_horizon)
        recent = flows[flows["date"] > as_of - pd.Timedelta(weeks=self.arrival_weeks)]
        self.arrivals_ = {
            (site, weekday): group["released"].to_numpy()
            for (site, weekday), group in recent.groupby(["site", recent["date"].dt.dayofweek])
        }

    def capacity_for(self, site: str, days: pd.DatetimeIndex) -> np.ndarray:
        """Capacity per day: the calendar's dated rule, else its weekday rule, else the
        estimate (zero on public holidays at a site that has closed on them)."""
        pattern = self.estimate_[self.estimate_["site"] == site].set_index("weekday")
        capacity = pattern["capacity_units"].reindex(days.dayofweek).to_numpy(float)
        if self.holiday_closures_.get(site, False):
            closed = holiday_dates(str(self.holidays), days.min().year, days.max().year)
            on_holiday = np.isin(days.to_numpy().astype("datetime64[D]"), closed)
            capacity = np.where(on_holiday, 0.0, capacity)
        if self.calendar_ is not None:
            rules = self.calendar_[self.calendar_["site"] == site]
            if "weekday" in rules.columns:
                weekly = rules.dropna(subset=["weekday"]).set_index("weekday")["capacity_units"]
                override = weekly.reindex(days.dayofweek).to_numpy(float)
                capacity = np.where(np.isnan(override), capacity, override)
            if "date" in rules.columns:
                dated = rules.dropna(subset=["date"]).set_index("date")["capacity_units"]
                override = dated.reindex(days).to_numpy(float)
                capacity = np.where(np.isnan(override), capacity, override)
        return np.nan_to_num(capacity, nan=0.0)

    def predict(
        self,
        horizon: int,
        sites: Sequence[str] | None = None,
        scenario: Mapping[str, Any] | CapacityScenario | None = None,
    ) -> pd.DataFrame:
        """The outlook frame (``OUTPUT_COLUMNS``), one row per site and day after ``as_of``;
        ``scenario`` a what-if (:class:`~forecasting.capacity.scenario.CapacityScenario`,
        or a mapping of its fields)."""
        if not 1 <= horizon <= self.max_horizon:
            raise HorizonError(f"horizon {horizon} is outside 1 to {self.max_horizon} days")
        chosen = list(sites) if sites else self.sites_
        unknown = [s for s in chosen if s not in self.sites_]
        if unknown:
            raise UnknownSeriesError(f"unknown site(s) {unknown}; sites: {', '.join(self.sites_)}")
        scenario = parse_scenario(scenario)
        check_scenario(scenario, self.sites_, list(sites) if sites else None)
        days = pd.date_range(self.as_of_ + pd.Timedelta(days=1), periods=horizon, freq="D")
        # The week after the horizon: what the last days' backlog is measured in.
        ahead = pd.date_range(days[0], periods=horizon + AHEAD_DAYS, freq="D")
        rng = np.random.default_rng(self.random_state)
        frames = []
        for site in chosen:
            capacity = apply_scenario(self.capacity_for(site, ahead), ahead, site, scenario)
            arrivals = self._arrival_paths(site, days, rng)
            available, _, backlog = run_queue(
                np.array([self.backlog_.get(site, 0.0)]), arrivals, capacity[:horizon]
            )
            measures = outlook_measures(arrivals, available, backlog, capacity)
            frames.append(pd.DataFrame({"site": site, "ds": days, **measures}))
        out = pd.concat(frames, ignore_index=True)
        return out[OUTPUT_COLUMNS]

    def _arrival_paths(
        self, site: str, days: pd.DatetimeIndex, rng: np.random.Generator
    ) -> np.ndarray:
        if self.arrival_forecast_ is not None:
            return sample_arrivals(self.arrival_forecast_, site, days, self.n_paths, rng)
        return np.column_stack(
            [
                rng.choice(self.arrivals_.get((site, d.dayofweek), np.zeros(1)), self.n_paths)
                for d in days
            ]
        )

    def first_shortfall_dates(self, outlook: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        """Per site, the first day a shortfall is more likely than ``threshold`` (NaT if none)."""
        risky = outlook[outlook["p_shortfall"] > threshold]
        first = risky.groupby("site")["ds"].min()
        return first.reindex(sorted(outlook["site"].unique()))
