"""Forecast accuracy metrics: one definition each, used by backtests, selection and reports.

Scaled metrics divide by the in-sample error of the seasonal naive forecast (lag ``m``)
of the training part, as in the M4 competition (MASE) and M5 (RMSSE, scaled pinball).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def naive_scale(train: np.ndarray, m: int = 1, squared: bool = False) -> float:
    """Mean absolute (or squared) seasonal difference of the training data; NaN if none."""
    train = np.asarray(train, dtype=float)
    m = m if len(train) > m else 1
    if len(train) <= m:
        return float("nan")
    diff = train[m:] - train[:-m]
    value = np.mean(diff**2) if squared else np.mean(np.abs(diff))
    return float(value) if value > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray, m: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006)."""
    return float(np.mean(np.abs(actual - forecast)) / naive_scale(train, m))


def rmsse(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray, m: int = 1) -> float:
    """Root mean squared scaled error (M5)."""
    return float(np.sqrt(np.mean((actual - forecast) ** 2) / naive_scale(train, m, squared=True)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent, as scored in M4: mean(200·|y−ŷ|/(|y|+|ŷ|)); 0/0 counts 0."""
    denom = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        200 * np.abs(actual - forecast),
        denom,
        out=np.zeros_like(denom, dtype=float),
        where=denom > 0,
    )
    return float(np.mean(ratio))


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error: sum|y−ŷ| / sum|y| (NaN when all actuals are 0)."""
    total = np.sum(np.abs(actual))
    return float(np.sum(np.abs(actual - forecast)) / total) if total > 0 else float("nan")


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean forecast minus mean actual, relative to the mean actual (positive = over)."""
    level = np.mean(np.abs(actual))
    diff = np.mean(forecast - actual)
    return float(diff / level) if level > 0 else float(diff)


def pinball(actual: np.ndarray, quantile_forecast: np.ndarray, q: float) -> float:
    """Mean pinball (quantile) loss of one quantile forecast."""
    diff = actual - quantile_forecast
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))


def scaled_pinball(
    actual: np.ndarray,
    quantile_forecasts: Mapping[float, np.ndarray],
    train: np.ndarray,
    m: int = 1,
) -> float:
    """Mean pinball loss over the quantiles, scaled by the naive in-sample MAE (M5 style)."""
    losses = [pinball(actual, fc, q) for q, fc in quantile_forecasts.items()]
    return float(np.mean(losses) / naive_scale(train, m))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside [lower, upper]."""
    return float(np.mean((actual >= lower) & (actual <= upper)))


def series_metrics(
    actual: np.ndarray,
    mean: np.ndarray,
    quantile_forecasts: Mapping[float, np.ndarray],
    train: np.ndarray,
    m: int,
    interval: Sequence[float] = (0.1, 0.9),
) -> dict[str, float]:
    """Every metric for one series and forecast window."""
    lower, upper = (quantile_forecasts.get(q) for q in interval)
    return {
        "mase": mase(actual, mean, train, m),
        "rmsse": rmsse(actual, mean, train, m),
        "smape": smape(actual, mean),
        "wape": wape(actual, mean),
        "bias": bias(actual, mean),
        "scaled_pinball": scaled_pinball(actual, quantile_forecasts, train, m)
        if quantile_forecasts
        else float("nan"),
        "coverage": coverage(actual, lower, upper)
        if lower is not None and upper is not None
        else float("nan"),
    }
