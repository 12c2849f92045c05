"""Train the demand model: history -> hierarchy series -> AutoForecaster -> MLflow.

One run in the ``ordercast-demand`` experiment logs the resolved configuration, the
data fingerprint, the code version, backtest metrics (overall and per demand class),
the backtest table, the chosen model per series and forecast plots; the model is
registered as ``ordercast-demand`` and the promotion gate decides on ``champion``.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.backtest import ENSEMBLE, summarize
from forecasting.demand.config import BacktestConfig, GlobalModelConfig, ParallelConfig
from forecasting.demand.reconcile import Method, reconcile_with_notes
from forecasting.demand.selection import ensemble_members
from forecasting.demand.serving import alive_chances, build_serving_model
from forecasting.series import (
    build_hierarchy,
    drop_partial_first_period,
    drop_partial_last_period,
    prefix_levels,
)
from ordercast.settings import DemandSettings, Settings
from training import tracking
from training.model_logging import log_demand_model
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
from training.pipelines.prelude import HistorySource, load_history, open_training
from training.plots import forecast_plot
from training.publishing import publish_demand
from training.registry import ChampionScore
from training.tracking import RunLog
from training.workdirs import work_folder

logger = logging.getLogger(__name__)
KIND = "demand"
# The fitted forecaster, kept with each run so that a refresh can start from it.
FORECASTER_ARTIFACT = "refresh/forecaster.joblib"
FORECASTER_HASH_TAG = "refresh.sha256"
SELECTION_ARTIFACT = "reports/selection.csv"  # the model of each series, as the run logs it
REFRESH_PARENT_TAG = "refresh.parent"  # a refresh's parent version (refresh_common.PARENT_TAG)


def demand_recipe(settings: Settings) -> dict:
    """The settings that shape the demand model (what 'same recipe' means)."""
    return {"kind": KIND, "seed": settings.seed, **_recipe_settings(settings.demand)}


def prepare(
    settings: Settings, data: HistorySource, mapping: Path | None, as_of: pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validated orders (up to ``as_of``), the hierarchy series the model learns from, and
    the issues of any rows dropped on loading."""
    history = load_history(data, mapping, as_of)
    return history.known, hierarchy_series(settings, history.known, history.cutoff), history.dropped


def hierarchy_series(
    settings: Settings, orders: pd.DataFrame, cutoff: pd.Timestamp
) -> pd.DataFrame:
    """The hierarchy series the model learns from, without a partial first or last period."""
    levels = [tuple(level) for level in settings.demand.levels]
    freq, date_col = settings.demand.freq, settings.demand.date_column
    series = build_hierarchy(orders, levels=levels, freq=freq, date_col=date_col)
    whole = drop_partial_last_period(series, freq, cutoff)
    if len(orders):
        whole = drop_partial_first_period(whole, freq, pd.Timestamp(orders[date_col].min()))
    return prefix_levels(whole)


def score_of(model: AutoForecaster) -> float:
    """The gate's score: mean backtest loss of the chosen model over every series."""
    scores = model.selection_["score"].to_numpy(float)
    return float(np.nanmean(scores)) if np.isfinite(scores).any() else float("inf")


def fit(settings: Settings, series: pd.DataFrame) -> AutoForecaster:
    cfg = settings.demand
    return AutoForecaster(
        horizon=cfg.horizon,
        freq=cfg.freq,
        models=cfg.models,
        quantiles=tuple(cfg.quantiles),
        backtest=BacktestConfig(n_windows=cfg.n_windows),
        global_model=GlobalModelConfig(holidays=cfg.holidays),
        parallel=ParallelConfig(n_jobs=cfg.n_jobs),
    ).fit(series)


def coherent_forecasts(
    settings: Settings, model: AutoForecaster, series: pd.DataFrame
) -> pd.DataFrame:
    """The model's forecasts of every level, reconciled so that the levels add up."""
    cfg = settings.demand
    base = model.predict(cfg.horizon, cfg.quantiles)
    if cfg.reconcile == "none" or series["level"].nunique() < 2:
        return base
    return reconciled(model, base, series, cfg.reconcile)


def reconciled(
    model: AutoForecaster, base: pd.DataFrame, hierarchy: pd.DataFrame, method: Method
) -> pd.DataFrame:
    """``base`` reconciled over ``hierarchy`` with the model's backtest errors; kept
    non-negative when the history is, fallbacks to weaker weights logged. A series whose
    model weighed it by its chance of still being ordered moves only by that share of
    the adjustment (:func:`~forecasting.demand.reconcile.reconcile`, ``movable``)."""
    history = pd.to_numeric(hierarchy["y"], errors="coerce").dropna()
    out, notes = reconcile_with_notes(
        base,
        hierarchy,
        method,
        residuals=model.backtest_residuals(),
        nonnegative=bool((history >= 0).all()),
        movable=alive_chances(model.selection_),
    )
    for note in notes:
        logger.warning("reconciliation: %s", note)
    return out


