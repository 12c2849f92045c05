"""What every refresh shares: the champion it starts from, the "nothing new" check, the
tags of a refreshed version and its promotion; and the whole refresh of a kind whose core
brings itself up to date in one call (capacity, at-risk).

A refresh registers a new version of the kind's model tagged ``refresh.parent=<champion>``,
carrying its parent's recipe and gate score (it changes no choice the gate judged) with
``gate.decision=refresh``, and makes it the champion at once, without a comparison: it
has no recipe of its own to compare, and ``gate.reason`` says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from forecasting.cores import AnyCore
from forecasting.errors import ConfigError
from ordercast.settings import Settings
from training import registry, tracking, workdirs
from training.model_logging import log_refreshed_pyfunc
from training.pipelines.common import EXIT_PROMOTED, RegistryView, TrainOutcome, open_registry
from training.progress import Steps
from training.serving import RegistryReader
from training.tracking import RunLog
from training.workdirs import work_folder

EXIT_NOTHING_NEW = 3
PARENT_TAG = "refresh.parent"
OUTCOME_TAG = tracking.OUTCOME_TAG

Core = TypeVar("Core")


class NoChampionError(ConfigError):
    """The kind has no champion to refresh: it was never trained in this store."""


def refreshable_champion(settings: Settings, kind: str) -> ModelVersion:
    """``kind``'s champion, once what a killed training or refresh left is archived (the
    caller holds the kind's lock); :class:`NoChampionError` (saying what to run) when there
    is none."""
    client = tracking.connect(settings)
    name = registry.model_name(kind)
    registry.recover_interrupted(client, tracking.experiment_id(client, settings, kind), name)
    workdirs.sweep_stale()  # what a killed run left in the temp folder
    champion = registry.version_by_alias(client, name, registry.CHAMPION)
    if champion is None:
        raise NoChampionError(
            f"no {kind} champion to refresh in {settings.mlflow.tracking_uri}: run "
            f"`ordercast train {kind}` first"
        )
    return champion


def nothing_new(
    kind: str, champion: ModelVersion, fingerprint: dict[str, object]
) -> TrainOutcome | None:
    """The exit-3 outcome when ``champion`` already has the data ``fingerprint`` describes
    (its ``data.hash``, and its outcome hash when it recorded one: every version trained or
    refreshed since the hash joined the fingerprint has), else None."""
    if champion.tags.get("data.hash") != fingerprint["data.hash"]:
        return None
    recorded = champion.tags.get(OUTCOME_TAG)
    if recorded is not None and OUTCOME_TAG in fingerprint and recorded != fingerprint[OUTCOME_TAG]:
        return None
    return TrainOutcome(
        kind,
        EXIT_NOTHING_NEW,
        f"nothing new: {kind} champion v{champion.version} already has the orders "
        f"up to {fingerprint['data.last_date']} ({fingerprint['data.rows']:,} lines)",
        version=champion.version,
    )


def refresh_tags(champion: ModelVersion, fingerprint: dict[str, object]) -> dict[str, object]:
    """The run tags of a refresh of ``champion``: the data, the code, the parent's recipe."""
    return {
        **fingerprint,
        **tracking.code_version(),
        "recipe.hash": champion.tags.get("recipe.hash", ""),
        PARENT_TAG: champion.version,
    }


def promote_refresh(
    view: RegistryView,
    version: str,
    champion: ModelVersion,
    tags: dict[str, object],
) -> None:
    """Tag ``version`` as a refresh of ``champion`` (its recipe and gate score carried
    over) and make it the champion: ``gate.decision`` last, after the alias, as in
    :func:`training.registry.record_decision`, so a kill leaves an undecided version that the
    next run archives (putting ``champion`` back on the parent), never a half-decided one."""
    version_tags = {
        **tags,
        "recipe.json": champion.tags.get("recipe.json", ""),
        "gate.score": champion.tags.get("gate.score", ""),
        registry.METRIC_TAG: champion.tags.get(registry.METRIC_TAG, ""),
        registry.DIRECTION_TAG: registry.DIRECTION,
        registry.WINDOW_TAG: champion.tags.get(registry.WINDOW_TAG, ""),
        "gate.reason": refresh_reason(champion, str(tags["data.last_date"])),
        registry.PREVIOUS_CHAMPION_TAG: champion.version,
    }
    for key, value in version_tags.items():
        view.client.set_model_version_tag(view.name, version, key, str(value))
    registry.promote(view.client, view.name, version)
    view.client.set_model_version_tag(view.name, version, registry.DECISION_TAG, "refresh")


