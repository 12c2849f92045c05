"""The automatic pipeline: backtest candidates per series, pick the best, refit, forecast.

For each series: classify its demand (ADI/CV²), backtest the models that suit the class
on rolling-origin windows, and select the best single model only when it beats the
equal-weight ensemble of the three best by ``selection_margin`` (a guard against
overfitting the selection to a few windows); otherwise the ensemble. Series too short
to backtest get a rule-based fallback, recorded in ``selection_``.

With enough series (``global_model="auto"``) a global gradient-boosting model
(:mod:`forecasting.demand.global_model`) is trained across all of them first; its
held-out forecasts join each series' backtest as one more candidate, so every series
still gets whichever model, local or global, forecast it best. When the global model
is on and the main season is long (more than 12 steps), local ETS is left out of the
candidates: its per-series fits would cost more than everything else together.
Intermittent and lumpy series do not take the global model: its point forecast is a
median, zero for most of them, where Croston and its kin forecast the mean rate.

Per-series work runs in parallel with joblib (all cores by default), or on a Dask
cluster when a ``dask.distributed.Client`` is given; results stream back one series at
a time, so memory stays flat as the number of series grows.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from pandas.tseries.frequencies import to_offset
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from forecasting.demand.backtest import (
    ENSEMBLE,
    backtest_values,
    combine,
    ensemble_rows,
    plan_windows,
)
from forecasting.demand.base import DEFAULT_QUANTILES, SeriesForecast, forecast_frame, infer_freq
from forecasting.demand.classify import CLASS_MODELS, classify_values
from forecasting.demand.global_model import ConformalErrors, GlobalForecasts, global_forecasts
from forecasting.demand.intervals import finish
from forecasting.demand.registry import LOCAL_MODELS, make_model
from forecasting.demand.seasonality import default_horizon, default_seasons
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError

REQUIRED = ("series_id", "ds", "y")
GLOBAL = "global_gbm"
MIN_GLOBAL_SERIES = 20  # fewer series teach a global model little a local one cannot
INTERMITTENT_CLASSES = ("intermittent", "lumpy")


@dataclass(frozen=True)
class _GlobalState:
    """The global model's final forecast of one series and the series' level."""

    mean: np.ndarray
    level: float
    nonnegative: bool = True


@dataclass(frozen=True)
class SeriesFit:
    """What the pipeline keeps of one series: its chosen model(s) and their fitted states."""

    series_id: str
    last_ds: pd.Timestamp
    model: str
    members: tuple[str, ...]
    states: tuple[object, ...]
    demand_class: str
    score: float
    fallback: str | None
    backtest: tuple[dict, ...]
    # The chosen model's backtest errors (actual - forecast) as (periods before the last
    # date, error): what MinT reconciliation estimates the error covariance from.
    residuals: tuple[tuple[int, float], ...] = ()


class AutoForecaster(BaseEstimator):
    """Per-series automatic model selection by rolling-origin backtest.

    Parameters
    ----------
    horizon: backtest horizon and the longest forecast served (default by frequency).
    season_length: main seasonal period (default by frequency: 7 for daily, 24 hourly...).
    freq: pandas alias; inferred from ``ds`` when None.
    models: ``"auto"`` (by demand class) or a list of model names.
    n_windows: rolling-origin windows per series.
    quantiles: quantile levels the backtest scores.
    selection_margin: relative improvement a single model needs over the ensemble.
    n_jobs: joblib workers (-1 = all cores); ``dask_client``: run on that cluster instead.
    seasons: every seasonal period the global model uses (default by frequency, e.g.
    24 and 168 for hourly data).
    global_model: ``"auto"`` (on with at least 20 series and ``models="auto"`` or a list
    naming ``global_gbm``), ``"on"`` or ``"off"``; ``global_params``: its parameters.
    global_margin: relative improvement another model needs over the global model in a
    series' backtest to replace it (0.3 measured best on M4 Hourly and Weekly).
    exog: numeric columns of the frame known in advance (prices, promotions, ...); the
    global model uses them, local models do not, and ``predict`` needs their future
    values (``fit(frame, future=...)``).
    holidays: a country code (``"US"``, ``"DE"``...) whose public holidays the global
    model counts in each period; None (the default) leaves holidays out.
    """

    def __init__(
        self,
        horizon: int | None = None,
        season_length: int | None = None,
        freq: str | None = None,
        models: str | Sequence[str] = "auto",
        n_windows: int = 3,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
        selection_margin: float = 0.05,
        n_jobs: int = -1,
        dask_client: object | None = None,
        seasons: Sequence[int] | None = None,
        global_model: str = "auto",
        global_params: dict | None = None,
        global_margin: float = 0.3,
        exog: Sequence[str] = (),
        holidays: str | None = None,
    ) -> None:
        self.horizon = horizon
        self.season_length = season_length
        self.freq = freq
        self.models = models
        self.n_windows = n_windows
        self.quantiles = quantiles
        self.selection_margin = selection_margin
        self.n_jobs = n_jobs
        self.dask_client = dask_client
        self.seasons = seasons
        self.global_model = global_model
        self.global_params = global_params
        self.global_margin = global_margin
        self.exog = exog
        self.holidays = holidays

    def fit(self, frame: pd.DataFrame, future: pd.DataFrame | None = None) -> AutoForecaster:
        """Backtest, select and refit every series of a long frame (``series_id, ds, y``).

        With ``exog`` columns, ``future`` gives their values for the ``horizon`` periods
        after each series' end (``series_id, ds`` and the same columns).
        """
        exog = tuple(self.exog)
        data = check_series_frame(frame, exog)
        self.freq_ = self.freq or infer_freq(data)
        data = regularize(data, self.freq_)
        self.season_length_ = int(self.season_length or default_seasons(self.freq_)[0])
        self.max_horizon = int(self.horizon or default_horizon(self.freq_))
        candidates = None if self.models == "auto" else parse_model_list(self.models)
        use_global = self._wants_global(data, candidates)
        if candidates is not None:
            candidates = tuple(c for c in candidates if c != GLOBAL) or None
        settings = _Settings(
            self.max_horizon,
            self.season_length_,
            candidates,
            self.n_windows,
            tuple(sorted(self.quantiles)),
            self.selection_margin,
            skip_ets=use_global and self.season_length_ > 12,
            global_margin=self.global_margin,
        )
        self.global_: GlobalForecasts | None = None
        if use_global:
            seasons = tuple(self.seasons or default_seasons(self.freq_))
            if self.season_length is not None and self.season_length_ not in seasons:
                seasons = (self.season_length_, *seasons)
            self.global_ = global_forecasts(
                data,
                self.freq_,
                seasons,
                self.max_horizon,
                holdout_windows=self.n_windows,
                quantiles=settings.quantiles,
                exog=exog,
                future=check_future(future, data, exog, self.freq_, self.max_horizon),
                holidays=self.holidays,
                **(self.global_params or {}),
            )
        elif exog:
            warnings.warn(
                f"exogenous columns {list(exog)} are used only by the global model, which "
                f"is off here (global_model='{self.global_model}', or fewer than "
                f"{MIN_GLOBAL_SERIES} series long enough); local models ignore them",
                UserWarning,
                stacklevel=2,
            )
        glob = self.global_
        groups = data.groupby("series_id", sort=True)
        tasks = (
            delayed(fit_series)(
                str(sid),
                g["y"].to_numpy(float),
                g["ds"].iloc[-1],
                settings,
                None if glob is None else glob.backtest.get(str(sid)),
                None
                if glob is None or str(sid) not in glob.final
                else _GlobalState(
                    glob.final[str(sid)].mean, glob.levels[str(sid)], glob.nonnegative[str(sid)]
                ),
            )
            for sid, g in groups
        )
        fits: dict[str, SeriesFit] = {}
        with self._backend():
            results = Parallel(n_jobs=self.n_jobs, return_as="generator", batch_size="auto")(tasks)
            for fit in tqdm(
                results,
                total=groups.ngroups,
                desc="forecasting series",
                disable=not sys.stderr.isatty(),
                unit="series",
            ):
                fits[fit.series_id] = fit
        self.fits_ = fits
        self.selection_ = pd.DataFrame(
            [
                {
                    "series_id": f.series_id,
                    "model": f.model,
                    "members": ",".join(f.members),
                    "demand_class": f.demand_class,
                    "score": f.score,
                    "fallback": f.fallback,
                }
                for f in fits.values()
            ]
        )
        self.backtest_ = pd.DataFrame(
            [
                {"series_id": f.series_id, "demand_class": f.demand_class, **row}
                for f in fits.values()
                for row in f.backtest
            ]
        )
        return self

    def backtest_residuals(self) -> pd.DataFrame:
        """Errors of each series' chosen model in its backtest: ``series_id, ds, residual``.

        Windows do not overlap (step = horizon), so each date has at most one error per
        series; these feed MinT reconciliation's error covariance.
        """
        parts = []
        for sid, fit in self.fits_.items():
            if not fit.residuals:
                continue
            back, errors = (np.asarray(v) for v in zip(*fit.residuals, strict=True))
            dates = pd.date_range(end=fit.last_ds, periods=int(back.max()) + 1, freq=self.freq_)
            parts.append(
                pd.DataFrame({"series_id": sid, "ds": dates[::-1][back], "residual": errors})
            )
        if not parts:
            return pd.DataFrame(columns=["series_id", "ds", "residual"])
        return pd.concat(parts, ignore_index=True)

    def predict(
        self,
        horizon: int | None = None,
        quantiles: Sequence[float] | None = None,
        series_ids: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Forecast frame ``series_id, ds, model, mean, q..`` for the chosen model per series."""
        h = int(horizon or self.max_horizon)
        if h < 1:
            raise HorizonError(f"horizon must be at least 1, not {h}")
        levels = sorted(quantiles or self.quantiles)
        wanted = list(self.fits_) if series_ids is None else list(series_ids)
        unknown = [s for s in wanted if s not in self.fits_]
        if unknown:
            raise UnknownSeriesError(
                f"unknown series {unknown[:5]}; the model knows {len(self.fits_)} series"
            )
        parts = []
        for sid in wanted:
            fit = self.fits_[sid]
            fc = predict_fit(
                fit,
                h,
                levels,
                self.season_length_,
                None if self.global_ is None else self.global_.errors,
            )
            parts.append(forecast_frame(sid, fit.last_ds, self.freq_, fit.model, fc, levels))
        return pd.concat(parts, ignore_index=True)

    def _wants_global(self, data: pd.DataFrame, candidates: tuple[str, ...] | None) -> bool:
        if self.global_model not in ("auto", "on", "off"):
            raise ConfigError(f"global_model must be auto, on or off, not '{self.global_model}'")
        if self.global_model == "off":
            return False
        lengths = data.groupby("series_id").size()
        enough = int((lengths >= 2 * self.max_horizon + 8).sum())
        if self.global_model == "on":
            if enough == 0:
                raise ConfigError(
                    "global_model='on' needs series of at least "
                    f"{2 * self.max_horizon + 8} points; the longest has {int(lengths.max())}"
                )
            return True
        named = candidates is None or GLOBAL in candidates
        return named and enough >= MIN_GLOBAL_SERIES

    def _backend(self) -> contextlib.AbstractContextManager:
        if self.dask_client is None:
            return contextlib.nullcontext()
        import distributed  # noqa: F401  (registers joblib's "dask" backend)

        return parallel_config(backend="dask")


