"""A tiny order history and MLflow stores for the training tests: embedded and a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from forecasting.synthetic import generate_orders
from tests.mlflow_stores import empty_store


@pytest.fixture(scope="session")
def history_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "orders.csv.gz"
    generate_orders(sites=2, skus=12, days=180, seed=4).orders.to_csv(path, index=False)
    return path


def write_config(folder: Path, tracking_uri: str, **demand: object) -> Path:
    lines = [
        "mlflow:",
        f"  tracking_uri: {tracking_uri}",
        f"  artifact_root: {folder / 'artifacts'}",
        f"  lock_dir: {folder / 'locks'}",
        "demand:",
        "  horizon: 4",
        "  n_windows: 2",
        "  n_jobs: 1",
    ]
    lines += [f"  {key}: {value}" for key, value in demand.items()]
    path = folder / f"config-{len(list(folder.glob('config-*')))}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cut_histories(
    tmp_path_factory: pytest.TempPathFactory, history_file: Path
) -> tuple[Path, Path]:
    """The history cut four weeks before its end (deliveries after the cut not yet known),
    and the whole of it: what a refresh is tried on."""
    folder = tmp_path_factory.mktemp("cut-history")
    orders = pd.read_csv(
        history_file, parse_dates=["order_date", "promised_date", "ship_date", "delivered_date"]
    )
    cut = orders["order_date"].max() - pd.Timedelta(weeks=4)
    early = orders[orders["order_date"] <= cut].copy()
    for column in ("ship_date", "delivered_date"):
        early[column] = early[column].where(early[column] <= cut)
    early_path, full_path = folder / "early.csv", folder / "full.csv"
    early.to_csv(early_path, index=False)
    orders.to_csv(full_path, index=False)
    return early_path, full_path


def own_stores(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config with an MLflow store, and an order store, of the test's own in ``folder``."""
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", f"sqlite:///{folder / 'orders.db'}")
    return write_config(folder, empty_store(folder / "mlflow.db"))


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    """An empty embedded store (SQLite + artifact folder) in a temp folder."""
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """A real `mlflow server` on a free loopback port, SQLite backend in a temp folder."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'server.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("mlflow server did not become healthy within 90 s")
    yield url, folder
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def champion_artifacts(uri: str, kind: str) -> dict[str, Path]:
    """Every artifact of the run behind ``ordercast-KIND@champion``, downloaded, by path."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = client.get_model_version_by_alias(f"ordercast-{kind}", "champion").run_id
    folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id, tracking_uri=uri))
    return {
        str(path.relative_to(folder)): path
        for path in folder.rglob("*")
        if path.is_file() and path.parts[len(folder.parts)] in ("reports", "plots")
    }
