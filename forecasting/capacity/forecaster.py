"""Site work against capacity, day by day, as a queue over simulated futures.

``fit`` reads the history up to ``as_of``: when each line became work to ship (the
release rule learnt from the shipped lines, :mod:`forecasting.capacity.release`: a line
ordered far ahead of its promise is released when it becomes due, not on its order
date), each site's backlog at that moment (released and not shipped), the open lines
still to be released and when, the site's capacity (a user calendar where given,
otherwise estimated from constrained days, with public holidays closed at sites that
have closed on them) and the share of it the site ships on days it cannot clear
(:func:`forecasting.capacity.estimate.throughput_factors`), and its new work.

New work is ordered per day and released by the rule. It comes from the served demand
forecast when ``fit`` is given one (``demand``: one future for both models, see
:func:`forecasting.capacity.arrivals.site_demand`), otherwise from the demand engine
fitted to each site's daily orders (``arrivals="forecast"``) or from a bootstrap of the
same weekday of the last ``arrival_weeks`` weeks (``"bootstrap"``); the open lines'
releases are added on their days, so no open line is counted twice.

``predict`` simulates ``n_paths`` futures, queues work day to day (``backlog_t =
max(0, backlog_{t-1} + arrivals_t - shipped_t)``, shipping at most the day's capacity
times a drawn throughput share) and summarises the measures of
:mod:`forecasting.capacity.measures` (arrivals, load ratio, work available, shortfall
probability, backlog in units and days, delay).

Work is measured in ``measure``: ``"units"`` (quantity, the default), ``"lines"`` (order
lines) or ``"orders"`` (see :mod:`forecasting.capacity.flows`). The backlog, the capacity
estimate, the arrivals and every work and capacity column of the outlook are in that
measure, and so must a user calendar be (``capacity_units`` or ``units_per_hour`` then
count lines or orders)."""

from __future__ import annotations

import copy
import warnings
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
    sample_demand,
    site_demand,
    spread_releases,
)
from forecasting.capacity.calendar import check_calendar
from forecasting.capacity.estimate import (
    estimate_capacity,
    holiday_closures,
    throughput_factors,
)
from forecasting.capacity.flows import RELEASE_COLUMN, check_measure, daily_work, site_flows
from forecasting.capacity.measures import AHEAD_DAYS, MEASURE_COLUMNS, outlook_measures
from forecasting.capacity.release import (
    ALL,
    ReleaseRule,
    fit_release_rule,
    release_dates,
    release_lags,
)
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
# An outlook starting after the last order reads the days between as days without orders:
# on the demo history, as of 3 days after its end the arrivals came out 27% (site 1) and
# 48% (site 2) lower than as of its end, and 85% lower as of 7 days after. A day or two
# can be a quiet weekend, so a longer gap is said; a gap of weeks is a history out of
# date (no order-taking business is silent for a month), and refused.
QUIET_DAYS = 1
MAX_STALE_DAYS = 28