def refresh_reason(champion: ModelVersion, last_date: str) -> str:
    """Why a refresh is promoted without a comparison: it keeps every choice the gate judged
    on its parent (models, boosters, capacity estimate) and only takes in newer orders, so
    there is no other recipe to compare; the score it carries is its parent's."""
    score = champion.tags.get("gate.score", "")
    metric = champion.tags.get(registry.METRIC_TAG) or "score"
    judged = f"{metric} {float(score):.4g}, {registry.DIRECTION}" if score else "no score"
    return (
        f"refresh of v{champion.version} with orders up to {last_date}: promoted without a "
        f"comparison, as it keeps v{champion.version}'s choices the gate judged ({judged}, "
        f"on v{champion.version}'s window) and only takes in newer orders"
    )


def published(
    kind: str,
    version: str,
    champion: ModelVersion,
    tags: dict[str, object],
    started: float,
    run_id: str,
) -> TrainOutcome:
    """The exit-0 outcome of a refresh registered and promoted as ``version``."""
    return TrainOutcome(
        kind,
        EXIT_PROMOTED,
        f"{kind} v{version} published: refresh of v{champion.version} with orders up to "
        f"{tags['data.last_date']} ({time.perf_counter() - started:.0f} s)",
        version=version,
        run_id=run_id,
    )


def refresh_core(
    settings: Settings,
    orders: pd.DataFrame,
    kind: str,
    update: Callable[[AnyCore, pd.DataFrame, pd.Timestamp], Core],
    report: Callable[[RunLog, Core, pd.DataFrame, Path], None],
) -> TrainOutcome:
    """Refresh ``kind``'s champion on ``orders`` (the whole history now) and publish it.

    ``update(champion core, orders, as_of)`` is the refreshed core (``as_of``: the last
    order date), ``report(run, core, orders, workdir)`` logs the kind's reports and metrics
    of it; the core is registered in the parent's pyfunc package
    (:func:`training.model_logging.log_refreshed_pyfunc`). Exit 3 when the champion already
    has these orders and outcomes;
    :class:`NoChampionError` when there is none, :class:`ConfigError` when its core cannot
    be loaded or refreshed.
    """
    started = time.perf_counter()
    steps = Steps(f"refresh {kind}", ["registry", "load", "refresh", "log"])
    try:
        with steps.step("registry"):
            champion = refreshable_champion(settings, kind)
            fingerprint = tracking.fingerprint(orders)
            view = open_registry(settings, kind, fingerprint)
        same = nothing_new(kind, champion, fingerprint)
        if same is not None:
            return same
        with steps.step("load"):
            parent = load_champion_core(settings, kind, champion)
        as_of = pd.Timestamp(orders["order_date"].max())
        with steps.step("refresh"):
            model = update(parent, orders, as_of)
        version, run_id, tags = record_refresh(
            view,
            champion,
            fingerprint,
            model,
            steps,
            started,
            lambda run, workdir: _report_kind(run, model, orders, workdir, as_of, champion, report),
        )
    finally:
        steps.close()
    return published(kind, version, champion, tags, started, run_id)


def load_champion_core(settings: Settings, kind: str, champion: ModelVersion) -> AnyCore:
    """The champion's core, loaded from the registry as the API loads it."""
    reader = RegistryReader(settings.mlflow.tracking_uri)
    try:
        return reader.load_core(kind, str(champion.version))
    except Exception as exc:  # an older library's pickle, a missing artifact: say what to do
        raise ConfigError(
            f"cannot load {kind} champion v{champion.version} to refresh it ({exc}); "
            f"retrain it: `ordercast train {kind} --force`"
        ) from exc


def _report_kind(
    run: RunLog,
    model: Core,
    orders: pd.DataFrame,
    workdir: Path,
    as_of: pd.Timestamp,
    champion: ModelVersion,
    report: Callable[[RunLog, Core, pd.DataFrame, Path], None],
) -> None:
    run.log_params({"as_of": f"{as_of:%Y-%m-%d}", PARENT_TAG: champion.version})
    report(run, model, orders, workdir)


def record_refresh(
    view: RegistryView,
    champion: ModelVersion,
    fingerprint: dict[str, object],
    core: object,
    steps: Steps,
    started: float,
    extra: Callable[[RunLog, Path], None],
) -> tuple[str, str, dict[str, object]]:
    """The ``log`` step every refresh ends with: a run tagged as a refresh of ``champion``,
    the kind's ``extra`` reports logged in it, ``core`` registered in the parent's pyfunc
    package and promoted, the step times as metrics. Returns the version, the run id and
    the run's tags."""
    tags = refresh_tags(champion, fingerprint)
    log_started = time.perf_counter()
    with (
        steps.step("log"),
        work_folder() as workdir,
        tracking.recorded_run(
            view.client, view.experiment, f"refresh {fingerprint['data.last_date']}", tags
        ) as run,
    ):
        extra(run, Path(workdir))
        version = log_refreshed_pyfunc(run, str(champion.run_id), core, Path(workdir), view.name)
        promote_refresh(view, version, champion, tags)
        now = time.perf_counter()
        run.log_metrics(
            steps.metrics() | {"seconds.log": now - log_started, "refresh_seconds": now - started}
        )
    return version, run.run_id, tags