def train(
    settings: Settings,
    data: HistorySource,
    mapping: Path | None = None,
    as_of: pd.Timestamp | None = None,
    force: bool = False,
    dry_run: bool = False,
    promote: bool = False,
) -> TrainOutcome:
    """Train, log, register and gate one demand model. Nothing is written on a dry run.
    ``force`` trains even when the champion is up to date; ``promote`` promotes whatever
    the score."""
    start = open_training(
        settings,
        KIND,
        data,
        mapping,
        as_of,
        demand_recipe(settings),
        later_steps=["backtest and fit", "forecast", "log"],
        force=force,
        dry_run=dry_run,
        series=lambda history: hierarchy_series(settings, history.known, history.cutoff),
    )
    if isinstance(start, TrainOutcome):
        return start
    steps, view, champion, recipe_id = start.steps, start.registry, start.champion, start.recipe_id
    orders, series = start.history.known, start.series
    assert series is not None  # asked for above

    with steps.step("backtest and fit"):
        model = fit(settings, series)
        new_score = score_of(model)
        window = evaluation_window(start.fingerprint, start.history.cutoff)
        champion_score = champion_on_window(
            champion,
            window,
            recipe_id,
            new_score,
            lambda v: _champion_score(settings, series, v, new_score),
            lambda v: _champion_choices_score(settings, view.client, view.name, v, model),
        )
    decision = gate(settings, KIND, champion_score, new_score, promote)
    with steps.step("forecast"):
        forecasts = coherent_forecasts(settings, model, series)
        core = build_serving_model(
            forecasts,
            model.selection_,
            settings.demand.levels,
            model.freq_,
            settings.demand.quantiles,
            trained_until=pd.Timestamp(orders["order_date"].max()),
        )
    log_started = time.perf_counter()
    tags = start.run_tags()
    with (
        steps.step("log"),
        work_folder() as workdir,
        tracking.recorded_run(
            view.client,
            view.experiment,
            f"demand {start.fingerprint['data.last_date']}",
            tags,
        ) as run,
    ):
        log_data_report(run, orders, start.history.dropped, Path(workdir))
        run.log_params(_flatten(settings.model_dump(mode="json", exclude={"api"})))
        _log_metrics(run, model, new_score)
        run.log_params(
            {f"reconcile.{k}": str(v) for k, v in forecasts.attrs.get("reconciliation", {}).items()}
        )
        _log_artifacts(run, model, series, forecasts, Path(workdir))
        log_forecaster(run, model, Path(workdir))
        version = log_demand_model(run, core, Path(workdir), view.name)
        tags["recipe.json"] = settings.demand.model_dump_json()  # version tag only
        record_version(
            view, version, tags, decision, new_score, champion_score, KIND, window, run.run_id
        )
        finish_run(run, steps, start.started, log_started)
    steps.close()
    if decision.promote:
        publish_demand(
            settings,
            kind="train",
            model_name=view.name,
            version=version,
            parent_version=None,
            model=model,
            core=core,
            series=series,
        )
    return gate_outcome(KIND, decision, version, run.run_id, new_score, champion_score)


def log_forecaster(run: RunLog, model: AutoForecaster, workdir: Path) -> None:
    """Keep the fitted forecaster with its run, so a later refresh can start from it."""
    path = workdir / Path(FORECASTER_ARTIFACT).name
    # Without the per-series backtest rows (the run keeps them in reports/backtest.csv and the
    # model in backtest_): they were most of the pickle's objects, and its seconds to write
    # and read; light compression for the same reason.
    slim = copy.copy(model)
    slim.fits_ = {sid: replace(fit, backtest=()) for sid, fit in model.fits_.items()}
    joblib.dump(slim, path, compress=1)
    # Unpickling runs code: a refresh checks the file against this before loading it.
    run.set_tags({FORECASTER_HASH_TAG: file_sha256(path)})
    run.log_artifact(path, str(Path(FORECASTER_ARTIFACT).parent))


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _champion_score(
    settings: Settings, series: pd.DataFrame, champion: ModelVersion, new_score: float
) -> float | None:
    """The champion's recipe rerun on the same windows of the same data (``new_score`` when
    its settings are these: only the code changed, and this code is what can run); None
    when its recipe is not recorded (its own score, on older data, would not compare)."""
    recipe = champion.tags.get("recipe.json")
    if not recipe:
        return None
    theirs = settings.demand.model_validate_json(recipe)
    if _recipe_settings(theirs) == _recipe_settings(settings.demand):
        return new_score
    previous = settings.model_copy(update={"demand": theirs})
    logger.info("scoring champion v%s's recipe on the same windows", champion.version)
    return score_of(fit(previous, series))


def _champion_choices_score(
    settings: Settings,
    client: MlflowClient,
    name: str,
    champion: ModelVersion,
    model: AutoForecaster,
) -> ChampionScore | None:
    """The champion's model choices scored on the challenger's backtest windows. None when
    it was made with other settings (its models may not be candidates here: its recipe is
    rerun instead), or its choices cannot be read. The challenger chose its models on these
    windows, which favours it: gate.margin is what it must win by."""
    recorded = champion.tags.get("recipe.json")
    if not recorded or _recipe_settings(settings.demand.model_validate_json(recorded)) != (
        _recipe_settings(settings.demand)
    ):
        return None
    choices = _champion_choices(client, name, champion)
    if choices is None:
        return None
    value, scored = choices_score(model.backtest_, model.selection_, choices)
    return ChampionScore(
        value,
        f"v{champion.version}'s model choices on this window's backtest, {scored} of "
        f"{len(model.selection_)} series (the rest count as the challenger's)",
    )


