"""Train the capacity model: history -> CapacityForecaster -> MLflow, gated on backlog error.

The gate's score is the error of the projected backlog over the last ``EVALUATION_DAYS``
of history (forecast from before them, compared with what the history shows), relative
to the site's typical capacity; the registered model is fitted on everything to ``as_of``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.flows import site_flows
from forecasting.loaders import load_orders_with_issues
from ordercast.settings import Settings
from training import registry, tracking
from training.model_logging import log_capacity_model
from training.pipelines.common import (
    EXIT_PROMOTED,
    TrainOutcome,
    finish_run,
    gate_outcome,
    log_data_report,
    open_registry,
    record_version,
    recorded_champion_score,
    same_recipe,
    up_to_date,
)
from training.plots import capacity_plot
from training.progress import Steps

KIND = "capacity"
EVALUATION_DAYS = 14


def backlog_error(orders: pd.DataFrame, cutoff: pd.Timestamp) -> float:
    """Mean |projected backlog P50 - realised backlog| / mean capacity, last two weeks."""
    split = cutoff - pd.Timedelta(days=EVALUATION_DAYS)
    outlook = CapacityForecaster(n_paths=200).fit(orders, split).predict(EVALUATION_DAYS)
    actual = site_flows(orders[orders["order_date"] <= cutoff], until=cutoff)
    merged = outlook.merge(actual.rename(columns={"date": "ds"}), on=["site", "ds"])
    scale = max(float(merged["capacity"].mean()), 1.0)
    return float(np.mean(np.abs(merged["backlog_p50"] - merged["backlog_end"])) / scale)


def train(
    settings: Settings,
    data: Path,
    mapping: Path | None = None,
    as_of: pd.Timestamp | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> TrainOutcome:
    started = time.perf_counter()
    steps = Steps(KIND, ["load", "registry", "evaluate", "fit and forecast", "log"])
    with steps.step("load"):
        orders, dropped = load_orders_with_issues(data, mapping)
        cutoff = pd.Timestamp(as_of) if as_of is not None else orders["order_date"].max()
        known = orders[orders["order_date"] <= cutoff]
        fingerprint = tracking.fingerprint(known)
    recipe_id = tracking.recipe_hash({"kind": KIND, "seed": settings.seed})
    if dry_run:
        steps.close()
        return TrainOutcome(
            KIND, EXIT_PROMOTED, f"dry run: {len(known):,} valid order lines; nothing written"
        )
    with steps.step("registry"):
        view = open_registry(settings, KIND, fingerprint)
        champion = view.champion
        current = up_to_date(KIND, champion, fingerprint, recipe_id, force)
    if current is not None:
        steps.close()
        return current
    with steps.step("evaluate"):
        score = backlog_error(known, cutoff)
    champion_score = recorded_champion_score(champion, recipe_id, score)
    decision = registry.decide(
        score,
        champion_score,
        settings.gate.margin,
        force,
        same_recipe_newer_data=same_recipe(champion, recipe_id),
    )
    with steps.step("fit and forecast"):
        model = CapacityForecaster(random_state=settings.seed).fit(known, cutoff)
        outlook = model.predict(28)
    log_started = time.perf_counter()
    with (
        steps.step("log"),
        tempfile.TemporaryDirectory() as workdir,
        tracking.using_store(settings),
        mlflow.start_run(
            experiment_id=view.experiment, run_name=f"capacity {cutoff:%Y-%m-%d}"
        ) as run,
    ):
        tags = {**fingerprint, **tracking.code_version(), "recipe.hash": recipe_id}
        mlflow.set_tags({k: str(v) for k, v in tags.items()})
        log_data_report(orders, dropped, Path(workdir))
        mlflow.log_params(
            {
                "as_of": f"{cutoff:%Y-%m-%d}",
                "seed": settings.seed,
                "evaluation_days": EVALUATION_DAYS,
            }
        )
        mlflow.log_metrics(
            {
                "score": score,
                "backlog_error": score,
                "max_utilization": float(outlook["utilization"].max()),
            }
        )
        work = Path(workdir)
        model.estimate_.to_csv(work / "capacity-estimate.csv", index=False)
        outlook.to_csv(work / "outlook-28d.csv", index=False)
        for file in ("capacity-estimate.csv", "outlook-28d.csv"):
            mlflow.log_artifact(str(work / file), artifact_path="reports")
        for site, group in outlook.groupby("site"):
            capacity_plot(group, site).savefig(work / f"utilization-{site}.png", dpi=80)
            mlflow.log_artifact(str(work / f"utilization-{site}.png"), artifact_path="plots")
        version = log_capacity_model(model, work, view.name)
        record_version(view, version, tags, decision, score, champion_score)
        finish_run(steps, started, log_started)
    steps.close()
    return gate_outcome(KIND, decision, version, run.info.run_id, score, champion_score)
