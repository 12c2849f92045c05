"""New work arriving at each site: sample paths from the demand engine's forecast.

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

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import BacktestConfig, GlobalModelConfig, ParallelConfig
from forecasting.demand.refresh import refresh
from forecasting.quantiles import quantile_columns, quantile_level

GRID = tuple(np.round(np.linspace(0.025, 0.975, 39), 4))


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


def sample_arrivals(
    forecast: pd.DataFrame,
    site: str,
    days: pd.DatetimeIndex,
    n_paths: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``(n_paths, len(days))`` arrivals for one site drawn from its forecast quantiles."""
    rows = forecast[forecast["site"] == site].set_index("ds").reindex(days)
    columns = quantile_columns(forecast.columns)
    levels = np.array([quantile_level(c) for c in columns])
    order = np.argsort(levels)
    grid = rows[columns].to_numpy(float)[:, order]  # days x levels
    grid = np.nan_to_num(grid, nan=0.0)
    u = rng.uniform(levels[order][0], levels[order][-1], size=(n_paths, len(days)))
    out = np.empty((n_paths, len(days)))
    for t in range(len(days)):
        out[:, t] = np.interp(u[:, t], levels[order], grid[t])
    return np.maximum(out, 0.0)
