"""One series through the automatic pipeline: backtest, select, refit; then forecast.

Pure functions over numpy arrays and small frozen records, so that joblib or Dask can
run :func:`select_and_fit` in a worker per series and stream the results back; the
frame handling and the parallelism live in :mod:`forecasting.demand.auto`, the rule
that picks the model in :mod:`forecasting.demand.selection`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecasting.demand.backtest import (
    BacktestRecord,
    Windows,
    backtest_values,
    combine,
    compact_rows,
    ensemble_rows,
    plan_windows,
)
from forecasting.demand.base import SeriesForecast, SeriesModel
from forecasting.demand.classify import classify_values
from forecasting.demand.config import BacktestConfig, SelectionConfig
from forecasting.demand.global_model import ConformalErrors
from forecasting.demand.intervals import finish
from forecasting.demand.registry import GLOBAL, make_model
from forecasting.demand.selection import (
    COMBINATION,
    Choice,
    candidate_models,
    choose,
    class_default,
    default_choice,
    ensemble_members,
    fallback_choice,
    global_competes,
    may_override,
    mean_scores,
    window_scores,
    with_evidence,
)
from forecasting.errors import HorizonError

# A series' backtest errors, shape (2, n) float64: row 0 the periods before the backtest's
# last date (whole numbers), row 1 the errors. One plain array: pairs of Python numbers
# cost ~90 bytes a point on the driver, this 16 (a structured dtype would be unpickled
# once per series, dearer than the int-as-float row).
Residuals = np.ndarray
# What fits pickled before #20 hold: (periods back, error) pairs.
LegacyResiduals = tuple[tuple[int, float], ...]


def residual_array(residuals: Residuals | LegacyResiduals) -> Residuals:
    """A fit's backtest errors as a :data:`Residuals` array, whichever form it holds."""
    if isinstance(residuals, np.ndarray):
        return residuals
    return np.array(residuals, dtype=np.float64).reshape(-1, 2).T.copy()


@dataclass(frozen=True)
class GlobalState:
    """The global model's final forecast of one series (``mean``, shape ``(h,)``), the
    series' level (to scale the conformal errors) and whether to floor it at zero."""

    mean: np.ndarray
    level: float
    nonnegative: bool = True


@dataclass(frozen=True)
class SeriesInput:
    """One series as a worker gets it: values (oldest first, NaN where missing), its last
    date, and the global model's backtest forecasts (by training length) and final
    state when the global model ran and covered the series."""

    series_id: str
    y: np.ndarray
    last_ds: pd.Timestamp
    global_backtest: dict[int, SeriesForecast] | None = None
    global_final: GlobalState | None = None


@dataclass(frozen=True)
class SeriesSettings:
    """What every series' selection shares: horizon and main season (steps), quantile
    levels scored (sorted), the named candidates (None: by demand class), whether ETS is
    left out of the class candidates, and the backtest and selection options."""

    horizon: int
    season_length: int
    quantiles: tuple[float, ...]
    candidates: tuple[str, ...] | None
    skip_ets: bool
    backtest: BacktestConfig
    selection: SelectionConfig


@dataclass(frozen=True)
class SeriesFit:
    """What the pipeline keeps of one series: its chosen model(s) and their fitted states.

    ``backtest`` is the series' backtest rows as a :class:`BacktestRecord` (a tuple of
    dicts in fits pickled before #20; ``()`` once the rows moved into the forecaster's
    ``backtest_`` frame, or when there was no backtest).
    """

    series_id: str
    last_ds: pd.Timestamp
    model: str
    members: tuple[str, ...]
    states: tuple[object, ...]
    demand_class: str
    score: float
    fallback: str | None
    backtest: BacktestRecord | tuple[dict, ...]
    # The chosen model's backtest errors (actual - forecast) by periods before the last
    # date (:data:`Residuals`; pairs in older fits, read both with residual_array):
    # what MinT reconciliation estimates the error covariance from.
    residuals: Residuals | LegacyResiduals = ()
    # The last date the backtest saw: ``residuals`` count back from it. A refresh moves
    # ``last_ds`` on and leaves this where the training put it (None: ``last_ds``).
    backtest_end: pd.Timestamp | None = None


