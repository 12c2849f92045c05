"""MSTL decomposition plus ETS: the multi-seasonal model for hourly and sub-daily demand.

Why: hourly demand has a daily *and* a weekly cycle (24 and 168 steps). ETS and SARIMA
handle one short season at best; MSTL (Bandara, Hyndman & Bergmeir 2021) peels off each
seasonal component with STL, cheaply and robustly, and what is left — trend plus
remainder — is a season-free series that a simple ETS forecasts well.

How, following ``forecast::stlf`` / statsforecast's ``MSTL``:

* every period among ``season_length`` and ``seasons`` that has at least two full cycles
  (strictly more than ``2 * period`` points, as MSTL itself requires) is decomposed;
* each seasonal component is forecast by repeating its last cycle (seasonal-naive);
* the deseasonalised series (observed minus all seasonal components) is forecast by an
  additive-error ETS, with no trend, Holt's trend or damped trend chosen by AICc;
* the two are added; intervals are the ETS forecast variance, treating the repeated
  seasonal pattern as known (as ``stlf`` does).

With no usable period the same ETS runs on the raw series. Series that are too short or
constant fall back to :class:`~forecasting.demand.baselines.Naive`; the reason is kept
in ``fallback_``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.seasonal import MSTL

from forecasting.demand.base import LocalForecaster, SeriesForecast
from forecasting.demand.baselines import Naive, _clean
from forecasting.demand.intervals import finish, normal_quantiles

MIN_POINTS = 8

_FIT_ERRORS = (ValueError, np.linalg.LinAlgError, ZeroDivisionError, IndexError, OverflowError)
# (trend, damped): no trend, Holt, damped Holt.
_TREND_SPECS: tuple[tuple[str | None, bool], ...] = ((None, False), ("add", False), ("add", True))


@dataclass(frozen=True)
class _MstlState:
    results: Any  # statsmodels results (untyped), None on fallback
    fallback: Any  # the Naive state when the model did not fit
    spec: str
    nonnegative: bool
    # The last cycle of each seasonal component, aligned so that element 0 is the
    # value one period before the first forecast step.
    cycles: tuple[np.ndarray, ...] = field(default_factory=tuple)
    center: float = 0.0
    scale: float = 1.0


def usable_periods(n: int, periods: Sequence[int]) -> list[int]:
    """Distinct periods > 1 with more than two full cycles in ``n`` points, ascending."""
    return sorted({int(p) for p in periods if int(p) > 1 and 2 * int(p) < n})


def _fit_ets(x: np.ndarray) -> tuple[Any, str]:
    """Additive-error ETS on a season-free series, trend form chosen by AICc."""
    best, best_spec, best_score = None, "", np.inf
    # A pandas input, because statsmodels 0.15's ``get_prediction`` reads
    # ``predicted_mean.index`` and fails on results built from a bare array.
    series = pd.Series(x)
    for trend, damped in _TREND_SPECS:
        try:
            results = ETSModel(series, error="add", trend=trend, damped_trend=damped).fit(
                disp=False, maxiter=200
            )
        except _FIT_ERRORS:
            continue
        score = float(getattr(results, "aicc", np.inf))
        if np.isfinite(score) and score < best_score:
            best, best_score = results, score
            best_spec = "ETS(A,{},N)".format("N" if trend is None else ("Ad" if damped else "A"))
    return best, best_spec


class MSTLForecaster(LocalForecaster[_MstlState]):
    """MSTL seasonal components (repeated) plus ETS on the deseasonalised series."""

    name = "mstl"

    def __init__(self, season_length: int = 1, seasons: tuple[int, ...] = ()) -> None:
        super().__init__(season_length=season_length)
        self.seasons = seasons

    def fit_series(self, y: np.ndarray) -> _MstlState:
        y = _clean(y)
        nonneg = bool((y >= 0).all())
        if len(y) < MIN_POINTS or np.ptp(y) == 0:
            reason = "too short for MSTL" if len(y) < MIN_POINTS else "constant series"
            return _MstlState(None, Naive().fit_series(y), reason, nonneg)
        # Standardising keeps the ETS optimiser in range for tiny or huge scales; STL
        # and the additive recomposition are linear, so nothing else changes.
        center = float(np.mean(y))
        scale = float(np.std(y)) or 1.0
        z = (y - center) / scale
        periods = usable_periods(len(z), (self.season_length, *tuple(self.seasons)))
        cycles: list[np.ndarray] = []
        deseasonalised = z
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if periods:
                try:
                    # Degree-0 seasonal smoothing: the forecast repeats the *last* cycle,
                    # a boundary estimate that the default local-linear fit extrapolates
                    # noisily (on simulated 24/168 data it halved the seasonal error).
                    decomposition = MSTL(z, periods=periods, stl_kwargs={"seasonal_deg": 0}).fit()
                    seasonal = np.asarray(decomposition.seasonal, dtype=float).reshape(len(z), -1)
                    deseasonalised = z - seasonal.sum(axis=1)
                    cycles = [seasonal[-p:, i].copy() for i, p in enumerate(periods)]
                except _FIT_ERRORS:
                    periods, cycles, deseasonalised = [], [], z
            results, ets_spec = _fit_ets(deseasonalised)
        if results is None:
            return _MstlState(None, Naive().fit_series(y), "no ETS model converged", nonneg)
        spec = f"MSTL{periods}+{ets_spec}" if periods else ets_spec
        return _MstlState(
            results, None, spec, nonneg, cycles=tuple(cycles), center=center, scale=scale
        )

    def predict_series(
        self, state: _MstlState, h: int, quantiles: Sequence[float]
    ) -> SeriesForecast:
        if state.results is None:
            return Naive().predict_series(state.fallback, h, quantiles)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            n = state.results.nobs
            try:
                prediction = state.results.get_prediction(start=n, end=n + h - 1)
                mean = np.asarray(prediction.predicted_mean, dtype=float)
                variance = np.asarray(prediction.var_pred_mean, dtype=float)
            except _FIT_ERRORS:
                mean = np.asarray(state.results.forecast(h), dtype=float)
                variance = np.zeros(h)
        for cycle in state.cycles:
            mean = mean + np.resize(cycle, h)  # seasonal naive: the last cycle, repeated
        sigma = np.sqrt(np.clip(np.nan_to_num(variance, nan=0.0, posinf=0.0), 0, None))
        mean = state.center + state.scale * mean
        sigma = state.scale * sigma
        out, q = finish(mean, normal_quantiles(mean, sigma, quantiles), state.nonnegative)
        return SeriesForecast(out, q)

    def fit(self, frame: pd.DataFrame, freq: str | None = None) -> MSTLForecaster:
        super().fit(frame, freq)
        self.fallback_ = {
            sid: state.spec
            for sid, state in self.states_.items()
            if isinstance(state, _MstlState) and state.results is None
        }
        return self