def _recipe_settings(demand: DemandSettings) -> dict:
    """The demand settings that shape the model (what ``demand_recipe`` hashes)."""
    return demand.model_dump(exclude={"n_jobs"})


def _champion_choices(
    client: MlflowClient, name: str, champion: ModelVersion
) -> pd.DataFrame | None:
    """The model of each series behind ``champion``: its training's selection (a refresh
    keeps its parent's choices, so the chain of parents leads to the training)."""
    version, seen = champion, set()
    while version.tags.get(REFRESH_PARENT_TAG) and version.version not in seen:
        seen.add(version.version)
        version = client.get_model_version(name, version.tags[REFRESH_PARENT_TAG])
    if version.run_id is None:
        return None
    with work_folder() as folder:
        try:
            path = client.download_artifacts(version.run_id, SELECTION_ARTIFACT, folder)
        except (MlflowException, OSError) as exc:
            logger.warning("cannot read v%s's model choices (%s)", version.version, exc)
            return None
        return pd.read_csv(path, dtype={"series_id": str, "model": str, "members": str})


def choices_score(
    backtest: pd.DataFrame, selection: pd.DataFrame, choices: pd.DataFrame
) -> tuple[float, int]:
    """The mean over series of the backtest score that ``choices`` (series -> model,
    members) get on these windows, and how many series they were scored on.

    A series keeps the challenger's own score (``selection``) where the champion's choice
    was not backtested here: a series new since, a model no longer a candidate, an
    ensemble of other members. Series without a score (fallbacks) stay without one.
    """
    means = backtest.groupby(["series_id", "model"], as_index=False)["score"].mean()
    by_series: dict[str, dict[str, float]] = {}
    for sid, model, value in zip(
        means["series_id"].astype(str), means["model"].astype(str), means["score"], strict=True
    ):
        # as the selection ranks them (forecasting.demand.selection.mean_scores)
        by_series.setdefault(sid, {})[model] = float(value) if np.isfinite(value) else np.inf
    theirs = choices.drop_duplicates("series_id").set_index("series_id")
    values, scored = [], 0
    for sid, own_score in zip(selection["series_id"], selection["score"], strict=True):
        value = float(own_score)
        scores = by_series.get(str(sid), {})
        if np.isfinite(value) and sid in theirs.index:
            chosen = str(theirs.at[sid, "model"])
            found = scores.get(chosen, np.inf)
            ensemble_ok = chosen != ENSEMBLE or _same_members(
                scores, str(theirs.at[sid, "members"])
            )
            if np.isfinite(found) and ensemble_ok:
                value, scored = found, scored + 1
        values.append(value)
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    return (float(finite.mean()) if finite.size else float("inf")), scored


def _same_members(scores: dict[str, float], members: str) -> bool:
    """Whether the ensemble backtested here (of the best models by ``scores``) is the one
    of the champion's ``members``."""
    singles = {model: score for model, score in scores.items() if model != ENSEMBLE}
    return set(ensemble_members(singles)) == set(members.split(","))


def _log_metrics(run: RunLog, model: AutoForecaster, score: float) -> None:
    bt = model.backtest_
    chosen = bt.merge(model.selection_[["series_id", "model"]], on=["series_id", "model"])
    metrics = {"score": score}
    for column in ("mase", "rmsse", "smape", "wape", "bias", "scaled_pinball", "coverage"):
        metrics[f"chosen.{column}"] = float(chosen[column].mean())
    for (klass,), group in chosen.groupby(["demand_class"]):
        metrics[f"chosen.mase.{klass}"] = float(group["mase"].mean())
        metrics[f"chosen.coverage.{klass}"] = float(group["coverage"].mean())
    metrics["fallback_series"] = int(model.selection_["fallback"].notna().sum())
    run.log_metrics(metrics)


def _log_artifacts(
    run: RunLog,
    model: AutoForecaster,
    series: pd.DataFrame,
    forecasts: pd.DataFrame,
    workdir: Path,
) -> None:
    model.backtest_.to_csv(workdir / "backtest.csv", index=False)
    summarize(model.backtest_, ("demand_class", "model")).to_csv(
        workdir / "backtest-summary.csv", index=False
    )
    model.selection_.to_csv(workdir / "selection.csv", index=False)
    for path in ("backtest.csv", "backtest-summary.csv", "selection.csv"):
        run.log_artifact(workdir / path, "reports")
    sample = sorted(series["series_id"].unique())
    chosen = [s for s in sample if s.startswith(("total:", "site:"))][:4] + sample[:2]
    figure = forecast_plot(series, forecasts[forecasts["series_id"].isin(chosen)], chosen)
    figure.savefig(workdir / "forecasts.png", dpi=90)
    run.log_artifact(workdir / "forecasts.png", "plots")


def _flatten(values: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:500]
    return out
