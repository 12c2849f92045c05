"""Intermittent-demand forecasters: Croston, SBA, TSB and ADIDA.

All forecast a flat rate per period. Intervals are empirical: the spread of past
one-step errors, clipped at zero (demand cannot be negative).

References: Croston (1972); Syntetos & Boylan (2005) for the SBA bias correction;
Teunter, Syntetos & Babai (2011) for TSB; Nikolopoulos et al. (2011) for ADIDA.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.demand.base import LocalForecaster, SeriesForecast
from forecasting.demand.baselines import _clean
from forecasting.demand.intervals import empirical_quantiles, finish


@dataclass(frozen=True)
class _RateState:
    rate: float
    residuals: np.ndarray


def croston_path(y: np.ndarray, alpha: float) -> np.ndarray:
    """One-step-ahead Croston forecasts: smoothed size over smoothed interval.

    ``path[t]`` is the forecast for period ``t`` made with data before ``t``;
    ``path[len(y)]`` is the forecast for the next period.
    """
    path = np.full(len(y) + 1, np.nan)
    demand_at = np.flatnonzero(y > 0)
    if demand_at.size == 0:
        path[:] = 0.0
        return path
    size = y[demand_at[0]]
    interval = demand_at[0] + 1.0
    periods_since = 0
    path[: demand_at[0] + 1] = np.nan
    for t in range(demand_at[0] + 1, len(y) + 1):
        path[t] = size / interval
        if t == len(y):
            break
        periods_since += 1
        if y[t] > 0:
            size += alpha * (y[t] - size)
            interval += alpha * (periods_since - interval)
            periods_since = 0
    return path


def tsb_path(y: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """One-step-ahead TSB forecasts: smoothed probability of demand x smoothed size."""
    path = np.full(len(y) + 1, np.nan)
    demand_at = np.flatnonzero(y > 0)
    if demand_at.size == 0:
        path[:] = 0.0
        return path
    prob = demand_at.size / len(y)
    size = y[demand_at[0]]
    for t in range(len(y) + 1):
        path[t] = prob * size
        if t == len(y):
            break
        occurred = y[t] > 0
        prob += beta * (float(occurred) - prob)
        if occurred:
            size += alpha * (y[t] - size)
    return path


class Croston(LocalForecaster[_RateState]):
    """Croston's method (classic, no bias correction)."""

    name = "croston"
    _correction = 1.0

    def __init__(self, season_length: int = 1, alpha: float = 0.1) -> None:
        super().__init__(season_length=season_length)
        self.alpha = alpha

    def _path(self, y: np.ndarray) -> np.ndarray:
        return croston_path(y, self.alpha) * self._correction

    def fit_series(self, y: np.ndarray) -> _RateState:
        y = np.maximum(_clean(y), 0.0)
        path = self._path(y)
        return _RateState(float(path[-1]), y - path[:-1])

    def predict_series(
        self, state: _RateState, h: int, quantiles: Sequence[float]
    ) -> SeriesForecast:
        mean = np.full(h, state.rate)
        qs = empirical_quantiles(mean, state.residuals, quantiles, np.ones(h))
        out, q = finish(mean, qs, nonnegative=True)
        return SeriesForecast(out, q)


class SBA(Croston):
    """Syntetos–Boylan approximation: Croston times (1 - alpha/2), removing its bias."""

    name = "sba"

    def _path(self, y: np.ndarray) -> np.ndarray:
        return croston_path(y, self.alpha) * (1 - self.alpha / 2)


class TSB(Croston):
    """Teunter–Syntetos–Babai: updates the demand probability every period, so it decays."""

    name = "tsb"

    def __init__(self, season_length: int = 1, alpha: float = 0.1, beta: float = 0.05) -> None:
        super().__init__(season_length=season_length, alpha=alpha)
        self.beta = beta

    def _path(self, y: np.ndarray) -> np.ndarray:
        return tsb_path(y, self.alpha, self.beta)


class ADIDA(Croston):
    """Aggregate-disaggregate: SES on non-overlapping buckets of the mean inter-demand interval."""

    name = "adida"

    def _path(self, y: np.ndarray) -> np.ndarray:
        demand_at = np.flatnonzero(y > 0)
        bucket = round(len(y) / demand_at.size) if demand_at.size else 1
        bucket = max(1, min(bucket, len(y)))
        usable = len(y) - len(y) % bucket
        totals = y[len(y) - usable :].reshape(-1, bucket).sum(axis=1)
        level = totals[0] if totals.size else 0.0
        for total in totals[1:]:
            level += self.alpha * (total - level)
        rate = level / bucket
        # In-sample: each period's forecast is the rate known at the start of its bucket.
        path = np.full(len(y) + 1, rate)
        path[: len(y) - usable] = np.nan
        return path
