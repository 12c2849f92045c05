"""New work arriving at each site: sample paths of work ordered per day, from the served
demand forecast (:func:`site_demand`, :func:`sample_demand`) or the demand engine fitted
to each site's daily orders, then released by the release rule (:func:`spread_releases`).

Work released per site and day is a demand series like any other, with weekly and
yearly cycles and trends; the automatic demand pipeline forecasts it with quantiles
(a fine grid), and arrival paths are drawn from each day's forecast distribution by
inverse-CDF sampling. Drawing a day's quantile level independently per path and day
keeps the daily noise; the level of the forecast (the pipeline's choice per site) carries
the trend and seasonality that a bootstrap of recent weeks would miss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import BacktestConfig, GlobalModelConfig, ParallelConfig
from forecasting.demand.refresh import refresh
from forecasting.errors import ConfigError
from forecasting.quantiles import quantile_columns, quantile_level

GRID = tuple(np.round(np.linspace(0.025, 0.975, 39), 4))
# How alike the days of a week are in a path's forecast level (see sample_arrivals):
# the smallest of 1, 0.85, 0.7 whose P10-P90 backlog band covered >= 80% at 14 days on
# development origins (seed 21, 48 origins of its second year: 91.7%, 90.3%, 88.2%; 0.4
# covered 74.5% on 17 of them).
LEVEL_CORRELATION = 0.7
# How alike the periods of a path's served demand are (see sample_demand): the smallest
# of 0, 0.5, 0.8, 1 whose P10-P90 backlog band covered >= 80% at 14 days on development
# origins (seed 21, 48 origins of its second year: 74.3%, 75.7%, 79.2%, 81.2%).
PERIOD_CORRELATION = 1.0


def fit_arrivals(
    flows: pd.DataFrame, horizon: int, n_jobs: int = 1, holidays: str | None = None
) -> pd.DataFrame:
    """Daily arrival forecast per site: ``site, ds, mean, q2_5 .. q97_5`` for ``horizon`` days."""
    return arrival_forecast(arrival_model(flows, horizon, n_jobs, holidays), horizon)


def arrival_model(
    flows: pd.DataFrame, horizon: int, n_jobs: int = 1, holidays: str | None = None
) -> AutoForecaster:
    """The demand engine fitted to each site's daily released work (one series per site)."""
    return AutoForecaster(
        horizon=horizon,
        freq="D",
        season_length=7,
        quantiles=GRID,
        backtest=BacktestConfig(n_windows=2),
        global_model=GlobalModelConfig(mode="off", holidays=holidays),
        parallel=ParallelConfig(n_jobs=n_jobs),
    ).fit(_arrival_series(flows))


def refresh_arrivals(model: AutoForecaster, flows: pd.DataFrame) -> AutoForecaster:
    """``model`` brought up to date with ``flows`` (every day to now) without reselection:
    each site keeps the model its fit chose (:func:`forecasting.demand.refresh.refresh`)."""
    return refresh(model, _arrival_series(flows))


def arrival_forecast(model: AutoForecaster, horizon: int) -> pd.DataFrame:
    """``site, ds, mean, q2_5 .. q97_5`` for the ``horizon`` days after ``model``'s data."""
    return model.predict(horizon, GRID).rename(columns={"series_id": "site"})


def _arrival_series(flows: pd.DataFrame) -> pd.DataFrame:
    series = flows.rename(columns={"site": "series_id", "date": "ds", "released": "y"})
    return series[["series_id", "ds", "y"]]


