"""MLflow tracking through an explicit client: the store, one run, and what every run
records (data fingerprint, code version). Nothing here touches MLflow's process-wide state."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags

from forecasting.redaction import redact
from ordercast.settings import PROJECT_ROOT, Settings
from training.serving import RegistryUnavailableError, unavailable

OUTCOME_TAG = "data.outcomes_hash"
OUTCOME_COLUMNS = ("line_id", "ship_date", "delivered_date")
LIBRARIES = ("pandas", "numpy", "statsmodels", "scikit-learn", "mlflow", "ordercast")


def connect(settings: Settings) -> MlflowClient:
    """A client of the configured store (creating the local folders it needs)."""
    uri = settings.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    except Exception as exc:  # a damaged SQLite file fails here, before any call
        raise unavailable(uri, exc) or RegistryUnavailableError(str(exc)) from exc


@dataclass(frozen=True)
class RunLog:
    """One MLflow run, written through an explicit client (never MLflow's active run).

    What a pipeline records goes through here, so nothing depends on, or changes, the
    process-wide tracking URI: a training and a server may share a process.
    """

    client: MlflowClient
    run_id: str
    artifact_uri: str  # where the run's artifacts live (``.../<run_id>/artifacts``)

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(k, redact(v)) for k, v in tags.items()])

    def log_params(self, params: Mapping[str, object]) -> None:
        # Parameters are shown to anyone who can read the store: no password leaves with them.
        self.client.log_batch(self.run_id, params=[Param(k, redact(v)) for k, v in params.items()])

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()]
        )

    def log_artifact(self, local_path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(local_path), artifact_path)

    def log_dict(self, dictionary: dict[str, Any], artifact_file: str) -> None:
        self.client.log_dict(self.run_id, dictionary, artifact_file)

    def log_figure(self, figure: Figure, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)


@contextlib.contextmanager
def recorded_run(
    client: MlflowClient, experiment: str, run_name: str, tags: Mapping[str, object] | None = None
) -> Iterator[RunLog]:
    """A new run of ``experiment`` for a block: FINISHED when the block ends, FAILED when it
    raises (as MLflow's fluent runs do), with MLflow's usual source and user tags."""
    run = client.create_run(
        experiment,
        run_name=run_name,
        tags=resolve_tags({k: redact(v) for k, v in (tags or {}).items()}),
    )
    run_id = run.info.run_id
    try:
        yield RunLog(client, run_id, run.info.artifact_uri)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")


def experiment_id(client: MlflowClient, settings: Settings, kind: str) -> str:
    """One experiment per model kind, its artifacts under the configured artifact root."""
    name = f"ordercast-{kind}"
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if not settings.mlflow.tracking_uri.startswith(("http://", "https://", "databricks")):
        root = settings.mlflow.artifact_root / kind
        root.mkdir(parents=True, exist_ok=True)
        location = root.resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def fingerprint(orders: pd.DataFrame, series: pd.DataFrame | None = None) -> dict[str, object]:
    """What the data was: a content hash of the orders and one of their shipment and
    delivery dates, rows, date range, number of series."""
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(
            orders[["line_id", "sku", "site", "order_date", "quantity"]], index=False
        )
        .to_numpy()
        .tobytes()
    ).hexdigest()[:16]
    out: dict[str, object] = {
        "data.hash": digest,
        "data.rows": len(orders),
        "data.first_date": f"{orders['order_date'].min():%Y-%m-%d}",
        "data.last_date": f"{orders['order_date'].max():%Y-%m-%d}",
    }
    outcomes = [c for c in OUTCOME_COLUMNS if c in orders.columns]
    if len(outcomes) > 1:
        # Shipments and deliveries of lines already known: what the delivery-driven kinds
        # (capacity, at-risk) learn from, which the order hash above does not cover.
        rows = pd.util.hash_pandas_object(orders[outcomes], index=False).to_numpy()
        out[OUTCOME_TAG] = hashlib.sha256(rows.tobytes()).hexdigest()[:16]
    if series is not None:
        out["data.series"] = int(series["series_id"].nunique())
    return out


def code_version() -> dict[str, str]:
    """Git commit (when available) and the versions of the libraries that matter."""
    out = {}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    out["code.git_commit"] = commit or "unknown"
    out["code.library"] = library_hash()
    for lib in LIBRARIES:
        try:
            out[f"code.{lib}"] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            out[f"code.{lib}"] = "not installed"
    return out


def library_hash(root: Path | None = None) -> str:
    """A hash of the domain library's source (``forecasting/``, or ``root``): the code that
    shapes a model. Part of every recipe, so an upgrade retrains on unchanged data rather
    than calling the champion built by the old code up to date."""
    import forecasting

    digest = hashlib.sha256()
    root = root if root is not None else Path(forecasting.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def recipe_hash(recipe: dict) -> str:
    """A short, stable hash of a model recipe: the settings and the library code that
    shape the model."""
    shaped = {**recipe, "library": library_hash()}
    return hashlib.sha256(json.dumps(shaped, sort_keys=True, default=str).encode()).hexdigest()[:12]
