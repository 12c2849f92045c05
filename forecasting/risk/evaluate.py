"""Metrics of a late-delivery score: ranking, calibration, and the riskiest decile."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from forecasting.risk.features import evaluation_snapshots
from forecasting.risk.labels import is_late


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean p| over equal-width probability bins, weighted by size."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y))


def precision_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Share of late lines among the ``share`` riskiest lines."""
    k = max(1, round(len(p) * share))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean())


def risk_metrics(y: np.ndarray, p: np.ndarray, base_rate: float) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier (and the base rate's), ECE, precision in the top 10%."""
    y = np.asarray(y, dtype=int)
    both = len(np.unique(y)) == 2
    return {
        "lines": float(len(y)),
        "late_share": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "brier_base_rate": float(brier_score_loss(y, np.full(len(y), base_rate))),
        "ece": expected_calibration_error(y, p),
        "precision_top10": precision_at(y, p, 0.1),
    }


def evaluate(
    model,
    orders: pd.DataFrame,
    split: pd.Timestamp | str,  # type: ignore[no-untyped-def]
    tolerance_days: int = 0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Train as of ``split``, score every delivered line promised on or after it.

    Returns the scored lines (the ``risk score`` columns plus ``late``) and the metrics.
    """
    split = pd.Timestamp(split)
    model.fit(orders, split)
    snaps = evaluation_snapshots(orders, split)
    outcome = is_late(orders, tolerance_days)
    snaps = snaps[outcome.loc[snaps["row"]].notna().to_numpy()]
    scored = model.score(orders, split, snapshots=snaps)
    scored["late"] = outcome.loc[snaps["row"]].astype(int).to_numpy()
    return scored, risk_metrics(
        scored["late"].to_numpy(), scored["p_late"].to_numpy(), model.base_rate_
    )
