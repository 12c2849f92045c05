"""What every training pipeline shares: outcomes, exit codes, the lock, the data gate,
the registry view and the reports every run logs. The opening itself is in
:mod:`training.pipelines.prelude`."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from forecasting.errors import DataContractError, OrdercastError
from ordercast.settings import Settings
from training import registry, tracking, workdirs
from training.progress import Steps
from training.registry import ChampionScore, GateDecision, decided
from training.tracking import RunLog

logger = logging.getLogger(__name__)

EXIT_PROMOTED = 0
EXIT_NOT_PROMOTED = 3
EXIT_LOCKED = 4


class LockBusyError(OrdercastError):
    """Another training of the same kind holds the lock."""


@dataclass(frozen=True)
class TrainOutcome:
    """What a training run did, for the log line and the exit code."""

    kind: str
    exit_code: int
    message: str
    version: str | None = None
    run_id: str | None = None
    score: float | None = None
    champion_score: float | None = None


@contextlib.contextmanager
def training_lock(settings: Settings, kind: str, timeout: float) -> Iterator[None]:
    """One training per kind at a time; a second waits ``timeout`` seconds, then gives up."""
    lock_dir = Path(settings.mlflow.lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{kind}.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout as exc:
        raise LockBusyError(
            f"another '{kind}' training holds {lock.lock_file}; waited {timeout:.0f} s"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def last_fingerprint(client: MlflowClient, experiment_id: str) -> dict[str, str] | None:
    """The data tags of the newest finished run of an experiment."""
    runs = client.search_runs(
        [experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    return {k: v for k, v in runs[0].data.tags.items() if k.startswith(("data.", "recipe."))}


def data_gate(
    previous: dict[str, str] | None, current: dict[str, object], settings: Settings
) -> None:
    """Refuse history that shrank or moved too far against the last run's."""
    if not previous or "data.rows" not in previous:
        return
    rows_before, rows_now = int(previous["data.rows"]), int(str(current["data.rows"]))
    if rows_now < rows_before * (1 - settings.gate.max_row_shrink):
        raise DataContractError.from_message(
            f"the history has {rows_now:,} rows against {rows_before:,} in the last run "
            f"(more than {settings.gate.max_row_shrink:.0%} fewer); refusing to train. "
            "Check the export, or raise gate.max_row_shrink."
        )
    end_before = pd.Timestamp(previous["data.last_date"])
    end_now = pd.Timestamp(str(current["data.last_date"]))
    shift = abs((end_now - end_before).days)
    if shift > settings.gate.max_end_shift_days:
        raise DataContractError.from_message(
            f"the history now ends {end_now:%Y-%m-%d}, {shift} days from the last run's "
            f"{end_before:%Y-%m-%d}; refusing to train. Check the export, or raise "
            "gate.max_end_shift_days."
        )


def up_to_date(
    kind: str,
    champion: ModelVersion | None,
    fingerprint: dict[str, object],
    recipe_id: str,
    force: bool,
    challenger: ModelVersion | None = None,
) -> TrainOutcome | None:
    """The outcome for a champion, or a challenger the gate kept out, already trained on
    this data with this recipe; else None (train)."""
    if champion is None or force:
        return None
    if _trained_on(challenger, fingerprint, recipe_id) and (
        challenger is not None and challenger.tags.get(registry.DECISION_TAG) == "rejected"
    ):
        # Training it again would score what it scored and be kept again: a rerun of the
        # scheduler's command leaves the registry as it is, and says so, exit code included.
        return TrainOutcome(
            kind,
            EXIT_NOT_PROMOTED,
            f"up to date: {kind} v{challenger.version} was trained on this data with this "
            f"configuration and kept as challenger ({challenger.tags.get('gate.reason', '')}); "
            f"`ordercast models promote {kind} {challenger.version}` promotes it, --force "
            "retrains",
            version=challenger.version,
        )
    if champion.tags.get("refresh.parent"):  # a refresh reselected nothing: a training does
        return None
    if _trained_on(champion, fingerprint, recipe_id):
        return TrainOutcome(
            kind,
            EXIT_PROMOTED,
            f"up to date: {kind} champion v{champion.version} was trained on this data with "
            "this configuration (use --force to retrain)",
            version=champion.version,
        )
    return None


