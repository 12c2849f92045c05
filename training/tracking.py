"""MLflow tracking set-up and what every run records: data fingerprint, code version."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from ordercast.settings import PROJECT_ROOT, Settings

LIBRARIES = ("pandas", "numpy", "statsmodels", "scikit-learn", "mlflow", "ordercast")


def connect(settings: Settings) -> MlflowClient:
    """A client of the configured store (creating the local folders it needs)."""
    uri = settings.mlflow.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def using_store(settings: Settings) -> Iterator[None]:
    """Make the configured store MLflow's current one for a block, then put back the old."""
    with using_tracking_uri(settings.mlflow.tracking_uri):
        yield


@contextlib.contextmanager
def using_tracking_uri(uri: str) -> Iterator[None]:
    """Make ``uri`` MLflow's tracking and registry store for a block, then put back the old.

    ``mlflow.set_tracking_uri`` also sets ``MLFLOW_TRACKING_URI`` in the environment;
    restoring it keeps one training (or model load) from redirecting the next, or its
    subprocesses.
    """
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"] or "")
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"] or "")
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
    """What the data was: a content hash, rows, date range, number of series."""
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
