"""Refresh a fitted :class:`AutoForecaster` with newer actuals, without reselection.

Between two full trainings the history grows by a few periods. A refresh keeps what the
training decided for each series (its model or ensemble members, demand class, backtest
score and errors) and only brings the models up to date with the new points:

* **local models** are re-estimated on the longer series; a model that can restart from
  its previous estimate does so (``refit_series``: ETS keeps its chosen form and starts
  the optimiser at the old parameters), any other is fitted again, which for the simple
  models costs next to nothing;
* **the global model** is not retrained: its booster forecasts again from each series'
  newest window (the lags move on), and its conformal errors are kept;
* **a series the training never saw** goes through the full selection on its own, as the
  training would have treated it.

No backtest runs, so a refresh costs a small share of a training. The refreshed model has
the same attributes as a fitted one (``fits_``, ``selection_``, ``backtest_``), so
prediction, reconciliation and serving use it unchanged.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import delayed

from forecasting.demand.auto import (
    AutoForecaster,
    selection_frame,
    series_inputs,
    series_settings,
    stream_fits,
)
from forecasting.demand.base import SeriesForecast
from forecasting.demand.frames import check_series_frame, regularize, series_rows
from forecasting.demand.global_model import GlobalForecasts, series_level
from forecasting.demand.series_fit import SeriesFit, SeriesInput, refresh_fit, select_and_fit
from forecasting.errors import ConfigError

# Members whose re-estimation is an optimiser run (tens of milliseconds a series).
COSTLY_MODELS = frozenset({"ets", "arima", "theta", "mstl"})
PARALLEL_FROM = 200  # costly series from which worker processes beat their start-up


def refresh(model: AutoForecaster, frame: pd.DataFrame) -> AutoForecaster:
    """A copy of ``model`` brought up to date with ``frame`` (``series_id, ds, y``: the
    whole history of every series, old and new points); ``model`` itself is unchanged.

    Raises :class:`ConfigError` when the model uses exogenous columns (their future values
    would be needed again) or when a series of ``frame`` ends before the model's history.
    """
    if model.exog:
        raise ConfigError(
            "a model with exogenous columns cannot be refreshed without their future "
            f"values ({list(model.exog)}); retrain it instead"
        )
    data = regularize(check_series_frame(frame), model.freq_)
    ends = data.groupby("series_id", sort=True)["ds"].max()
    for sid, end in ends.items():
        fit = model.fits_.get(str(sid))
        if fit is not None and pd.Timestamp(end) < fit.last_ds:
            raise ConfigError(
                f"series '{sid}' ends {pd.Timestamp(end):%Y-%m-%d}, before the "
                f"{fit.last_ds:%Y-%m-%d} the model was fitted to: a refresh needs the whole "
                "history, not only the new periods"
            )
    fresh = copy.copy(model)
    fresh.global_ = _refresh_global(model.global_, data, model.max_horizon_)
    fresh.fits_ = _refresh_series(model, fresh.global_, data)
    fresh.selection_ = selection_frame(fresh.fits_.values())
    return fresh


def _refresh_global(
    glob: GlobalForecasts | None, data: pd.DataFrame, horizon: int
) -> GlobalForecasts | None:
    """The global model's forecasts from each series' newest window, same booster."""
    if glob is None:
        return None
    booster = glob.model
    ids, histories, last_ds = [], [], []
    for sid, group in data.groupby("series_id", sort=True):
        ids.append(str(sid))
        histories.append(group["y"].to_numpy(float))
        last_ds.append(pd.Timestamp(group["ds"].iloc[-1]))
    paths = booster.forecast_paths(histories, last_ds, horizon)
    window = booster.design_.window
    seasons = booster.design_.seasons
    period = int(seasons[0]) if seasons and seasons[0] <= window else 1
    pairs = list(zip(ids, histories, strict=True))
    return replace(
        glob,
        backtest={},
        final={sid: SeriesForecast(paths[i]) for i, sid in enumerate(ids)},
        levels={sid: series_level(y, window, period) for sid, y in pairs},
        nonnegative={sid: bool(np.nanmin(y, initial=0.0) >= 0) for sid, y in pairs},
    )


def _refresh_series(
    model: AutoForecaster, glob: GlobalForecasts | None, data: pd.DataFrame
) -> dict[str, SeriesFit]:
    settings = series_settings(model, use_global=glob is not None)
    rows = series_rows(data)

    def task(item: SeriesInput) -> object:
        old = model.fits_.get(item.series_id)
        if old is None:
            return delayed(select_and_fit)(item, settings)
        return delayed(refresh_fit)(old, item, model.season_length_)

    fits = dict(model.fits_)  # a series absent from the new frame keeps its old fit
    # Most refits take a millisecond (intermittent and baseline models, the global member's
    # new path is already made); worker processes pay off only for many statsmodels fits.
    costly = sum(1 for sid in rows.ids if not _cheap(model.fits_.get(sid)))
    n_jobs = model.parallel.n_jobs if costly >= PARALLEL_FROM else 1
    tasks = (task(item) for item in series_inputs(rows, glob))
    for fit in stream_fits(tasks, len(rows.ids), n_jobs, "refreshing"):
        fits[fit.series_id] = fit
    return fits


def _cheap(fit: SeriesFit | None) -> bool:
    """A series whose refresh costs next to nothing: known, and no statsmodels member."""
    return fit is not None and not set(fit.members) & COSTLY_MODELS