def _trained_on(
    version: ModelVersion | None, fingerprint: dict[str, object], recipe_id: str
) -> bool:
    """Whether the gate decided ``version``, trained on this data with this recipe. A version
    the gate never decided is nobody's twin: train afresh."""
    return (
        version is not None
        and decided(version)
        and version.tags.get("data.hash") == fingerprint["data.hash"]
        and version.tags.get("recipe.hash") == recipe_id
    )


def gate_outcome(
    kind: str,
    decision: GateDecision,
    version: str,
    run_id: str,
    score: float,
    champion: ChampionScore | None,
) -> TrainOutcome:
    """The outcome line and exit code of a trained, registered and gated version."""
    verdict = "promoted to champion" if decision.promote else "kept as challenger"
    return TrainOutcome(
        kind,
        EXIT_PROMOTED if decision.promote else EXIT_NOT_PROMOTED,
        f"{kind} v{version} {verdict}: {decision.reason}",
        version=version,
        run_id=run_id,
        score=score,
        champion_score=None if champion is None else champion.value,
    )


@dataclass(frozen=True)
class RegistryView:
    """Where a pipeline records: the store's client, its experiment, model name, champion."""

    client: MlflowClient
    experiment: str
    name: str
    champion: ModelVersion | None
    challenger: ModelVersion | None = None


def open_registry(settings: Settings, kind: str, fingerprint: dict[str, object]) -> RegistryView:
    """Connect, find the kind's experiment, archive what a killed training left (the caller
    holds the kind's lock: see :func:`training.registry.recover_interrupted`), apply the
    data gate, look up the champion."""
    client = tracking.connect(settings)
    experiment = tracking.experiment_id(client, settings, kind)
    name = registry.model_name(kind)
    registry.recover_interrupted(client, experiment, name)
    workdirs.sweep_stale()  # what a killed run left in the temp folder
    data_gate(last_fingerprint(client, experiment), fingerprint, settings)
    return RegistryView(
        client,
        experiment,
        name,
        registry.version_by_alias(client, name, registry.CHAMPION),
        registry.version_by_alias(client, name, registry.CHALLENGER),
    )


def same_recipe(champion: ModelVersion | None, recipe_id: str) -> bool:
    return champion is not None and champion.tags.get("recipe.hash") == recipe_id


def evaluation_window(fingerprint: Mapping[str, object], cutoff: pd.Timestamp) -> str:
    """What a gate score was measured on: the data (orders, and outcomes when fingerprinted)
    and the cutoff. Two versions with the same window were scored on the same lines."""
    outcomes = fingerprint.get(tracking.OUTCOME_TAG)
    data = f"data {fingerprint['data.hash']}" + (f"+{outcomes}" if outcomes else "")
    return f"{data} to {cutoff:%Y-%m-%d}"


