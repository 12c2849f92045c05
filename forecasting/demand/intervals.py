"""Interval maths shared by the models: normal quantiles and empirical residual quantiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm


def normal_quantiles(mean: np.ndarray, sigma: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Quantiles of N(mean, sigma²) per step: shape ``(len(quantiles), h)``."""
    z = norm.ppf(np.asarray(quantiles, dtype=float))[:, None]
    return mean[None, :] + z * np.nan_to_num(sigma, nan=0.0)[None, :]


def empirical_quantiles(
    mean: np.ndarray, residuals: np.ndarray, quantiles: Sequence[float], growth: np.ndarray
) -> np.ndarray:
    """Point forecast plus quantiles of past one-step errors, widened by ``growth`` per step.

    ``growth`` (shape ``(h,)``) scales the error spread with the horizon, e.g. sqrt(h)
    for a random walk; with fewer than 5 residuals the interval has zero width.
    """
    clean = residuals[np.isfinite(residuals)]
    if clean.size < 5:
        return np.repeat(mean[None, :], len(quantiles), axis=0)
    # Not centred: for intermittent demand the errors are skewed (many small negatives on
    # zero days, a few large positives), and that skew is the interval's shape.
    offsets = np.quantile(clean, np.asarray(quantiles, dtype=float))
    return mean[None, :] + offsets[:, None] * growth[None, :]


def finish(
    mean: np.ndarray, quantiles: np.ndarray | None, nonnegative: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Replace NaN, clip at zero for non-negative data, and sort quantiles per step."""
    mean = np.nan_to_num(np.asarray(mean, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    if nonnegative:
        mean = np.maximum(mean, 0.0)
    if quantiles is None:
        return mean, None
    qs = np.nan_to_num(np.asarray(quantiles, dtype=float), nan=0.0)
    qs = np.where(np.isfinite(qs), qs, mean[None, :])
    if nonnegative:
        qs = np.maximum(qs, 0.0)
    return mean, np.sort(qs, axis=0)


def residual_sigma(residuals: np.ndarray) -> float:
    """Root mean square of finite residuals (0 when there are none)."""
    clean = residuals[np.isfinite(residuals)]
    return float(np.sqrt(np.mean(clean**2))) if clean.size else 0.0
