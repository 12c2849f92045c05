"""The standard Theta method (Assimakopoulos & Nikolopoulos 2000), via statsmodels.

Theta is a strong, cheap benchmark (it won M3): half of a linear trend fitted by OLS plus
simple exponential smoothing, which Hyndman & Billah (2003) showed is SES with drift
``b0 / 2``. statsmodels' ``ThetaModel`` does the fit, including the classical
deseasonalisation: when ``season_length > 1`` and there are two full seasons, it tests
the lag-``m`` autocorrelation at 90% and, if seasonal, divides out a classical
multiplicative decomposition (additive when the series is not strictly positive).

Intervals: statsmodels' own ``prediction_intervals`` take sigma² from an ARIMA(0,1,1) on
the *raw* series, so on seasonal data they include the seasonal swings. Instead sigma is
the RMS of the method's in-sample one-step errors on the deseasonalised series, grown
with the horizon as for SES (``1 + (h - 1) alpha²``, the ARIMA(0,1,1) variance) and
rescaled by the seasonal factor when the season is multiplicative.

Series that are too short or constant fall back to
:class:`~forecasting.demand.baselines.Naive`; the reason is kept in ``fallback_``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.tsa.forecasting.theta import ThetaModel

from forecasting.demand.base import LocalForecaster, SeriesForecast
from forecasting.demand.baselines import Naive, _clean
from forecasting.demand.intervals import finish, normal_quantiles, residual_sigma

MIN_POINTS = 5
THETA = 2.0

_FIT_ERRORS = (ValueError, np.linalg.LinAlgError, ZeroDivisionError, IndexError, OverflowError)


@dataclass(frozen=True)
class _ThetaState:
    results: Any  # statsmodels results (untyped), None on fallback
    fallback: Any  # the Naive state when the model did not fit
    spec: str
    nonnegative: bool
    sigma: float = 0.0
    scale: float = 1.0


def _in_sample_sigma(y: np.ndarray, factors: np.ndarray, multiplicative: bool, res: Any) -> float:
    """RMS of Theta's one-step-ahead errors on the deseasonalised series.

    statsmodels does not expose fitted values, so the recursion is replayed: SES with
    ``l_0 = y_0`` (statsmodels' ``initialization_method="known"``) plus the Theta drift
    term for a one-step forecast from origin ``t``.
    """
    x = y / factors if multiplicative else y - factors
    b0, alpha = (float(v) for v in np.asarray(res.params))
    weight = (THETA - 1) / THETA
    level = x[0]
    errors = np.empty(len(x) - 1)
    for t in range(1, len(x)):
        drift = 1 / alpha - (1 - alpha) ** t / alpha if alpha > 0 else 0.0
        errors[t - 1] = x[t] - (level + weight * b0 * drift)
        level = alpha * x[t] + (1 - alpha) * level
    return residual_sigma(errors)


class Theta(LocalForecaster[_ThetaState]):
    """Standard Theta (theta = 2) with classical deseasonalisation when seasonal."""

    name = "theta"

    def fit_series(self, y: np.ndarray) -> _ThetaState:
        y = _clean(y)
        nonneg = bool((y >= 0).all())
        if len(y) < MIN_POINTS or np.ptp(y) == 0:
            reason = "too short for Theta" if len(y) < MIN_POINTS else "constant series"
            return _ThetaState(None, Naive().fit_series(y), reason, nonneg)
        # A positive rescale (not a shift) keeps multiplicative seasonality intact while
        # keeping the SES optimiser in a sane numeric range for tiny or huge series.
        scale = float(np.max(np.abs(y))) or 1.0
        x = y / scale
        m = max(1, int(self.season_length))
        seasonal = m > 1 and len(x) >= 2 * m
        period = m if seasonal else 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = ThetaModel(x, period=period, deseasonalize=seasonal, method="auto")
                res = model.fit(use_mle=False)
                n = len(x)
                # The in-sample seasonal factors are the forecast's, shifted back a cycle
                # (1s or 0s when no seasonality was detected).
                future = res.forecast_components(period)["seasonal"].to_numpy()
                factors = future[(np.arange(n) - n) % period]
                multiplicative = model.method.startswith("mul")
                sigma = _in_sample_sigma(x, factors, multiplicative, res)
            except _FIT_ERRORS:
                return _ThetaState(None, Naive().fit_series(y), "Theta did not fit", nonneg)
        deseasonalised = seasonal and bool(np.ptp(factors) > 0)
        spec = f"Theta({'mul' if multiplicative else 'add'}[{m}])" if deseasonalised else "Theta"
        return _ThetaState(res, None, spec, nonneg, sigma=sigma, scale=scale)

    def predict_series(
        self, state: _ThetaState, h: int, quantiles: Sequence[float]
    ) -> SeriesForecast:
        if state.results is None:
            return Naive().predict_series(state.fallback, h, quantiles)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parts = state.results.forecast_components(h)
            mean = np.asarray(state.results.forecast(h, theta=THETA), dtype=float)
        alpha = float(np.asarray(state.results.params)[1])
        steps = np.arange(h)
        sigma = state.sigma * np.sqrt(1 + steps * alpha**2)
        if state.results.model.method.startswith("mul"):
            sigma = sigma * parts["seasonal"].to_numpy()
        mean, sigma = mean * state.scale, sigma * state.scale
        out, q = finish(mean, normal_quantiles(mean, sigma, quantiles), state.nonnegative)
        return SeriesForecast(out, q)

    def fit(self, frame: pd.DataFrame, freq: str | None = None) -> Theta:
        super().fit(frame, freq)
        self.fallback_ = {
            sid: state.spec
            for sid, state in self.states_.items()
            if isinstance(state, _ThetaState) and state.results is None
        }
        return self
