"""Train the at-risk model: history -> AtRiskModel -> MLflow, gated on a later window.

The gate's score is the Brier score of lines open at ``as_of - evaluation_days``, scored
by a model trained as of that date and judged by what happened next; the registered
model is then trained on everything known at ``as_of``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from forecasting.contract import CANONICAL_COLUMNS
from forecasting.risk.baselines import lane_baseline
from forecasting.risk.evaluate import calibration_table, feature_importance, risk_metrics
from forecasting.risk.labels import is_late
from forecasting.risk.model import AtRiskModel
from forecasting.risk.walk_forward import PROFILES
from ordercast.settings import Settings
from training import tracking
from training.model_logging import log_risk_model
from training.pipelines.common import (
    TrainOutcome,
    champion_on_window,
    evaluation_window,
    finish_run,
    gate,
    gate_outcome,
    log_data_report,
    record_version,
)
from training.pipelines.prelude import HistorySource, open_training
from training.plots import calibration_plot, importance_plot
from training.tracking import RunLog
from training.workdirs import work_folder

KIND = "risk"
EVALUATION_DAYS = 56
RECIPE_TAG = "recipe.json"  # the model's parameters, for scoring a champion on a later window


@dataclass(frozen=True)
class WindowEvaluation:
    """The gate's evaluation: metrics, and the lines behind them for the reports."""

    metrics: dict[str, float]
    baseline: dict[str, float]  # the lane late-rate baseline on the same lines
    calibration: pd.DataFrame
    importance: pd.DataFrame


def model_params(settings: Settings) -> dict[str, Any]:
    """The at-risk model's parameters from the settings."""
    return {
        "tolerance_days": settings.risk.tolerance_days,
        "bands": tuple(settings.risk.bands),
        **PROFILES[settings.risk.profile],
    }


def window_evaluation(
    orders: pd.DataFrame, as_of: pd.Timestamp, params: dict[str, Any] | None = None
) -> WindowEvaluation:
    """Train as of ``as_of - EVALUATION_DAYS``, score the lines open then, judge by outcome."""
    split = as_of - pd.Timedelta(days=EVALUATION_DAYS)
    # The window judges p_late alone: no delivery-time model (promise quotes) to fit.
    p_late_only = {**(params or {}), "delivery_time": False}
    model = AtRiskModel(random_state=0, **p_late_only).fit(orders, as_of=split)
    scored = model.score_lines(orders, split)
    late = is_late(orders, model.tolerance_days).set_axis(orders["line_id"])
    outcome = late.reindex(scored["line_id"])
    known = (
        outcome.notna()
        & (orders.set_index("line_id")["delivered_date"].reindex(scored["line_id"]) < as_of)
    ).to_numpy()
    y = outcome.to_numpy()[known].astype(int)
    p = scored["p_late"].to_numpy()[known]
    features = model.feature_frame(orders, split)[known]
    lines = orders.set_index("line_id").loc[scored["line_id"][known]].reset_index()
    p_baseline = lane_baseline(orders, split, lines, model.tolerance_days)
    return WindowEvaluation(
        metrics=risk_metrics(y, p, model.base_rate_),
        baseline=risk_metrics(y, p_baseline, model.base_rate_),
        calibration=calibration_table(y, p),
        importance=feature_importance(model, features, y),
    )