@dataclass(frozen=True)
class _Verdict:
    """A series' selection, ready for the final fit: the choice and what led to it."""

    choice: Choice
    demand_class: str
    backtest: tuple[dict, ...] = ()
    residuals: Residuals | LegacyResiduals = ()


def select_and_fit(series: SeriesInput, settings: SeriesSettings) -> SeriesFit:
    """Backtest the candidates of one series, choose its model and fit it on all of it."""
    y = np.asarray(series.y, dtype=float)
    klass = classify_values(y)[2]
    windows = plan_windows(
        len(y),
        settings.horizon,
        settings.backtest.n_windows,
        min_train=max(8, settings.horizon),
    )
    fallback = fallback_choice(y[np.isfinite(y)], windows)
    if fallback is not None:
        return _refit(series, _Verdict(fallback, klass), settings.season_length)
    return _refit(series, _select(series, y, klass, windows, settings), settings.season_length)


def _select(
    series: SeriesInput, y: np.ndarray, klass: str, windows: Windows, settings: SeriesSettings
) -> _Verdict:
    competing = global_competes(
        klass, series.global_backtest, series.global_final is not None, windows
    )
    precomputed = {GLOBAL: series.global_backtest} if competing and series.global_backtest else None
    default = None if settings.candidates else class_default(klass, settings.selection)
    # A default the backtest may not override (too few windows for the evidence rule):
    # only its members are backtested, for its score and errors.
    settled = default is not None and not may_override(len(windows.cutoffs), settings.selection)
    rows, made = backtest_values(
        y,
        default
        if default is not None and settled
        else candidate_models(klass, settings.candidates, settings.skip_ets, default or ()),
        windows,
        settings.season_length,
        settings.quantiles,
        precomputed=precomputed,
    )
    if default is not None and settled:
        rows += _default_rows(y, default, made, windows, settings)
        choice = default_choice(default, mean_scores(rows))
    else:
        choice = _contender(y, rows, made, windows, settings, competing)
        if default:
            rows += _default_rows(y, default, made, windows, settings)
            fallback_to = default_choice(default, mean_scores(rows))
            choice = with_evidence(choice, fallback_to, window_scores(rows), settings.selection)
    residuals = _backtest_residuals(y, choice.members, made, windows)
    return _Verdict(choice, klass, tuple(rows), residuals)


def _contender(
    y: np.ndarray,
    rows: list[dict],
    made: dict[str, dict[int, SeriesForecast]],
    windows: Windows,
    settings: SeriesSettings,
    competing: bool,
) -> Choice:
    """The backtest's pick (``rows`` gains the ensemble's rows when there is one)."""
    scores = mean_scores(rows)
    members = ensemble_members(scores)
    if len(members) > 1:
        rows += ensemble_rows(y, members, made, windows, settings.season_length, settings.quantiles)
        scores = mean_scores(rows)
    return choose(scores, members, settings.selection, competing)


def _default_rows(
    y: np.ndarray,
    default: tuple[str, ...],
    made: dict[str, dict[int, SeriesForecast]],
    windows: Windows,
    settings: SeriesSettings,
) -> list[dict]:
    """Backtest rows of a class default of several members (one is already scored)."""
    if len(default) == 1:
        return []
    return ensemble_rows(
        y, default, made, windows, settings.season_length, settings.quantiles, COMBINATION
    )


