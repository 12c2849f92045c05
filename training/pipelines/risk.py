"""Train the at-risk model: history -> AtRiskModel -> MLflow, gated on a later window.

The gate's score is the Brier score of lines open at ``as_of - evaluation_days``, scored
by a model trained as of that date and judged by what happened next; the registered
model is then trained on everything known at ``as_of``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from forecasting.contract import CANONICAL_COLUMNS
from forecasting.loaders import load_orders
from forecasting.risk.evaluate import risk_metrics
from forecasting.risk.labels import is_late
from forecasting.risk.model import AtRiskModel
from training import registry, tracking
from training.pipelines.common import (
    EXIT_PROMOTED,
    TrainOutcome,
    gate_outcome,
    open_registry,
    record_version,
    recorded_champion_score,
    same_recipe,
    up_to_date,
)
from training.pyfunc import log_risk_model
from training.settings import Settings

KIND = "risk"
EVALUATION_DAYS = 56


def window_metrics(orders: pd.DataFrame, as_of: pd.Timestamp) -> dict[str, float]:
    """Train as of ``as_of - EVALUATION_DAYS``, score the lines open then, judge by outcome."""
    split = as_of - pd.Timedelta(days=EVALUATION_DAYS)
    model = AtRiskModel(random_state=0).fit(orders, split)
    scored = model.score(orders, split)
    outcome = is_late(orders).set_axis(orders["line_id"]).reindex(scored["line_id"])
    known = (
        outcome.notna()
        & (orders.set_index("line_id")["delivered_date"].reindex(scored["line_id"]) < as_of)
    ).to_numpy()
    y = outcome.to_numpy()[known].astype(int)
    return risk_metrics(y, scored["p_late"].to_numpy()[known], model.base_rate_)


def train(
    settings: Settings,
    data: Path,
    mapping: Path | None = None,
    as_of: pd.Timestamp | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> TrainOutcome:
    started = time.perf_counter()
    orders = load_orders(data, mapping)
    cutoff = pd.Timestamp(as_of) if as_of is not None else orders["order_date"].max()
    fingerprint = tracking.fingerprint(orders[orders["order_date"] <= cutoff])
    recipe_id = tracking.recipe_hash(
        {"kind": KIND, "seed": settings.seed, "evaluation_days": EVALUATION_DAYS}
    )
    if dry_run:
        return TrainOutcome(
            KIND,
            EXIT_PROMOTED,
            f"dry run: {fingerprint['data.rows']:,} valid order lines; nothing written",
        )
    view = open_registry(settings, KIND, fingerprint)
    champion = view.champion
    current = up_to_date(KIND, champion, fingerprint, recipe_id, force)
    if current is not None:
        return current
    metrics = window_metrics(orders, cutoff)
    score = metrics["brier"]
    champion_score = recorded_champion_score(champion, recipe_id, score)
    decision = registry.decide(
        score,
        champion_score,
        settings.gate.margin,
        force,
        same_recipe_newer_data=same_recipe(champion, recipe_id),
    )
    model = AtRiskModel(random_state=settings.seed).fit(orders, cutoff)
    open_now = model.score(orders, cutoff)
    example = orders[orders["line_id"].isin(open_now["line_id"].head(3))].head(3)
    example = example[[c for c in CANONICAL_COLUMNS if c in example.columns]].assign(
        as_of=f"{cutoff:%Y-%m-%d}"
    )
    for column in ("order_date", "promised_date", "ship_date", "delivered_date"):
        if column in example.columns:
            example[column] = example[column].dt.strftime("%Y-%m-%d")
    with (
        tempfile.TemporaryDirectory() as workdir,
        tracking.using_store(settings),
        mlflow.start_run(experiment_id=view.experiment, run_name=f"risk {cutoff:%Y-%m-%d}") as run,
    ):
        tags = {**fingerprint, **tracking.code_version(), "recipe.hash": recipe_id}
        mlflow.set_tags({k: str(v) for k, v in tags.items()})
        mlflow.log_params(
            {
                "as_of": f"{cutoff:%Y-%m-%d}",
                "evaluation_days": EVALUATION_DAYS,
                "seed": settings.seed,
            }
        )
        mlflow.log_metrics(
            {f"window.{k}": float(v) for k, v in metrics.items() if np.isfinite(v)}
            | {"score": score}
        )
        open_now.to_csv(Path(workdir) / "open-lines-scored.csv", index=False)
        mlflow.log_artifact(str(Path(workdir) / "open-lines-scored.csv"), artifact_path="reports")
        version = log_risk_model(model, example, Path(workdir), view.name)
        record_version(view, version, tags, decision, score, champion_score)
        mlflow.log_metric("train_seconds", time.perf_counter() - started)
    return gate_outcome(KIND, decision, version, run.info.run_id, score, champion_score)