@dataclass(frozen=True)
class _Settings:
    horizon: int
    season_length: int
    candidates: tuple[str, ...] | None
    n_windows: int
    quantiles: tuple[float, ...]
    margin: float
    skip_ets: bool = False
    global_margin: float = 0.3


def fit_series(
    series_id: str,
    y: np.ndarray,
    last_ds: pd.Timestamp,
    s: _Settings,
    global_backtest: dict[int, SeriesForecast] | None = None,
    global_final: _GlobalState | None = None,
) -> SeriesFit:
    """Select and fit the model for one series (pure; runs in a worker).

    ``global_backtest`` (forecasts by training length) and ``global_final`` are the
    global model's, when it ran; it competes when it covered every backtest window.
    """
    y = np.asarray(y, dtype=float)
    _, _, klass = classify_values(y)
    observed = y[np.isfinite(y)]
    candidates = s.candidates or CLASS_MODELS[klass]
    if s.skip_ets and s.candidates is None:
        candidates = tuple(c for c in candidates if c != "ets")
    windows = plan_windows(len(y), s.horizon, s.n_windows, min_train=max(8, s.horizon))
    precomputed = None
    # The global model's point forecast is a median (absolute-error loss): for a series
    # that is zero most periods that is zero, and a plan built on it orders nothing.
    # Intermittent and lumpy series keep the methods made for them (Croston and kin
    # forecast the mean rate).
    if (
        klass not in INTERMITTENT_CLASSES
        and global_backtest
        and global_final is not None
        and windows.cutoffs
        and all(c in global_backtest for c in windows.cutoffs)
    ):
        precomputed = {GLOBAL: global_backtest}
    fallback = _fallback_reason(observed, windows)
    if fallback is not None:
        name = "naive" if observed.size and np.ptp(observed) == 0 else "window_average"
        if observed.size <= 2:
            name = "naive"
        return _refit(series_id, y, last_ds, name, (name,), klass, float("nan"), fallback, (), s)
    rows, made = backtest_values(
        y, candidates, windows, s.season_length, s.quantiles, precomputed=precomputed
    )
    scores = _mean_scores(rows)
    ranked = sorted(scores, key=lambda name: scores[name])
    members = tuple(ranked[:3])
    if len(members) > 1:
        rows += ensemble_rows(y, members, made, windows, s.season_length, s.quantiles)
        scores = _mean_scores(rows)
    best = ranked[0]
    ensemble_score = scores.get(ENSEMBLE, np.inf)
    if len(members) > 1 and not scores[best] < ensemble_score * (1 - s.margin):
        name, chosen = ENSEMBLE, members
    else:
        name, chosen = best, (best,)
    # The global model learnt from every series, so its few backtest windows here are a
    # weaker verdict than for a local model: keep it unless another beats it clearly.
    if precomputed and name != GLOBAL and not scores[name] < scores[GLOBAL] * (1 - s.global_margin):
        name, chosen = GLOBAL, (GLOBAL,)
    fit = _refit(
        series_id, y, last_ds, name, chosen, klass, scores[name], None, tuple(rows), s, global_final
    )
    return replace(fit, residuals=_backtest_residuals(y, chosen, made, windows))