def run_queue(
    backlog0: np.ndarray, arrivals: np.ndarray, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queue every path: returns work available (backlog carried in plus the day's
    arrivals), shipped and end-of-day backlog (paths x days).

    ``capacity`` is per day, or per path and day. Conserves work: arrivals summed over
    days equal shipped plus the change in backlog.
    """
    paths, days = arrivals.shape
    capacity = np.broadcast_to(np.asarray(capacity, dtype=float), (paths, days))
    backlog = np.array(backlog0, dtype=float).reshape(-1) * np.ones(paths)
    available = np.empty((paths, days))
    shipped = np.empty((paths, days))
    ends = np.empty((paths, days))
    for t in range(days):
        available[:, t] = backlog + arrivals[:, t]
        shipped[:, t] = np.minimum(available[:, t], capacity[:, t])
        backlog = available[:, t] - shipped[:, t]
        ends[:, t] = backlog
    return available, shipped, ends


def pace_ratios(
    ordered: pd.Series, weeks: int, ahead: int = 14, every: int = 7, years: float = 1.0
) -> np.ndarray:
    """How far the next ``ahead`` days' work strayed from the pace of the ``weeks`` weeks
    before, at origins ``every`` days over the last ``years`` of ``ordered`` (daily work
    by order date): the ratios ``sum(next ahead days) / (ahead * mean daily of the weeks
    before)``, which bootstrap arrivals draw a level per path from (``[1.0]`` with fewer
    than eight origins)."""
    daily = ordered.asfreq("D", fill_value=0.0).to_numpy(float)
    window = 7 * weeks
    first = max(window, len(daily) - int(365 * years) - ahead)
    ratios = []
    for origin in range(first, len(daily) - ahead + 1, every):
        pace = daily[origin - window : origin].mean()
        if pace > 0:
            ratios.append(daily[origin : origin + ahead].sum() / (ahead * pace))
    return np.array(ratios) if len(ratios) >= 8 else np.ones(1)


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
        demand: pd.DataFrame | None = None,
        demand_freq: str = "W-SUN",
    ) -> CapacityForecaster:
        """Learn from ``orders`` up to ``as_of`` (default: the last order date).

        ``demand``: the served demand forecast (a frame :func:`site_demand
        <forecasting.capacity.arrivals.site_demand>` reads, periods of ``demand_freq``);
        given, new work comes from it rather than from ``arrivals``.
        """
        check_measure(self.measure)
        if self.arrivals not in ("forecast", "bootstrap"):
            raise ConfigError(f"arrivals must be 'forecast' or 'bootstrap', not '{self.arrivals}'")
        as_of, history = self._history(orders, as_of)
        self.release_rule_ = fit_release_rule(history, as_of)
        history[RELEASE_COLUMN] = release_dates(history, self.release_rule_)
        flows = site_flows(history, until=as_of, measure=self.measure)
        self.sites_ = sorted(flows["site"].unique())
        self.estimate_ = estimate_capacity(flows)
        self.throughput_ = throughput_factors(flows, self.estimate_, self._largest(history))
        self.holiday_closures_ = (
            holiday_closures(flows, check_country(self.holidays)) if self.holidays else {}
        )
        self.calendar_ = None if calendar is None else check_calendar(calendar, set(self.sites_))
        self.demand_ = None if demand is None else site_demand(demand)
        self.demand_freq_ = demand_freq
        self._start_queue(history, flows, as_of)
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
        site's released, unshipped work then, by the fitted release rule), the open lines'
        later releases, and the new work to come: ``arrival_model_`` refreshed on the
        orders to ``as_of`` (each site keeps the model its fit chose, re-estimated, no
        reselection) and ``arrival_forecast_`` from it, or with bootstrap arrivals
        ``arrivals_`` (the last ``arrival_weeks`` weeks); a served demand forecast given
        to ``fit`` is kept.

        Not refreshed: the release rule, the capacity estimate (``estimate_``), the
        holiday closures, the user calendar and ``sites_``: a site the fit never saw has
        no capacity and is not forecast until the next training.

        Raises :class:`ConfigError` when the forecaster is not fitted, ``as_of`` is before
        its ``as_of_``, or ``orders`` holds no order of its sites on or before ``as_of``.
        """
        if not hasattr(self, "estimate_"):
            raise ConfigError("with_backlog needs a fitted CapacityForecaster: call fit first")
        as_of, history = self._history(orders, as_of)
        if as_of < self.as_of_:
            raise ConfigError(
                f"as-of date {as_of:%Y-%m-%d} is before the forecaster's {self.as_of_:%Y-%m-%d}; "
                "start the outlook from the orders as they are now"
            )
        history = history[history["site"].astype(str).isin(self.sites_)]
        if history.empty:
            raise ConfigError(
                f"none of the forecaster's sites ({', '.join(self.sites_)}) has orders by "
                f"{as_of:%Y-%m-%d}; retrain on the new sites' history"
            )
        history[RELEASE_COLUMN] = release_dates(history, self._rule())
        flows = site_flows(history, until=as_of, measure=self.measure)
        fresh = copy.copy(self)
        # A forecaster pickled before it kept its arrival model has it fitted afresh.
        fresh._start_queue(history, flows, as_of, getattr(self, "arrival_model_", None))
        return fresh

    def _history(
        self, orders: pd.DataFrame, as_of: pd.Timestamp | str | None
    ) -> tuple[pd.Timestamp, pd.DataFrame]:
        """``as_of`` (default: the last order date) and the lines ordered by then, as
        known then: ship and delivery dates after ``as_of`` are blank (a copy)."""
        last = pd.Timestamp(orders["order_date"].max())
        as_of = pd.Timestamp(as_of) if as_of is not None else last
        history = orders[orders["order_date"] <= as_of].copy()
        if history.empty:
            raise ConfigError(f"no orders on or before {as_of:%Y-%m-%d}")
        gap = (as_of - last).days
        said = (
            f"as-of {as_of:%Y-%m-%d} is {gap} days after the last order ({last:%Y-%m-%d}): "
            "the days between count as days without orders, and the arrivals fall with them"
        )
        if gap > MAX_STALE_DAYS:
            raise ConfigError(
                f"{said}. Bring the history up to date (ordercast ingest), or start at most "
                f"{MAX_STALE_DAYS} days after its last order"
            )
        if gap > QUIET_DAYS:
            warnings.warn(
                f"{said}; if the history is behind, bring it up to date (ordercast ingest)",
                UserWarning,
                stacklevel=3,
            )
        for column in ("ship_date", "delivered_date"):
            if column in history.columns:
                history.loc[history[column] > as_of, column] = pd.NaT
        return as_of, history

    def _largest(self, history: pd.DataFrame) -> dict[str, float]:
        """Per site, the largest piece of work of the last 91 days (a line's quantity in
        units; 1 line or order otherwise)."""
        if self.measure != "units":
            return {}
        recent = history[
            history["order_date"] > history["order_date"].max() - pd.Timedelta(days=91)
        ]
        largest = recent.groupby(recent["site"].astype(str))["quantity"].max()
        return {str(k): float(v) for k, v in largest.items()}

    def _rule(self) -> ReleaseRule:
        """The fitted release rule (a forecaster pickled before it had one: order dates)."""
        rule: ReleaseRule = getattr(self, "release_rule_", ReleaseRule({ALL: np.inf}))
        return rule

    def _start_queue(
        self,
        history: pd.DataFrame,
        flows: pd.DataFrame,
        as_of: pd.Timestamp,
        fitted: AutoForecaster | None = None,
    ) -> None:
        """Where the queue starts: ``as_of_``, each site's ``backlog_`` then, the open
        lines' later releases (``scheduled_``), the release lags of new work (``lags_``)
        and the new work to come (``arrival_forecast_`` or the recent ``arrivals_``, per
        order date); the arrival model ``fitted`` earlier, when given, is refreshed
        rather than selected again."""
        self.as_of_ = as_of
        last = flows[flows["date"] == flows["date"].max()].set_index("site")
        self.backlog_ = last["backlog_end"].to_dict()
        later = history[history[RELEASE_COLUMN] > as_of]
        self.scheduled_ = (
            daily_work(later, measure=self.measure)["released"]
            if len(later)
            else pd.Series(dtype=float)
        )
        weights = "quantity" if self.measure == "units" else None
        self.lags_ = release_lags(history, self._rule(), as_of, weights=weights)
        ordered = site_flows(
            history.drop(columns=RELEASE_COLUMN), until=as_of, measure=self.measure
        )
        ordered = ordered[ordered["site"].isin(self.sites_)]
        recent = ordered[ordered["date"] > as_of - pd.Timedelta(weeks=self.arrival_weeks)]
        self.arrivals_ = {
            (site, weekday): group["released"].to_numpy()
            for (site, weekday), group in recent.groupby(["site", recent["date"].dt.dayofweek])
        }
        self.levels_ = {
            str(site): pace_ratios(group.set_index("date")["released"], self.arrival_weeks)
            for site, group in ordered.groupby("site")
        }
        self.profile_ = {
            str(site): group.groupby(group["date"].dt.dayofweek)["released"]
            .sum()
            .reindex(range(7), fill_value=0.0)
            .to_numpy(float)
            for site, group in recent.groupby("site")
        }
        self.arrival_model_: AutoForecaster | None = None
        self.arrival_forecast_ = None
        if self.arrivals == "forecast" and getattr(self, "demand_", None) is None:
            self.arrival_model_ = (
                arrival_model(ordered, self.max_horizon)
                if fitted is None
                else refresh_arrivals(fitted, ordered)
            )
            self.arrival_forecast_ = arrival_forecast(self.arrival_model_, self.max_horizon)

    def capacity_for(self, site: str, days: pd.DatetimeIndex) -> np.ndarray:
        """Capacity per day: the calendar's dated rule, else its weekday rule, else the
        estimate (zero on public holidays at a site that has closed on them)."""
        pattern = self.estimate_[self.estimate_["site"] == site].set_index("weekday")
        capacity = pattern["capacity_units"].reindex(days.dayofweek).to_numpy(float)
        if self.holiday_closures_.get(site, False):
            closed = holiday_dates(
                check_country(str(self.holidays)), days.min().year, days.max().year
            )
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
        frames = []
        for site in chosen:
            rng = self._site_rng(site)
            capacity = apply_scenario(self.capacity_for(site, ahead), ahead, site, scenario)
            arrivals = self._arrival_paths(site, days, rng)
            shares = getattr(self, "throughput_", {}).get(site, np.ones(1))
            realised = capacity[None, :horizon] * rng.choice(shares, (self.n_paths, horizon))
            available, _, backlog = run_queue(
                np.array([self.backlog_.get(site, 0.0)]), arrivals, realised
            )
            measures = outlook_measures(
                arrivals, available, backlog, capacity, realised, float(shares.mean())
            )
            frames.append(pd.DataFrame({"site": site, "ds": days, **measures}))
        out = pd.concat(frames, ignore_index=True)
        return out[OUTPUT_COLUMNS]

    def _site_rng(self, site: str) -> np.random.Generator:
        """The random stream of ``site``'s simulated futures: seeded by the model's seed and
        the site's place among the fitted sites, so a site's outlook is the same whichever
        other sites a request names (a recommendation re-run for one site, or the page of
        one site, matches the outlook of all of them)."""
        return np.random.default_rng([self.random_state, self.sites_.index(site)])

    def _arrival_paths(
        self, site: str, days: pd.DatetimeIndex, rng: np.random.Generator
    ) -> np.ndarray:
        """``(n_paths, len(days))`` work released per day: new orders (from the served
        demand, the arrival forecast or the bootstrap) released by the rule's lags, plus
        the open lines released on their days."""
        demand = getattr(self, "demand_", None)
        if demand is not None:
            profile = getattr(self, "profile_", {}).get(site, np.ones(7))
            served, covered = sample_demand(
                demand, self.demand_freq_, site, days, profile, self.n_paths, rng
            )
            # Days past the served forecast: the recent weeks again.
            ordered = np.where(covered[None, :], served, self._bootstrap(site, days, rng))
        elif self.arrival_forecast_ is not None:
            ordered = sample_arrivals(self.arrival_forecast_, site, days, self.n_paths, rng)
        else:
            ordered = self._bootstrap(site, days, rng)
        released = spread_releases(ordered, getattr(self, "lags_", np.ones(1)))
        scheduled = getattr(self, "scheduled_", pd.Series(dtype=float))
        if len(scheduled) and site in scheduled.index.get_level_values("site"):
            on_days = scheduled.xs(site, level="site").reindex(days, fill_value=0.0)
            released += on_days.to_numpy(float)[None, :]
        return released

    def _bootstrap(self, site: str, days: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        """Days of the recent weeks (same weekday) drawn at random, times a level per path
        drawn from how the history's pace changed (:func:`pace_ratios`)."""
        draws = np.column_stack(
            [
                rng.choice(self.arrivals_.get((site, d.dayofweek), np.zeros(1)), self.n_paths)
                for d in days
            ]
        )
        levels = getattr(self, "levels_", {}).get(site, np.ones(1))
        return draws * rng.choice(levels, self.n_paths)[:, None]

    def expected_arrivals(self, horizon: int, sites: Sequence[str] | None = None) -> pd.DataFrame:
        """``site, ds, arrivals_mean``: the mean over the simulated futures of the work
        released each day (the paths :meth:`predict` queues, same seed), to set beside the
        demand forecast the arrivals come from."""
        if not 1 <= horizon <= self.max_horizon:
            raise HorizonError(f"horizon {horizon} is outside 1 to {self.max_horizon} days")
        days = pd.date_range(self.as_of_ + pd.Timedelta(days=1), periods=horizon, freq="D")
        frames = []
        for site in list(sites) if sites else self.sites_:
            # The site's own stream: its arrival paths are drawn first, as in predict.
            paths = self._arrival_paths(site, days, self._site_rng(site))
            frames.append(pd.DataFrame({"site": site, "ds": days, "arrivals_mean": paths.mean(0)}))
        return pd.concat(frames, ignore_index=True)

    def first_shortfall_dates(self, outlook: pd.DataFrame, threshold: float = 0.5) -> pd.Series:
        """Per site, the first day a shortfall is more likely than ``threshold`` (NaT if none)."""
        risky = outlook[outlook["p_shortfall"] > threshold]
        first = risky.groupby("site")["ds"].min()
        return first.reindex(sorted(outlook["site"].unique()))
