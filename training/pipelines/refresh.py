"""Refresh the demand champion with the latest actuals: no reselection, no backtest.

The daily job between two trainings. It takes the champion's fitted forecaster (logged
with every training and refresh as ``refresh/forecaster.joblib``), brings each series'
chosen model up to date with the history as it is now
(:func:`forecasting.demand.refresh.refresh`), reconciles as the training does, and
registers the result as a new version of ``ordercast-demand`` tagged as a refresh of its
parent. The new version becomes the champion at once (a refresh changes no choice the
gate judged; the backtest score it carries is its parent's), so the service swaps to it
on its next poll, and its forecasts are published to the order store.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import joblib
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.refresh import refresh as refresh_forecaster
from forecasting.demand.serving import build_serving_model
from forecasting.errors import ConfigError
from ordercast.settings import Settings
from training import tracking
from training.pipelines.common import TrainOutcome, open_registry
from training.pipelines.demand import (
    FORECASTER_ARTIFACT,
    FORECASTER_HASH_TAG,
    KIND,
    coherent_forecasts,
    file_sha256,
    hierarchy_series,
    log_forecaster,
)
from training.pipelines.refresh_common import (
    nothing_new,
    published,
    record_refresh,
    refreshable_champion,
)
from training.progress import Steps
from training.publishing import publish_demand
from training.workdirs import work_folder

logger = logging.getLogger(__name__)


def refresh(settings: Settings, orders: pd.DataFrame) -> TrainOutcome:
    """Refresh, register, promote and publish the demand champion on ``orders``.

    Exit codes as ``train``: 0 published, 3 nothing new since the champion's data, and
    :class:`ConfigError` (exit 2) when there is no champion or it cannot be refreshed.
    """
    started = time.perf_counter()
    steps = Steps("refresh", ["registry", "load", "refresh", "forecast", "log"])
    with steps.step("registry"):
        champion, recipe_settings = _champion(settings)
    with steps.step("load"):
        cutoff = pd.Timestamp(orders["order_date"].max())
        series = hierarchy_series(recipe_settings, orders, cutoff)
        fingerprint = tracking.fingerprint(orders, series)
        view = open_registry(settings, KIND, fingerprint)
        same = nothing_new(KIND, champion, fingerprint)
        if same is not None:
            steps.close()
            return same
        parent = _load_forecaster(view.client, champion)
    with steps.step("refresh"):
        model = refresh_forecaster(parent, series)
    with steps.step("forecast"):
        cfg = recipe_settings.demand
        forecasts = coherent_forecasts(recipe_settings, model, series)
        core = build_serving_model(
            forecasts,
            model.selection_,
            cfg.levels,
            model.freq_,
            cfg.quantiles,
            trained_until=cutoff,
        )
    version, run_id, tags = record_refresh(
        view,
        champion,
        fingerprint,
        core,
        steps,
        started,
        lambda run, workdir: log_forecaster(run, model, workdir),
    )
    steps.close()
    publish_demand(
        settings,
        kind="refresh",
        model_name=view.name,
        version=version,
        parent_version=champion.version,
        model=model,
        core=core,
        series=series,
    )
    return published(KIND, version, champion, tags, started, run_id)


def _champion(settings: Settings) -> tuple[ModelVersion, Settings]:
    """The demand champion and the settings it was trained with (its recipe)."""
    champion = refreshable_champion(settings, KIND)
    recipe = champion.tags.get("recipe.json")
    if not recipe:
        return champion, settings
    return champion, settings.model_copy(
        update={"demand": settings.demand.model_validate_json(recipe)}
    )


def _load_forecaster(client: MlflowClient, champion: ModelVersion) -> AutoForecaster:
    if not champion.run_id:
        raise ConfigError(f"demand champion v{champion.version} has no run to refresh from")
    with work_folder() as folder:
        try:
            local = client.download_artifacts(champion.run_id, FORECASTER_ARTIFACT, folder)
        except (MlflowException, OSError) as exc:
            raise ConfigError(
                f"demand champion v{champion.version} has no refresh state "
                f"({FORECASTER_ARTIFACT} in run {champion.run_id}): it was trained before "
                "refreshes existed; run `ordercast train demand --force` once"
            ) from exc
        recorded = client.get_run(champion.run_id).data.tags.get(FORECASTER_HASH_TAG)
        found = file_sha256(Path(local))
        if recorded != found:
            raise ConfigError(
                f"demand champion v{champion.version}'s refresh state does not match the hash "
                f"recorded when it was logged (expected {recorded or 'none recorded'}, found "
                f"{found}): the artifact store was changed after training, so it is not "
                "loaded; retrain with `ordercast train demand --force`"
            )
        try:
            model = joblib.load(local)
        except Exception as exc:  # an older library's pickle: the classes moved on
            raise ConfigError(
                f"cannot load demand champion v{champion.version}'s refresh state ({exc}); "
                "the code changed since it was trained: run `ordercast train demand --force`"
            ) from exc
    if not isinstance(model, AutoForecaster):
        raise ConfigError(f"{FORECASTER_ARTIFACT} of v{champion.version} is not a forecaster")
    return model
