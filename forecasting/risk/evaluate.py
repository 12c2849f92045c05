"""Metrics of a late-delivery score: ranking, calibration, and the riskiest decile."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from forecasting.risk.features import evaluation_snapshots
from forecasting.risk.labels import is_late

if TYPE_CHECKING:
    from forecasting.risk.model import AtRiskModel


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


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability per equal-width probability bin: mean p against the observed late rate."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = [
        {
            "bin_low": edges[b],
            "bin_high": edges[b + 1],
            "lines": int((which == b).sum()),
            "mean_p_late": float(p[which == b].mean()),
            "observed_late_rate": float(y[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    return pd.DataFrame(rows)


def feature_importance(
    model: AtRiskModel,
    features: pd.DataFrame,
    y: np.ndarray,
    repeats: int = 3,
    max_lines: int = 5000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Permutation importance on held-out lines: how much the Brier score worsens when a
    feature is shuffled. Measured on lines the model did not train on, so it ranks what
    the model uses to generalise rather than what it memorised."""
    y = np.asarray(y, dtype=int)
    if len(y) > max_lines:
        keep = np.random.default_rng(random_state).choice(len(y), max_lines, replace=False)
        features, y = features.iloc[np.sort(keep)], y[np.sort(keep)]
    result = permutation_importance(
        model.model_,
        features[model.features_],
        y,
        scoring="neg_brier_score",
        n_repeats=repeats,
        random_state=random_state,
    )
    return (
        pd.DataFrame(
            {
                "feature": model.features_,
                "brier_increase": result.importances_mean,
                "brier_increase_std": result.importances_std,
            }
        )
        .sort_values("brier_increase", ascending=False)
        .reset_index(drop=True)
    )


def precision_at(y: np.ndarray, p: np.ndarray, share: float = 0.1) -> float:
    """Share of late lines among the ``share`` riskiest lines."""
    k = max(1, round(len(p) * share))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean())


def risk_metrics(y: np.ndarray, p: np.ndarray, base_rate: float | np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier (and the base rate's), ECE, precision in the top 10%.

    ``base_rate``: one rate for every line, or one per line (a walk-forward evaluation
    compares each line with its own window's training base rate).
    """
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
    model: AtRiskModel,
    orders: pd.DataFrame,
    split: pd.Timestamp | str,
    tolerance_days: int = 0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Train as of ``split``, score every delivered line promised on or after it.

    Returns the scored lines (the ``risk score`` columns plus ``late``) and the metrics.
    """
    split = pd.Timestamp(split)
    model.fit(orders, as_of=split)
    snaps = evaluation_snapshots(orders, split)
    outcome = is_late(orders, tolerance_days)
    snaps = snaps[outcome.loc[snaps["row"]].notna().to_numpy()]
    scored = model.score_lines(orders, split, snapshots=snaps)
    scored["late"] = outcome.loc[snaps["row"]].astype(int).to_numpy()
    return scored, risk_metrics(
        scored["late"].to_numpy(), scored["p_late"].to_numpy(), model.base_rate_
    )
