"""Baseline forecasters: naive, seasonal naive, drift, window average.

Intervals are the textbook ones (Hyndman & Athanasopoulos, FPP3 §5.5): normal with the
one-step residual spread grown by the horizon as each method implies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.demand.base import LocalForecaster, SeriesForecast
from forecasting.demand.intervals import finish, normal_quantiles, residual_sigma


@dataclass(frozen=True)
class _State:
    level: np.ndarray  # what the method repeats or extends
    sigma: float
    n: int
    slope: float = 0.0
    nonnegative: bool = True


def _clean(y: np.ndarray) -> np.ndarray:
    """Series with gaps (NaN) filled by the previous value (zero at the start)."""
    y = np.asarray(y, dtype=float)
    if np.isnan(y).any():
        mask = np.isnan(y)
        idx = np.where(~mask, np.arange(len(y)), 0)
        np.maximum.accumulate(idx, out=idx)
        y = np.where(mask & (idx == 0) & np.isnan(y[0]), 0.0, y[idx])
    return y


class Naive(LocalForecaster[_State]):
    """The last value, repeated."""

    name = "naive"

    def fit_series(self, y: np.ndarray) -> _State:
        y = _clean(y)
        resid = np.diff(y)
        return _State(y[-1:], residual_sigma(resid), len(y), nonnegative=bool((y >= 0).all()))

    def predict_series(self, state: _State, h: int, quantiles: Sequence[float]) -> SeriesForecast:
        mean = np.repeat(state.level, h)
        sigma = state.sigma * np.sqrt(np.arange(1, h + 1))
        m, q = finish(mean, normal_quantiles(mean, sigma, quantiles), state.nonnegative)
        return SeriesForecast(m, q)


class SeasonalNaive(LocalForecaster[_State]):
    """The value one season ago, repeated season after season."""

    name = "seasonal_naive"

    def fit_series(self, y: np.ndarray) -> _State:
        y = _clean(y)
        m = max(1, int(self.season_length))
        if len(y) < m:  # not one full season: fall back to the last value
            m = 1
        resid = y[m:] - y[:-m] if len(y) > m else np.array([])
        return _State(y[-m:], residual_sigma(resid), len(y), nonnegative=bool((y >= 0).all()))

    def predict_series(self, state: _State, h: int, quantiles: Sequence[float]) -> SeriesForecast:
        m = len(state.level)
        mean = np.resize(state.level, h)
        seasons = np.floor(np.arange(h) / m) + 1
        sigma = state.sigma * np.sqrt(seasons)
        out, q = finish(mean, normal_quantiles(mean, sigma, quantiles), state.nonnegative)
        return SeriesForecast(out, q)


class Drift(LocalForecaster[_State]):
    """The line from the first to the last value, extended."""

    name = "drift"

    def fit_series(self, y: np.ndarray) -> _State:
        y = _clean(y)
        n = len(y)
        slope = (y[-1] - y[0]) / (n - 1) if n > 1 else 0.0
        resid = np.diff(y) - slope
        return _State(
            y[-1:], residual_sigma(resid), n, slope=slope, nonnegative=bool((y >= 0).all())
        )

    def predict_series(self, state: _State, h: int, quantiles: Sequence[float]) -> SeriesForecast:
        steps = np.arange(1, h + 1)
        mean = state.level[0] + state.slope * steps
        sigma = state.sigma * np.sqrt(steps * (1 + steps / max(state.n - 1, 1)))
        out, q = finish(mean, normal_quantiles(mean, sigma, quantiles), state.nonnegative)
        return SeriesForecast(out, q)


class WindowAverage(LocalForecaster[_State]):
    """The mean of the last ``window`` values (all values when the series is shorter)."""

    name = "window_average"

    def __init__(self, season_length: int = 1, window: int = 28) -> None:
        super().__init__(season_length=season_length)
        self.window = window

    def fit_series(self, y: np.ndarray) -> _State:
        y = _clean(y)
        recent = y[-self.window :]
        level = float(np.mean(recent))
        return _State(
            np.array([level]),
            float(np.std(recent)),
            len(recent),
            nonnegative=bool((y >= 0).all()),
        )

    def predict_series(self, state: _State, h: int, quantiles: Sequence[float]) -> SeriesForecast:
        mean = np.repeat(state.level, h)
        sigma = np.full(h, state.sigma * np.sqrt(1 + 1 / max(state.n, 1)))
        out, q = finish(mean, normal_quantiles(mean, sigma, quantiles), state.nonnegative)
        return SeriesForecast(out, q)
