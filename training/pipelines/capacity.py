"""Train the capacity model: history -> CapacityForecaster -> MLflow, gated on backlog error.

The gate's score is the error of the projected backlog over the last ``EVALUATION_DAYS``
of history (forecast from before them, compared with what the history shows), relative
to the site's typical capacity; the registered model is fitted on everything to ``as_of``.

New work comes from the demand champion's forecast when there is one (one future for
both models: the numbers the demand endpoint serves, before planner adjustments, released
by the capacity model's release rule); without a demand champion the capacity model
forecasts its sites' orders itself. The demand version it used is part of its recipe, so
a new demand champion makes the next capacity training run again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.flows import site_flows
from forecasting.demand.serving import DemandServingModel
from ordercast.settings import Settings
from training import registry, tracking
from training.model_logging import log_capacity_model
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
from training.plots import capacity_plot
from training.serving import RegistryReader
from training.workdirs import work_folder

logger = logging.getLogger(__name__)
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


@dataclass(frozen=True)
class ServedDemand:
    """The demand champion's forecast: every level and quantile it serves, its period."""

    version: str
    forecast: pd.DataFrame
    freq: str


def served_demand(settings: Settings) -> ServedDemand | None:
    """The demand champion's served forecast, or None when there is no demand champion
    (or it holds no precomputed forecast to read)."""
    client = tracking.connect(settings)
    champion = registry.version_by_alias(client, registry.model_name("demand"), registry.CHAMPION)
    if champion is None:
        return None
    core = RegistryReader(settings.mlflow.tracking_uri).load_core("demand", str(champion.version))
    if not isinstance(core, DemandServingModel):
        logger.warning("demand champion v%s serves no forecast frame", champion.version)
        return None
    return ServedDemand(str(champion.version), core.to_frame(core.grid), core.freq)


def _covers(demand: ServedDemand, cutoff: pd.Timestamp) -> bool:
    """Whether the served forecast runs from the week after ``cutoff`` at least four weeks."""
    ds = pd.to_datetime(demand.forecast["ds"])
    return bool(ds.min() <= cutoff + pd.Timedelta(days=7)) and bool(
        ds.max() >= cutoff + pd.Timedelta(days=28)
    )


def train(
    settings: Settings,
    data: HistorySource,
    mapping: Path | None = None,
    as_of: pd.Timestamp | None = None,
    force: bool = False,
    dry_run: bool = False,
    promote: bool = False,
) -> TrainOutcome:
    """Train, log, register and gate one capacity model. ``force`` trains even when the
    champion is up to date; ``promote`` promotes whatever the score."""
    demand = served_demand(settings)
    start = open_training(
        settings,
        KIND,
        data,
        mapping,
        as_of,
        {"kind": KIND, "seed": settings.seed, "demand": demand.version if demand else None},
        later_steps=["evaluate", "fit and forecast", "log"],
        force=force,
        dry_run=dry_run,
    )
    if isinstance(start, TrainOutcome):
        return start
    steps, view, champion, recipe_id = start.steps, start.registry, start.champion, start.recipe_id
    known, cutoff = start.history.known, start.history.cutoff
    with steps.step("evaluate"):
        score = backlog_error(known, cutoff)
    window = evaluation_window(start.fingerprint, cutoff)
    # The evaluation takes no setting of the recipe (the seed is the final fit's): any
    # champion's recipe scores on this window what the challenger's does, under this code.
    champion_score = champion_on_window(champion, window, recipe_id, score, lambda _: score)
    decision = gate(settings, KIND, champion_score, score, promote)
    if demand is not None and not _covers(demand, cutoff):
        logger.warning(
            "demand champion v%s does not forecast the weeks after %s: the capacity model "
            "forecasts its own arrivals",
            demand.version,
            f"{cutoff:%Y-%m-%d}",
        )
        demand = None
    with steps.step("fit and forecast"):
        model = CapacityForecaster(random_state=settings.seed).fit(
            known,
            cutoff,
            demand=None if demand is None else demand.forecast,
            demand_freq="W-SUN" if demand is None else demand.freq,
        )
        outlook = model.predict(28)
    log_started = time.perf_counter()
    tags = start.run_tags()
    with (
        steps.step("log"),
        work_folder() as workdir,
        tracking.recorded_run(
            view.client, view.experiment, f"capacity {cutoff:%Y-%m-%d}", tags
        ) as run,
    ):
        log_data_report(run, start.history.orders, start.history.dropped, Path(workdir))
        run.log_params(
            {
                "as_of": f"{cutoff:%Y-%m-%d}",
                "seed": settings.seed,
                "evaluation_days": EVALUATION_DAYS,
                "arrivals": f"demand v{demand.version}" if demand else "own forecast",
            }
        )
        run.log_metrics(
            {
                "score": score,
                "backlog_error": score,
                "max_load_ratio": float(outlook["load_ratio"].max()),
            }
        )
        work = Path(workdir)
        model.estimate_.to_csv(work / "capacity-estimate.csv", index=False)
        outlook.to_csv(work / "outlook-28d.csv", index=False)
        for file in ("capacity-estimate.csv", "outlook-28d.csv"):
            run.log_artifact(work / file, "reports")
        for site, group in outlook.groupby("site"):
            capacity_plot(group, str(site)).savefig(work / f"capacity-{site}.png", dpi=80)
            run.log_artifact(work / f"capacity-{site}.png", "plots")
        version = log_capacity_model(run, model, work, view.name)
        record_version(
            view, version, tags, decision, score, champion_score, KIND, window, run.run_id
        )
        finish_run(run, steps, start.started, log_started)
    steps.close()
    return gate_outcome(KIND, decision, version, run.run_id, score, champion_score)
