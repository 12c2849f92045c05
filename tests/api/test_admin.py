"""POST /v1/admin/reload."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_KEY, READ_KEY
from tests.api.fakes import FakeLoader


def test_reload_picks_up_a_new_champion(client: TestClient, loader: FakeLoader) -> None:
    request = {"level": "total", "horizon": 1}
    first = client.post("/v1/forecasts/demand", json=request).json()
    assert client.post("/v1/forecasts/demand", json=request).json() == first  # served again
    assert first["model_version"] == "1" and first["points"][0]["mean"] == 91.0
    loader.version = "2"
    response = client.post("/v1/admin/reload")
    assert response.status_code == 200
    assert response.json()["models"] == {"demand": "2", "capacity": "2", "risk": "2"}
    forecast = client.post("/v1/forecasts/demand", json=request).json()
    # v1's stored answer is not reused for v2 (total: series 9, mean = 90 + step + version).
    assert forecast["model_version"] == "2" and forecast["points"][0]["mean"] == 92.0


def test_reload_without_change_keeps_the_loaded_objects(
    client: TestClient, loader: FakeLoader
) -> None:
    before = client.app.state.store.snapshot.models["demand"]
    client.post("/v1/admin/reload")
    assert client.app.state.store.snapshot.models["demand"] is before


def test_reload_reports_a_failed_load(client: TestClient, loader: FakeLoader) -> None:
    loader.version = "2"
    loader.fail["demand"] = OSError("artifact store unreachable")
    body = client.post("/v1/admin/reload").json()
    assert body["errors"] == {"demand": "OSError: artifact store unreachable"}
    assert body["models"]["demand"] == "1" and body["models"]["risk"] == "2"


def test_reload_needs_the_admin_role(keyed_client: TestClient) -> None:
    assert keyed_client.post("/v1/admin/reload").status_code == 401
    forbidden = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": READ_KEY})
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    allowed = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY})
    assert allowed.status_code == 200 and allowed.json()["ready"] is True
