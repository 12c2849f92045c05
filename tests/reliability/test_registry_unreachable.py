"""A registry that is down when the server starts (#16 item 5, the server's side).

The server listens at once (``/health`` answers while the registry does not), ``/ready``
is 503 naming the store it waits for, and it turns ready by itself once the store is there.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from ordercast.settings import ApiSettings, MlflowSettings, Settings
from tests.api.conftest import live_server
from tests.api.registry import RealRegistry
from tests.threads import started_threads_end

DEADLINE_SECONDS = 120  # generous: the machine may be busy; nothing here asserts a duration
POLLER = "ordercast-registry"  # the server's registry poller thread


def settings_for(tracking_uri: str, folder: Path, poll_seconds: float) -> Settings:
    return Settings(
        mlflow=MlflowSettings(
            tracking_uri=tracking_uri,
            artifact_root=folder / "artifacts",
            lock_dir=folder / "locks",
        ),
        api=ApiSettings(poll_seconds=poll_seconds),
    )


def test_the_server_answers_health_while_the_registry_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A registry that takes connections and never answers (until the socket closes at the
    # end). A port nothing listened on, MLflow's client retried for minutes: the poller's
    # load outlived the test and held the process's switch interval low for the tests
    # after it. One try, at most 5 s, is hang enough here.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
    app = create_app(settings_for(uri, tmp_path, poll_seconds=3600), kinds=("demand",))
    with (
        started_threads_end(POLLER, DEADLINE_SECONDS),  # stopped, the server's poller ends
        silent,
        live_server(app) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        assert http.get("/health").json() == {"status": "ok"}
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["ready"] is False and ready.json()["waiting_for"] == ["demand"]
        assert uri in ready.json()["errors"]["demand"]
        forecast = http.post("/v1/forecasts/demand", json={"level": "total", "horizon": 1})
        assert forecast.status_code == 503
        assert uri in forecast.json()["message"]


def test_ready_recovers_by_itself_when_the_store_appears(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    database = folder / "mlflow.db"
    settings = settings_for(f"sqlite:///{database}", folder, poll_seconds=0.2)
    app = create_app(settings, kinds=("demand",))
    with (
        started_threads_end(POLLER, DEADLINE_SECONDS),
        live_server(app) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        assert http.get("/health").status_code == 200
        deadline = time.monotonic() + DEADLINE_SECONDS
        body = http.get("/ready").json()
        while "does not exist" not in body["errors"].get("demand", ""):
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
            body = http.get("/ready").json()
        assert str(database) in body["errors"]["demand"] and body["ready"] is False

        store = RealRegistry(folder)  # the store the operator restores or trains
        store.promote("demand", store.register_demand(1.0))

        ready = http.get("/ready")
        while ready.status_code != 200:
            assert time.monotonic() < deadline, ready.json()
            time.sleep(0.1)
            ready = http.get("/ready")
        assert ready.json()["models"] == {"demand": "1"} and ready.json()["errors"] == {}
        forecast = http.post("/v1/forecasts/demand", json={"level": "total", "horizon": 1})
        assert forecast.status_code == 200 and forecast.json()["model_version"] == "1"