def _refit(series: SeriesInput, verdict: _Verdict, season_length: int) -> SeriesFit:
    """Fit the chosen members on the whole series (the global member is already fitted)."""
    y = np.asarray(series.y, dtype=float)
    states = tuple(
        series.global_final if m == GLOBAL else _model(m, season_length).fit_series(y)
        for m in verdict.choice.members
    )
    return SeriesFit(
        series_id=series.series_id,
        last_ds=pd.Timestamp(series.last_ds),
        model=verdict.choice.model,
        members=verdict.choice.members,
        states=states,
        demand_class=verdict.demand_class,
        score=verdict.choice.score,
        fallback=verdict.choice.fallback,
        backtest=compact_rows(verdict.backtest) if verdict.backtest else (),
        residuals=residual_array(verdict.residuals),
    )


def refresh_fit(old: SeriesFit, series: SeriesInput, season_length: int) -> SeriesFit:
    """``old`` brought up to date with the longer ``series``: the same model and members,
    re-estimated (from the old estimate where the model can restart from it); the backtest
    record stays, its errors dated as before."""
    y = np.asarray(series.y, dtype=float)
    states = tuple(
        _refreshed_state(member, state, y, series.global_final, season_length)
        for member, state in zip(old.members, old.states, strict=True)
    )
    return replace(
        old,
        last_ds=pd.Timestamp(series.last_ds),
        states=states,
        backtest_end=old.backtest_end if old.backtest_end is not None else old.last_ds,
    )


def _refreshed_state(
    member: str,
    state: object,
    y: np.ndarray,
    global_final: GlobalState | None,
    season_length: int,
) -> object:
    if member == GLOBAL:
        if global_final is None:
            raise HorizonError("the global model has no refreshed forecast of this series")
        return global_final
    model = _model(member, season_length)
    refit = getattr(model, "refit_series", None)
    return refit(state, y) if callable(refit) else model.fit_series(y)


def _model(name: str, season_length: int) -> SeriesModel:
    return make_model(name, season_length)


def _backtest_residuals(
    y: np.ndarray,
    members: tuple[str, ...],
    made: dict[str, dict[int, SeriesForecast]],
    windows: Windows,
) -> Residuals:
    out = []
    for w, cutoff in enumerate(windows.cutoffs):
        actual = y[cutoff : cutoff + windows.horizon]
        mean = np.mean([made[m][w].mean[: len(actual)] for m in members], axis=0)
        for k, error in enumerate(actual - mean):
            if np.isfinite(error):
                out.append((len(y) - 1 - (cutoff + k), float(error)))
    return residual_array(tuple(out))


def predict_fit(
    fit: SeriesFit,
    h: int,
    quantiles: Sequence[float],
    season_length: int,
    global_errors: ConformalErrors | None = None,
) -> SeriesForecast:
    """Forecast one fitted series ``h`` steps: its model, or the mean of its ensemble.

    ``quantiles`` are sorted levels; ``global_errors`` are the global model's conformal
    errors, needed for the intervals of a global member.
    """
    forecasts = [
        _member_forecast(member, state, h, quantiles, season_length, global_errors)
        for member, state in zip(fit.members, fit.states, strict=True)
    ]
    return forecasts[0] if len(forecasts) == 1 else combine(forecasts)


def _member_forecast(
    member: str,
    state: object,
    h: int,
    quantiles: Sequence[float],
    season_length: int,
    global_errors: ConformalErrors | None,
) -> SeriesForecast:
    if isinstance(state, GlobalState):
        return _global_predict(state, h, quantiles, global_errors)
    return _model(member, season_length).predict_series(state, h, quantiles)


def _global_predict(
    state: GlobalState, h: int, quantiles: Sequence[float], errors: ConformalErrors | None
) -> SeriesForecast:
    if h > len(state.mean):
        raise HorizonError(
            f"the global model was trained for {len(state.mean)} steps; asked for {h}"
        )
    mean = state.mean[:h]
    bands = None if errors is None else errors.quantiles(mean, state.level, quantiles)
    mean, bands = finish(mean, bands, state.nonnegative)
    return SeriesForecast(mean, bands)
