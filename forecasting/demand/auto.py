"""The automatic pipeline: backtest candidates per series, pick the best, refit, forecast.

For each series: classify its demand (ADI/CV²), backtest the models that suit the class
on rolling-origin windows, and select the best single model only when it beats the
equal-weight ensemble of the three best by ``selection_margin`` (a guard against
overfitting the selection to a few windows); otherwise the ensemble. Series too short
to backtest get a rule-based fallback, recorded in ``selection_``.

Per-series work runs in parallel with joblib (all cores by default), or on a Dask
cluster when a ``dask.distributed.Client`` is given; results stream back one series at
a time, so memory stays flat as the number of series grows.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
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
from forecasting.demand.registry import LOCAL_MODELS, make_model
from forecasting.demand.seasonality import default_horizon, default_seasons
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError

REQUIRED = ("series_id", "ds", "y")


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

    def fit(self, frame: pd.DataFrame) -> AutoForecaster:
        """Backtest, select and refit every series of a long frame (``series_id, ds, y``)."""
        data = check_series_frame(frame)
        self.freq_ = self.freq or infer_freq(data)
        data = regularize(data, self.freq_)
        self.season_length_ = int(self.season_length or default_seasons(self.freq_)[0])
        self.max_horizon = int(self.horizon or default_horizon(self.freq_))
        candidates = None if self.models == "auto" else parse_model_list(self.models)
        settings = _Settings(
            self.max_horizon,
            self.season_length_,
            candidates,
            self.n_windows,
            tuple(sorted(self.quantiles)),
            self.selection_margin,
        )
        groups = data.groupby("series_id", sort=True)
        tasks = (
            delayed(fit_series)(str(sid), g["y"].to_numpy(float), g["ds"].iloc[-1], settings)
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
            fc = predict_fit(fit, h, levels, self.season_length_)
            parts.append(forecast_frame(sid, fit.last_ds, self.freq_, fit.model, fc, levels))
        return pd.concat(parts, ignore_index=True)

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


def fit_series(series_id: str, y: np.ndarray, last_ds: pd.Timestamp, s: _Settings) -> SeriesFit:
    """Select and fit the model for one series (pure; runs in a worker)."""
    y = np.asarray(y, dtype=float)
    _, _, klass = classify_values(y)
    observed = y[np.isfinite(y)]
    candidates = s.candidates or CLASS_MODELS[klass]
    windows = plan_windows(len(y), s.horizon, s.n_windows, min_train=max(8, s.horizon))
    fallback = _fallback_reason(observed, windows)
    if fallback is not None:
        name = "naive" if observed.size and np.ptp(observed) == 0 else "window_average"
        if observed.size <= 2:
            name = "naive"
        return _refit(series_id, y, last_ds, name, (name,), klass, float("nan"), fallback, (), s)
    rows, made = backtest_values(y, candidates, windows, s.season_length, s.quantiles)
    scores = _mean_scores(rows)
    ranked = sorted(scores, key=scores.get)
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
    return _refit(series_id, y, last_ds, name, chosen, klass, scores[name], None, tuple(rows), s)


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
) -> SeriesFit:
    states = tuple(make_model(m, s.season_length)._fit_series(y) for m in members)
    return SeriesFit(
        series_id, pd.Timestamp(last_ds), name, members, states, klass, score, fallback, rows
    )


def predict_fit(fit: SeriesFit, h: int, quantiles: Sequence[float], m: int) -> SeriesForecast:
    """Forecast one fitted series: its model, or the average of its ensemble members."""
    forecasts = [
        make_model(member, m)._predict_series(state, h, quantiles)
        for member, state in zip(fit.members, fit.states, strict=True)
    ]
    return forecasts[0] if len(forecasts) == 1 else combine(forecasts)


def parse_model_list(models: str | Sequence[str]) -> tuple[str, ...]:
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models)]
    unknown = [n for n in names if n not in LOCAL_MODELS]
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
        parts.append(filled[list(REQUIRED)])
    return pd.concat(parts, ignore_index=True)


def check_series_frame(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"series frame lacks column(s) {missing}; it needs series_id, ds, y "
            f"(columns present: {', '.join(map(str, frame.columns))})"
        )
    data = frame[list(REQUIRED)].copy()
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