def input_example(orders: pd.DataFrame, line_ids: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines ``line_ids`` (three at most) as a pyfunc request: the contract's columns,
    dates as text, and ``as_of``: the input example MLflow stores beside the model."""
    example = orders[orders["line_id"].isin(line_ids)].head(3)
    example = example[[c for c in CANONICAL_COLUMNS if c in example.columns]].assign(
        as_of=f"{as_of:%Y-%m-%d}"
    )
    for column in ("order_date", "promised_date", "ship_date", "delivered_date"):
        if column in example.columns:
            example[column] = example[column].dt.strftime("%Y-%m-%d")
    return example


def _log_reports(
    run: RunLog, evaluation: WindowEvaluation, open_now: pd.DataFrame, workdir: Path
) -> None:
    open_now.to_csv(workdir / "open-lines-scored.csv", index=False)
    evaluation.calibration.to_csv(workdir / "calibration.csv", index=False)
    evaluation.importance.to_csv(workdir / "feature-importance.csv", index=False)
    for name in ("open-lines-scored.csv", "calibration.csv", "feature-importance.csv"):
        run.log_artifact(workdir / name, "reports")
    run.log_figure(calibration_plot(evaluation.calibration), "plots/calibration.png")
    run.log_figure(importance_plot(evaluation.importance), "plots/feature-importance.png")


def train(
    settings: Settings,
    data: HistorySource,
    mapping: Path | None = None,
    as_of: pd.Timestamp | None = None,
    force: bool = False,
    dry_run: bool = False,
    promote: bool = False,
) -> TrainOutcome:
    """Train, log, register and gate one at-risk model. ``force`` trains even when the
    champion is up to date; ``promote`` promotes whatever the score."""
    params = model_params(settings)
    start = open_training(
        settings,
        KIND,
        data,
        mapping,
        as_of,
        {"kind": KIND, "seed": settings.seed, "evaluation_days": EVALUATION_DAYS, **params},
        later_steps=["evaluate", "fit and score", "log"],
        force=force,
        dry_run=dry_run,
    )
    if isinstance(start, TrainOutcome):
        return start
    steps, view, champion, recipe_id = start.steps, start.registry, start.champion, start.recipe_id
    orders, cutoff = start.history.orders, start.history.cutoff
    window = evaluation_window(start.fingerprint, cutoff)
    with steps.step("evaluate"):
        evaluation = window_evaluation(orders, cutoff, params)
        score = evaluation.metrics["brier"]
        champion_score = champion_on_window(
            champion,
            window,
            recipe_id,
            score,
            lambda v: _champion_brier(v, orders, cutoff, params, score),
        )
    metrics = evaluation.metrics
    decision = gate(settings, KIND, champion_score, score, promote)
    with steps.step("fit and score"):
        model = AtRiskModel(random_state=settings.seed, **params).fit(orders, as_of=cutoff)
        open_now = model.score_lines(orders, cutoff)
    example = input_example(orders, open_now["line_id"].head(3), cutoff)
    log_started = time.perf_counter()
    tags = start.run_tags()
    with (
        steps.step("log"),
        work_folder() as workdir,
        tracking.recorded_run(view.client, view.experiment, f"risk {cutoff:%Y-%m-%d}", tags) as run,
    ):
        log_data_report(run, orders, start.history.dropped, Path(workdir))
        run.log_params(
            {
                "as_of": f"{cutoff:%Y-%m-%d}",
                "evaluation_days": EVALUATION_DAYS,
                "seed": settings.seed,
                "tolerance_days": settings.risk.tolerance_days,
                "band_medium": settings.risk.bands[0],
                "band_high": settings.risk.bands[1],
                "seed_models": model.n_models,
                "lookahead_days": model.lookahead_days,
                "features": len(model.features_),
            }
        )
        run.log_metrics(
            {f"window.{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}
            | {
                f"baseline.{k}": float(v)
                for k, v in evaluation.baseline.items()
                if np.isfinite(v) and k not in ("lines", "late_share")
            }
            | {"score": score}
        )
        _log_reports(run, evaluation, open_now, Path(workdir))
        version = log_risk_model(run, model, example, Path(workdir), view.name)
        tags[RECIPE_TAG] = json.dumps(params)  # version tag only: what a rerun needs
        record_version(
            view, version, tags, decision, score, champion_score, KIND, window, run.run_id
        )
        finish_run(run, steps, start.started, log_started)
    steps.close()
    return gate_outcome(KIND, decision, version, run.run_id, score, champion_score)


def _champion_brier(
    champion: ModelVersion,
    orders: pd.DataFrame,
    cutoff: pd.Timestamp,
    params: dict[str, Any],
    score: float,
) -> float | None:
    """The champion's recipe scored on this window (``score`` when its parameters are
    ``params``: only the code changed, and this code is what can run); None when its
    parameters are not recorded (a version from before they were)."""
    recorded = champion.tags.get(RECIPE_TAG)
    if not recorded:
        return None
    theirs = json.loads(recorded)
    if theirs == json.loads(json.dumps(params)):
        return score
    theirs["bands"] = tuple(theirs["bands"])
    return window_evaluation(orders, cutoff, theirs).metrics["brier"]