def stratified_levels(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """``n`` quantile levels in ``[low, high]``, one in each of ``n`` equal slices, in random
    order (Latin hypercube): the paths' mean is the distribution's to within a slice, where
    independent draws would wander by its standard deviation over sqrt(n)."""
    slots = (rng.permutation(n) + rng.uniform(size=n)) / n
    return low + (high - low) * slots


def sample_arrivals(
    forecast: pd.DataFrame,
    site: str,
    days: pd.DatetimeIndex,
    n_paths: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(n_paths, len(days))`` arrivals for one site drawn from its forecast quantiles
    (inverse CDF; one level per path and week of ``days``)."""
    rows = forecast[forecast["site"] == site].set_index("ds").reindex(days)
    columns = quantile_columns(forecast.columns)
    levels = np.array([quantile_level(c) for c in columns])
    order = np.argsort(levels)
    grid = rows[columns].to_numpy(float)[:, order]  # days x levels
    grid = np.nan_to_num(grid, nan=0.0)
    # A level per path and week: a forecast's errors run on for days (a level too high
    # today is too high tomorrow), and drawing each day apart would cancel them out in the
    # backlog, which sums the days. Each day's level is that week's with a share of its
    # own (a Gaussian copula with correlation LEVEL_CORRELATION between a week's days).
    weeks = np.arange(len(days)) // 7
    week_z = ndtri(
        np.column_stack(
            [stratified_levels(rng, n_paths, 1e-9, 1 - 1e-9) for _ in range(weeks[-1] + 1)]
        )
    )[:, weeks]
    own_z = rng.standard_normal((n_paths, len(days)))
    rho = LEVEL_CORRELATION
    low, high = levels[order][0], levels[order][-1]
    u = low + (high - low) * ndtr(rho * week_z + np.sqrt(1 - rho**2) * own_z)
    out = np.empty((n_paths, len(days)))
    for t in range(len(days)):
        out[:, t] = np.interp(u[:, t], levels[order], grid[t])
    return np.maximum(out, 0.0)


def site_demand(forecast: pd.DataFrame) -> pd.DataFrame:
    """The served demand forecast at site level: ``site, ds, mean, q..`` per period.

    ``forecast`` is a demand frame (``series_id, ds, mean`` and quantile columns, as
    :meth:`forecasting.demand.serving.DemandServingModel.to_frame` or ``AutoForecaster``
    give it). Its site series (``site:<name>``) are used as they are; without a site
    level, the bottom ``sku,site:<sku>|<site>`` series are rolled up: means add up, and
    quantiles are added too (as if the SKUs moved together: the widest spread their own
    bands allow). A frame with a ``site`` column is taken to be at site level already.
    """
    columns = quantile_columns(forecast.columns)
    if "site" in forecast.columns:
        return forecast[["site", "ds", "mean", *columns]].reset_index(drop=True)
    ids = forecast["series_id"].astype(str)
    site_rows = ids.str.startswith("site:")
    if site_rows.any():
        out = forecast[site_rows].assign(site=ids[site_rows].str.partition(":")[2])
        return out[["site", "ds", "mean", *columns]].reset_index(drop=True)
    bottom = ids.str.startswith("sku,site:")
    if not bottom.any():
        raise ConfigError(
            "the demand forecast has no site series (site:<name>) nor SKU-by-site series "
            "(sku,site:<sku>|<site>) to roll up to sites"
        )
    rows = forecast[bottom].assign(site=ids[bottom].str.rsplit("|", n=1).str[1])
    return rows.groupby(["site", "ds"], as_index=False)[["mean", *columns]].sum()


def period_days(ds: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    """The days a demand period labelled ``ds`` covers (weekly labels are the week's last
    day, ``W-SUN`` Monday to Sunday; ``D`` one day; months the calendar month)."""
    code = freq.upper()
    if code == "D":
        return pd.DatetimeIndex([ds])
    if code.startswith("W"):
        period = pd.Timestamp(ds).to_period(freq)
    elif code in ("ME", "MS", "M"):
        period = pd.Timestamp(ds).to_period("M")
    else:
        raise ConfigError(f"demand frequency '{freq}' is not one capacity arrivals can use")
    return pd.date_range(period.start_time.normalize(), period.end_time.normalize(), freq="D")


def sample_demand(
    demand: pd.DataFrame,
    freq: str,
    site: str,
    days: pd.DatetimeIndex,
    profile: np.ndarray,
    n_paths: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_paths, len(days))`` new work by order date from ``site``'s demand periods, and
    which days a period covered (False: no demand forecast for that day).

    Each path draws a period's total from its quantiles (inverse CDF, one draw per path
    and period), scaled so that the draws' expectation is the forecast mean, and spreads
    it over the period's days by the site's weekday ``profile`` (seven shares); the days
    of a period before ``days`` (already known) keep their share, so a whole period adds
    up to the forecast.
    """
    rows = demand[demand["site"] == site]
    columns = quantile_columns(demand.columns)
    levels = np.array([quantile_level(c) for c in columns])
    order = np.argsort(levels)
    levels = levels[order]
    out = np.zeros((n_paths, len(days)))
    covered = np.zeros(len(days), dtype=bool)
    position = {day: i for i, day in enumerate(days)}
    # A path's level runs on from one period to the next (errors of a forecast persist):
    # each period's level is the path's with a share of its own, a Gaussian copula with
    # correlation PERIOD_CORRELATION, stratified per period (see stratified_levels).
    path_z = rng.standard_normal(n_paths)
    rho = PERIOD_CORRELATION
    for ds, mean, grid in zip(
        pd.to_datetime(rows["ds"]),
        rows["mean"].to_numpy(float),
        rows[columns].to_numpy(float)[:, order],
        strict=True,
    ):
        span = period_days(ds, freq)
        inside = [position[d] for d in span if d in position]
        if not inside:
            continue
        weights = profile[span.dayofweek]
        shares = weights / weights.sum() if weights.sum() > 0 else np.full(len(span), 1 / len(span))
        share_of = dict(zip(span, shares, strict=True))
        grid = np.maximum.accumulate(np.maximum(grid, 0.0))
        expected = float(np.trapezoid(grid, levels) / (levels[-1] - levels[0]))
        scale = max(float(mean), 0.0) / expected if expected > 0 else 0.0
        z = rho * path_z + np.sqrt(1 - rho**2) * rng.standard_normal(n_paths)
        slots = (np.argsort(np.argsort(z)) + rng.uniform(size=n_paths)) / n_paths
        u = levels[0] + (levels[-1] - levels[0]) * slots
        totals = np.interp(u, levels, grid) * scale
        for d in span:
            if d in position:
                out[:, position[d]] = totals * share_of[d]
                covered[position[d]] = True
    return out, covered


def spread_releases(ordered: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Work released per day from work ordered per day (``paths x days``): a share
    ``lags[k]`` of each day's orders is released ``k`` days later (work released after the
    last day is left out)."""
    days = ordered.shape[1]
    out = np.zeros_like(ordered, dtype=float)
    for k, share in enumerate(lags[:days]):
        if share > 0:
            out[:, k:] += share * ordered[:, : days - k]
    return out