def champion_on_window(
    champion: ModelVersion | None,
    window: str,
    recipe_id: str,
    score: float,
    rerun: Callable[[ModelVersion], float | None],
    choices: Callable[[ModelVersion], ChampionScore | None] | None = None,
) -> ChampionScore | None:
    """The champion's score on the challenger's evaluation window (None: no champion).

    Its recorded score when it was measured on this window. Else ``choices(champion)``
    when the kind's model makes choices a training can score on the challenger's window
    (demand: the model of each series, under the same settings). Else the challenger's own
    score under the same recipe: on one window one recipe scores the same, so a refit on
    newer data does not beat its champion by being newer. Else ``rerun(champion)``, the
    champion's recipe scored on this window by the pipeline (None when it cannot be).
    """
    if champion is None:
        return None
    recorded = champion.tags.get("gate.score", "")
    if champion.tags.get(registry.WINDOW_TAG) == window and recorded:
        return ChampionScore(float(recorded), f"v{champion.version} scored on this window")
    # Its own score, on another window, is shown beside: it is what `models list` shows.
    own = f"; {float(recorded):.4g} on its own window" if recorded else ""
    chosen = choices(champion) if choices is not None else None
    if chosen is not None:
        return ChampionScore(chosen.value, chosen.basis + own)
    if same_recipe(champion, recipe_id):
        return ChampionScore(score, f"v{champion.version}'s recipe, the same, on this window{own}")
    try:
        value = rerun(champion)
    except OrdercastError as exc:  # its recipe does not fit this data: no score to beat
        problem = str(exc).splitlines()[-1].strip(" -")
        return ChampionScore(
            None, f"v{champion.version}'s recipe cannot be scored on this window: {problem}{own}"
        )
    if value is None:
        return ChampionScore(None, f"v{champion.version}'s recipe is not recorded{own}")
    return ChampionScore(value, f"v{champion.version}'s recipe rerun on this window{own}")


def gate(
    settings: Settings,
    kind: str,
    champion: ChampionScore | None,
    score: float,
    promote: bool,
) -> GateDecision:
    """The gate's decision on a challenger scoring ``score``; logged with its reason."""
    decision = registry.decide(
        registry.METRICS[kind], score, champion, settings.gate.margin, promote_anyway=promote
    )
    logger.info("%s gate: %s", kind, decision.reason)
    return decision


def record_version(
    view: RegistryView,
    version: str,
    tags: dict[str, object],
    decision: GateDecision,
    score: float,
    champion: ChampionScore | None,
    kind: str,
    window: str,
    run_id: str,
) -> None:
    """Tag a new version with its run's facts, then the gate's decision and aliases."""
    for key, value in tags.items():
        view.client.set_model_version_tag(view.name, version, key, str(value))
    registry.record_decision(
        view.client,
        view.name,
        version,
        decision,
        score,
        view.champion,
        None if champion is None else champion.value,
        registry.METRICS[kind],
        window,
        run_id,
    )


def data_profile(orders: pd.DataFrame, dropped: pd.DataFrame) -> dict[str, object]:
    """What the validated history looked like: size, dates, gaps, and what was dropped."""
    columns = {}
    for column in orders.columns:
        values = orders[column]
        entry: dict[str, object] = {"dtype": str(values.dtype), "missing": int(values.isna().sum())}
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            entry |= {"min": _plain(values.min()), "max": _plain(values.max())}
        elif pd.api.types.is_datetime64_any_dtype(values):
            entry |= {"min": str(values.min()), "max": str(values.max())}
        else:
            entry["distinct"] = int(values.nunique())
        columns[column] = entry
    return {
        "rows": len(orders),
        "rows_dropped": int(dropped["row"].nunique()) if len(dropped) else 0,
        "issues_of_dropped_rows": len(dropped),
        "columns": columns,
    }


def _plain(value: object) -> object:
    return float(value) if isinstance(value, int | float | np.number) else str(value)


def log_data_report(
    run: RunLog, orders: pd.DataFrame, dropped: pd.DataFrame, workdir: Path
) -> None:
    """Log the input's validation report to ``run`` (profile, and dropped rows)."""
    run.log_dict(data_profile(orders, dropped), "reports/data-validation.json")
    if len(dropped):
        dropped.to_csv(workdir / "dropped-rows.csv", index=False)
        run.log_artifact(workdir / "dropped-rows.csv", "reports")


def finish_run(run: RunLog, steps: Steps, started: float, log_started: float) -> None:
    """Log the seconds of every step, and of the whole run, as the run's last metrics."""
    now = time.perf_counter()
    run.log_metrics(
        steps.metrics() | {"seconds.log": now - log_started, "train_seconds": now - started}
    )
