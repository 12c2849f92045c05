"""What every training pipeline shares: outcomes, exit codes, the lock, the data gate,
the registry view and the reports every run logs. The opening itself is in
:mod:`training.pipelines.prelude`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from forecasting.errors import DataContractError, OrdercastError
from ordercast.settings import Settings
from training.progress import Steps
from training.registry import GateDecision, decided
from training.tracking import RunLog

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
) -> TrainOutcome | None:
    """The outcome for a champion already trained on this data with this recipe, else None."""
    if champion is None or force:
        return None
    if not decided(champion):
        return None  # a version the gate never decided is nobody's twin: train afresh
    if champion.tags.get("refresh.parent"):  # a refresh reselected nothing: a training does
        return None
    if (
        champion.tags.get("data.hash") == fingerprint["data.hash"]
        and champion.tags.get("recipe.hash") == recipe_id
    ):
        return TrainOutcome(
            kind,
            EXIT_PROMOTED,
            f"up to date: {kind} champion v{champion.version} was trained on this data with "
            "this configuration (use --force to retrain)",
            version=champion.version,
        )
    return None


def gate_outcome(
    kind: str,
    decision: GateDecision,
    version: str,
    run_id: str,
    score: float,
    champion_score: float | None,
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
        champion_score=champion_score,
    )


@dataclass(frozen=True)
class RegistryView:
    """Where a pipeline records: the store's client, its experiment, model name, champion."""

    client: MlflowClient
    experiment: str
    name: str
    champion: ModelVersion | None


def open_registry(settings: Settings, kind: str, fingerprint: dict[str, object]) -> RegistryView:
    """Connect, find the kind's experiment, archive what a killed training left (the caller
    holds the kind's lock: see :func:`training.registry.recover_interrupted`), apply the
    data gate, look up the champion."""
    from training import registry, tracking

    client = tracking.connect(settings)
    experiment = tracking.experiment_id(client, settings, kind)
    name = registry.model_name(kind)
    registry.recover_interrupted(client, experiment, name)
    data_gate(last_fingerprint(client, experiment), fingerprint, settings)
    return RegistryView(
        client, experiment, name, registry.version_by_alias(client, name, registry.CHAMPION)
    )


def same_recipe(champion: ModelVersion | None, recipe_id: str) -> bool:
    return champion is not None and champion.tags.get("recipe.hash") == recipe_id


def recorded_champion_score(
    champion: ModelVersion | None,
    recipe_id: str,
    score: float,
) -> float | None:
    """The champion's score on this window: ours under the same recipe, else its gate score."""
    if champion is None:
        return None
    if same_recipe(champion, recipe_id):
        return score
    return float(champion.tags.get("gate.score", "inf"))


def record_version(
    view: RegistryView,
    version: str,
    tags: dict[str, object],
    decision: GateDecision,
    score: float,
    champion_score: float | None,
) -> None:
    """Tag a new version with its run's facts, then the gate's decision and aliases."""
    from training import registry

    for key, value in tags.items():
        view.client.set_model_version_tag(view.name, version, key, str(value))
    registry.record_decision(
        view.client, view.name, version, decision, score, view.champion, champion_score
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