def _backtest_residuals(
    y: np.ndarray,
    members: tuple[str, ...],
    made: dict[str, dict[int, SeriesForecast]],
    windows,  # type: ignore[no-untyped-def]
) -> tuple[tuple[int, float], ...]:
    out = []
    for w, cutoff in enumerate(windows.cutoffs):
        actual = y[cutoff : cutoff + windows.horizon]
        mean = np.mean([made[m][w].mean[: len(actual)] for m in members], axis=0)
        for k, error in enumerate(actual - mean):
            if np.isfinite(error):
                out.append((len(y) - 1 - (cutoff + k), float(error)))
    return tuple(out)


def _fallback_reason(observed: np.ndarray, windows) -> str | None:
    if observed.size == 0 or not np.any(observed):
        return "no demand in the history"
    if np.ptp(observed) == 0:
        return "constant series"
    if not windows.cutoffs:
        return "too short to backtest"
    return None


def _mean_scores(rows: list[dict]) -> dict[str, float]:
    frame = pd.DataFrame(rows)
    means = frame.groupby("model")["score"].mean()
    return {k: (float(v) if np.isfinite(v) else np.inf) for k, v in means.items()}


def _refit(
    series_id: str,
    y: np.ndarray,
    last_ds: pd.Timestamp,
    name: str,
    members: tuple[str, ...],
    klass: str,
    score: float,
    fallback: str | None,
    rows: tuple[dict, ...],
    s: _Settings,
    global_final: _GlobalState | None = None,
) -> SeriesFit:
    states = tuple(
        global_final if m == GLOBAL else make_model(m, s.season_length)._fit_series(y)
        for m in members
    )
    return SeriesFit(
        series_id, pd.Timestamp(last_ds), name, members, states, klass, score, fallback, rows
    )


