"""Intermittent-demand forecasters: Croston, SBA, TSB, ADIDA and IMAPA.

All forecast a flat rate per period. Intervals are empirical: the spread of past
one-step errors, clipped at zero (demand cannot be negative).

References: Croston (1972); Syntetos & Boylan (2005) for the SBA bias correction;
Teunter, Syntetos & Babai (2011) for TSB; Nikolopoulos et al. (2011) for ADIDA;
Petropoulos & Kourentzes (2015) for IMAPA (the mean over every aggregation level from 1
to the mean inter-demand interval). IMAPA follows StatsForecast's ``IMAPA``: the
interval is the mean gap between demands (the first counted from the start), buckets
are cut from the end (the oldest remainder dropped) and each level's SES alpha is the
one in [0.1, 0.3] with the least in-sample squared error (here on a grid of 0.01).
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


SES_ALPHAS = np.round(np.arange(0.10, 0.301, 0.01), 2)


def mean_interval(y: np.ndarray) -> float:
    """Mean number of periods between demands, the first counted from the series' start
    (StatsForecast's ``_intervals``); 0 without demand."""
    demand_at = np.flatnonzero(y != 0)
    if demand_at.size == 0:
        return 0.0
    return float(np.diff(demand_at + 1, prepend=0).mean())


def ses_fit(x: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SES of ``x`` for each of ``alphas`` at once, started at ``x[0]``.

    Returns ``fitted`` (shape ``(len(alphas), len(x))``: ``fitted[:, t]`` is the forecast
    of ``x[t]`` from the values before it, ``fitted[:, 0] = x[0]``) and the next-period
    forecast per alpha.
    """
    alphas = np.asarray(alphas, dtype=float)
    fitted = np.empty((alphas.size, x.size))
    level = np.full(alphas.size, float(x[0]))
    for t in range(x.size):
        fitted[:, t] = level
        level = level + alphas * (x[t] - level)
    return fitted, level


def optimized_ses(x: np.ndarray, alphas: np.ndarray = SES_ALPHAS) -> tuple[np.ndarray, float]:
    """SES with the alpha of ``alphas`` of least in-sample squared one-step error:
    the fitted values (NaN for the first) and the next-period forecast."""
    fitted, forecast = ses_fit(x, alphas)
    sse = ((fitted[:, 1:] - x[None, 1:]) ** 2).sum(axis=1)
    # Ties (a flat error, e.g. two buckets) go to the alpha nearest the middle of the
    # range, where StatsForecast's golden-section search ends.
    tied = np.flatnonzero(np.isclose(sse, sse.min(), rtol=1e-9, atol=1e-12))
    middle = (alphas.min() + alphas.max()) / 2
    best = int(tied[np.argmin(np.abs(alphas[tied] - middle))])
    path = fitted[best].copy()
    path[0] = np.nan
    return path, float(forecast[best])


def imapa_path(y: np.ndarray, alpha: float | None = None) -> np.ndarray:
    """IMAPA's rate per period: ``path[len(y)]`` is the forecast, the mean over levels
    k = 1..round(mean interval) of SES on k-period totals, divided by k; ``path[t]`` for
    t < len(y) is the mean of each level's forecast of the bucket holding t, made before
    it (NaN where no level has one). ``alpha`` fixes the smoothing instead of choosing it.
    """
    n = len(y)
    path = np.full(n + 1, np.nan)
    interval = mean_interval(y)
    if interval == 0:
        path[:] = 0.0
        return path
    alphas = SES_ALPHAS if alpha is None else np.array([alpha])
    levels = max(1, min(round(interval), n))
    sums = np.zeros(n)
    counts = np.zeros(n)
    forecasts = np.empty(levels)
    for k in range(1, levels + 1):
        start = n % k
        totals = y[start:].reshape(-1, k).sum(axis=1)
        fitted, forecasts[k - 1] = optimized_ses(totals, alphas)
        rates = np.repeat(fitted / k, k)
        known = np.isfinite(rates)
        sums[start:][known] += rates[known]
        counts[start:][known] += 1
    forecasts /= np.arange(1, levels + 1)
    with np.errstate(invalid="ignore"):
        path[:n] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    path[n] = float(forecasts.mean())
    return path


class IMAPA(Croston):
    """Multiple temporal aggregation: ADIDA at every level from 1 to the mean
    inter-demand interval, averaged (Petropoulos & Kourentzes 2015). ``alpha=None``
    chooses each level's smoothing in [0.1, 0.3] as StatsForecast does."""

    name = "imapa"

    def __init__(self, season_length: int = 1, alpha: float | None = None) -> None:
        super().__init__(season_length=season_length)
        self.alpha = alpha  # type: ignore[assignment]

    def _path(self, y: np.ndarray) -> np.ndarray:
        return imapa_path(y, self.alpha)
