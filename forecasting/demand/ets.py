"""Exponential smoothing (ETS) with the error, trend and season chosen by AICc.

Fits statsmodels' ``ETSModel`` for a small candidate set (additive or multiplicative
error; no, additive or damped trend; no or additive season when two seasons of data
exist) and keeps the lowest AICc. Intervals come from the model's own forecast variance.
A series too short, constant or all zeros falls back to a simpler model; the fallback is
recorded in ``fallback_``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.tools.eval_measures import aicc
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from forecasting.demand.base import LocalForecaster, SeriesForecast
from forecasting.demand.baselines import Naive, _clean
from forecasting.demand.intervals import finish, normal_quantiles

MIN_POINTS = 8
# The optimiser's iteration cap (L-BFGS-B). At 200 a seasonal trend model (16 parameters)
# could stop unconverged where it stopped depended on the CPU: the oracle series
# "seasonal_trend" converged at 244 iterations, log-likelihood -232.2 -> -230.6, its
# forecast from 4.6% to 2.1% of the series' deviation from StatsForecast's. Converged fits
# stop where they did; only unconverged ones run longer.
MAX_ITER = 1000


@dataclass(frozen=True)
class _EtsState:
    results: Any  # statsmodels ETSResults, or None when the fallback is used
    fallback: Any  # the Naive state used instead, or None
    spec: str
    nonnegative: bool


def _candidates(y: np.ndarray, m: int) -> list[dict]:
    seasonal = m > 1 and len(y) >= 2 * m + 2
    positive = bool((y > 0).all())
    specs = []
    for error in ("add", "mul") if positive else ("add",):
        for trend, damped in ((None, False), ("add", False), ("add", True)):
            for season in ("add", None) if seasonal else (None,):
                specs.append(
                    {"error": error, "trend": trend, "damped_trend": damped, "seasonal": season}
                )
    return specs


def _aicc(model: ETSModel, params: np.ndarray) -> float:
    """The AICc a results object of ``model`` at ``params`` reports (its log-likelihood;
    the parameters plus one for the variance: none is ever fixed here); inf when not
    finite."""
    value = aicc(model.loglike(params), model.nobs, model.k_params + 1)
    return float(value) if np.isfinite(value) else np.inf


def _spec_name(spec: dict) -> str:
    return "ETS({},{}{},{})".format(
        spec["error"][0].upper(),
        "N" if spec["trend"] is None else "A",
        "d" if spec["damped_trend"] else "",
        "N" if spec["seasonal"] is None else "A",
    )


class AutoETS(LocalForecaster[_EtsState]):
    """ETS with automatic model choice by AICc (statsmodels ``ETSModel``)."""

    name = "ets"

    def __init__(self, season_length: int = 1, max_fits: int = 8) -> None:
        super().__init__(season_length=season_length)
        self.max_fits = max_fits

    def fit_series(self, y: np.ndarray) -> _EtsState:
        y = _clean(y)
        nonneg = bool((y >= 0).all())
        if len(y) < MIN_POINTS or np.ptp(y) == 0:
            reason = "too short for ETS" if len(y) < MIN_POINTS else "constant series"
            return _EtsState(None, Naive().fit_series(y), reason, nonneg)
        m = max(1, int(self.season_length))
        scored: list[tuple[float, ETSModel, np.ndarray, str]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for spec in _candidates(y, m)[: self.max_fits]:
                try:
                    # A Series, not an array: statsmodels builds prediction results
                    # (analytic intervals) only for models with an index.
                    model = ETSModel(
                        pd.Series(y), seasonal_periods=m if spec["seasonal"] else None, **spec
                    )
                    # Parameters only: a results object also estimates the parameters'
                    # covariance (a numerical Hessian), which the choice does not need;
                    # only the chosen form gets one.
                    params = model.fit(disp=False, maxiter=MAX_ITER, return_params=True)
                    score = _aicc(model, params)
                except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
                    continue
                if np.isfinite(score):
                    scored.append((score, model, params, _spec_name(spec)))
            # Lowest AICc first; the sort is stable, so the candidates' order breaks ties
            # (as a strict < did).
            for _, model, params, spec_name in sorted(scored, key=lambda c: c[0]):
                try:
                    return _EtsState(model.smooth(params), None, spec_name, nonneg)
                except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
                    continue
        return _EtsState(None, Naive().fit_series(y), "no ETS model converged", nonneg)

    def refit_series(self, state: _EtsState, y: np.ndarray) -> _EtsState:
        """``state``'s form (error, trend, season) re-estimated on the longer ``y``, the
        optimiser started at the old parameters: one fit instead of the AICc search, for a
        refresh. A fallback state, or a form the new data no longer supports, searches again.
        """
        if state.results is None:
            return self.fit_series(y)
        y = _clean(y)
        old = state.results.model
        if old.seasonal is not None and len(y) < 2 * old.seasonal_periods + 2:
            return self.fit_series(y)
        if old.error == "mul" and not bool((y > 0).all()):
            return self.fit_series(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = ETSModel(
                    pd.Series(y),
                    error=old.error,
                    trend=old.trend,
                    damped_trend=old.damped_trend,
                    seasonal=old.seasonal,
                    seasonal_periods=old.seasonal_periods if old.seasonal else None,
                )
                params = model.fit(
                    start_params=np.asarray(state.results.params),
                    disp=False,
                    maxiter=MAX_ITER,
                    return_params=True,
                )
                if not np.isfinite(_aicc(model, params)):
                    return self.fit_series(y)
                results = model.smooth(params)
            except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
                return self.fit_series(y)
        return _EtsState(results, None, state.spec, bool((y >= 0).all()))

    def predict_series(
        self, state: _EtsState, h: int, quantiles: Sequence[float]
    ) -> SeriesForecast:
        if state.results is None:
            return Naive().predict_series(state.fallback, h, quantiles)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = state.results.nobs
            try:
                # Multiplicative-error forms are simulated: seeded, so that the same fit
                # gives the same interval every time (unseeded, P10/P90 moved by a few
                # tenths between two calls on one fit).
                prediction = state.results.get_prediction(
                    start=n, end=n + h - 1, rng=np.random.default_rng(0)
                )
                mean = np.asarray(prediction.predicted_mean, dtype=float)
                variance = np.asarray(prediction.var_pred_mean, dtype=float)
                sigma = np.sqrt(np.clip(np.nan_to_num(variance, nan=0.0), 0, None))
                qs = normal_quantiles(mean, sigma, quantiles)
            except (ValueError, AttributeError, np.linalg.LinAlgError):
                # Should prediction results still fail (degenerate fits), simulate sample
                # paths (seeded) and take their quantiles.
                paths = np.asarray(
                    state.results.simulate(
                        h, repetitions=400, anchor="end", rng=np.random.default_rng(0)
                    ),
                    dtype=float,
                ).reshape(h, -1)
                mean = np.asarray(state.results.forecast(h), dtype=float)
                qs = np.quantile(paths, np.asarray(quantiles, dtype=float), axis=1)
        m, q = finish(mean, qs, state.nonnegative)
        return SeriesForecast(m, q)

    def fit(self, frame: pd.DataFrame, freq: str | None = None) -> AutoETS:
        super().fit(frame, freq)
        self.fallback_ = {
            sid: state.spec for sid, state in self.states_.items() if state.results is None
        }
        return self