def predict_fit(
    fit: SeriesFit,
    h: int,
    quantiles: Sequence[float],
    m: int,
    global_errors: ConformalErrors | None = None,
) -> SeriesForecast:
    """Forecast one fitted series: its model, or the average of its ensemble members."""
    forecasts = [
        _member_forecast(member, state, h, quantiles, m, global_errors)
        for member, state in zip(fit.members, fit.states, strict=True)
    ]
    return forecasts[0] if len(forecasts) == 1 else combine(forecasts)


def _member_forecast(
    member: str,
    state: object,
    h: int,
    quantiles: Sequence[float],
    m: int,
    global_errors: ConformalErrors | None,
) -> SeriesForecast:
    if isinstance(state, _GlobalState):
        return _global_predict(state, h, quantiles, global_errors)
    return make_model(member, m)._predict_series(state, h, quantiles)


def _global_predict(
    state: _GlobalState, h: int, quantiles: Sequence[float], errors: ConformalErrors | None
) -> SeriesForecast:
    if h > len(state.mean):
        raise HorizonError(
            f"the global model was trained for {len(state.mean)} steps; asked for {h}"
        )
    mean = state.mean[:h]
    bands = None if errors is None else errors.quantiles(mean, state.level, quantiles)
    mean, bands = finish(mean, bands, state.nonnegative)
    return SeriesForecast(mean, bands)


