"""The SQLite registry deleted or moved under a running server (#16 item 2).

The server must notice at its next reload: ``/ready`` goes 503 with the reason while the
loaded champion keeps answering, and once a store is back at the same path (restored from
a backup, or moved back) the next reload reads that file, not the one it had open.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from api.main import create_app
from tests.api.registry import RealRegistry
from training import registry

FORECAST = {"sku": "SKU-1", "site": "SITE-A", "horizon": 2}


def two_versions(folder: Path) -> RealRegistry:
    """A store under ``folder``: demand v1 champion (offset 1), v2 challenger (offset 2)."""
    store = RealRegistry(folder)
    store.promote("demand", store.register_demand(1.0))
    store.challenger("demand", store.register_demand(2.0))
    return store


def served_version(client: TestClient) -> str:
    response = client.post("/v1/forecasts/demand", json=FORECAST)
    assert response.status_code == 200, response.text
    return str(response.json()["model_version"])


def assert_store_gone(client: TestClient, database: Path) -> None:
    """The reload and /ready say the store is gone; the loaded v1 keeps answering."""
    reload = client.post("/v1/admin/reload")
    assert reload.status_code == 503, reload.text
    assert reload.json()["ready"] is False
    assert "no longer exists" in reload.json()["errors"]["demand"]
    assert str(database) in reload.json()["errors"]["demand"]
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["errors"] == reload.json()["errors"]
    assert ready.json()["models"] == {"demand": "1"}
    assert served_version(client) == "1"


def test_a_deleted_store_fails_the_reload_and_a_restored_one_is_read(tmp_path: Path) -> None:
    store = two_versions(tmp_path / "store")
    database = tmp_path / "store" / "mlflow.db"
    # A backup taken now, in which an operator later promoted v2: restoring it must serve v2.
    backup = tmp_path / "backup"
    shutil.copytree(tmp_path / "store", backup)
    backup_uri = f"sqlite:///{backup / 'mlflow.db'}"
    registry.promote(MlflowClient(backup_uri, backup_uri), "ordercast-demand", "2")

    app = create_app(store.settings, kinds=("demand",), poll=False)
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        assert served_version(client) == "1"

        shutil.rmtree(tmp_path / "store")
        assert_store_gone(client, database)

        shutil.copytree(backup, tmp_path / "store")  # same path, new files
        reload = client.post("/v1/admin/reload")
        assert reload.status_code == 200, reload.text
        assert reload.json()["models"] == {"demand": "2"} and reload.json()["errors"] == {}
        assert client.get("/ready").status_code == 200
        assert served_version(client) == "2"


def test_a_moved_store_fails_the_reload_and_is_read_again_when_back(tmp_path: Path) -> None:
    store = two_versions(tmp_path / "store")
    database = tmp_path / "store" / "mlflow.db"
    app = create_app(store.settings, kinds=("demand",), poll=False)
    with TestClient(app) as client:
        assert served_version(client) == "1"

        shutil.move(tmp_path / "store", tmp_path / "elsewhere")
        assert_store_gone(client, database)

        shutil.move(tmp_path / "elsewhere", tmp_path / "store")
        store.promote("demand", "2")
        reload = client.post("/v1/admin/reload")
        assert reload.status_code == 200, reload.text
        assert reload.json()["models"] == {"demand": "2"} and reload.json()["errors"] == {}
        assert served_version(client) == "2"