def parse_model_list(models: str | Sequence[str]) -> tuple[str, ...]:
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models)]
    unknown = [n for n in names if n not in LOCAL_MODELS and n != GLOBAL]
    if unknown or not names:
        known = ", ".join(sorted(LOCAL_MODELS))
        raise ConfigError(f"unknown model(s) {unknown}; known models: {known}, or 'auto'")
    return tuple(names)


def regularize(data: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Give every series a row for each period from its first to its last (y NaN if absent)."""
    parts = []
    for sid, group in data.groupby("series_id", sort=True):
        full = pd.date_range(group["ds"].iloc[0], group["ds"].iloc[-1], freq=freq)
        if len(full) == len(group):
            parts.append(group)
            continue
        filled = group.set_index("ds").reindex(full).rename_axis("ds").reset_index()
        filled["series_id"] = sid
        parts.append(filled[list(data.columns)])
    return pd.concat(parts, ignore_index=True)


def check_series_frame(frame: pd.DataFrame, exog: Sequence[str] = ()) -> pd.DataFrame:
    """``series_id, ds, y`` (and the ``exog`` columns), typed, sorted, one row per date."""
    missing = [c for c in (*REQUIRED, *exog) if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"series frame lacks column(s) {missing}; it needs series_id, ds, y "
            f"and any exogenous columns named (columns present: "
            f"{', '.join(map(str, frame.columns))})"
        )
    data = frame[[*REQUIRED, *exog]].copy()
    for column in exog:
        data[column] = _numeric_column(frame, column)
    data["series_id"] = data["series_id"].astype(str)
    data["ds"] = pd.to_datetime(data["ds"], errors="coerce")
    bad_ds = data["ds"].isna()
    if bad_ds.any():
        row = int(np.flatnonzero(bad_ds.to_numpy())[0])
        raise ConfigError(f"row {row + 1}: ds '{frame['ds'].iloc[row]}' is not a date")
    data["y"] = pd.to_numeric(data["y"], errors="coerce")
    if data.duplicated(["series_id", "ds"]).any():
        dup = data[data.duplicated(["series_id", "ds"], keep=False)].iloc[0]
        raise ConfigError(
            f"series '{dup['series_id']}' has more than one row for {dup['ds']:%Y-%m-%d %H:%M}; "
            "aggregate first (ordercast series)"
        )
    return data.sort_values(["series_id", "ds"]).reset_index(drop=True)


def _numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ConfigError(
            f"row {row + 1}: exogenous column '{column}' holds '{frame[column].iloc[row]}', "
            "not a number"
        )
    return values.astype(float)


def check_future(
    future: pd.DataFrame | None,
    data: pd.DataFrame,
    exog: Sequence[str],
    freq: str,
    horizon: int,
) -> pd.DataFrame | None:
    """The future exogenous values, checked to cover every series' next ``horizon`` periods."""
    if not exog:
        return None
    if future is None:
        raise ConfigError(
            f"exogenous columns {list(exog)} need their future values: pass a future frame "
            f"(series_id, ds, {', '.join(exog)}) covering the {horizon} periods after each "
            "series' last date"
        )
    checked = check_series_frame(future.assign(y=0.0), exog).drop(columns="y")
    step = to_offset(freq)
    have = set(zip(checked["series_id"], checked["ds"], strict=True))
    for sid, end in data.groupby("series_id", sort=True)["ds"].max().items():
        for k in range(1, horizon + 1):
            when = end + step * k
            if (str(sid), when) not in have:
                raise ConfigError(
                    f"future frame has no row for series '{sid}' at {when:%Y-%m-%d %H:%M}; "
                    f"it needs {', '.join(exog)} for each of the {horizon} periods after "
                    f"{end:%Y-%m-%d %H:%M}"
                )
    return checked
