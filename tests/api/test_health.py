"""GET /health and GET /ready."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import settings_with
from tests.api.fakes import LINE, FakeLoader


def test_health_is_alive(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_lists_every_kind_and_version(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["models"] == {"demand": "1", "capacity": "1", "risk": "1"}
    assert body["errors"] == {} and body["waiting_for"] == []


def test_ready_is_503_until_every_kind_loads() -> None:
    loader = FakeLoader("4")
    loader.fail["risk"] = LookupError("ordercast-risk has no 'champion' version in the registry")
    with TestClient(create_app(settings_with(), loader=loader, poll=False)) as client:
        response = client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["ready"] is False
        assert body["waiting_for"] == ["risk"]
        assert body["models"] == {"demand": "4", "capacity": "4"}
        assert "no 'champion' version" in body["errors"]["risk"]
        # The kinds that did load serve; the missing one answers 503 with the error body.
        assert client.post("/v1/forecasts/demand", json={"level": "total", "horizon": 1}).is_success
        missing = client.post("/v1/orders/at-risk", json={"as_of": "2024-03-04", "orders": [LINE]})
        assert missing.status_code == 503
        assert missing.json()["code"] == "not_ready"
        loader.fail.clear()
        assert client.post("/v1/admin/reload").json()["ready"] is True
        assert client.get("/ready").status_code == 200


def test_a_kind_not_loaded_answers_503_with_the_reason() -> None:
    loader = FakeLoader("1")
    loader.fail["capacity"] = OSError("artifact store unreachable")
    with TestClient(create_app(settings_with(), loader=loader, poll=False)) as client:
        response = client.post("/v1/forecasts/capacity", json={"sites": ["SITE-A"], "horizon": 1})
        assert response.status_code == 503
        body = response.json()
        assert body["code"] == "not_ready"
        assert "artifact store unreachable" in body["message"]


def test_ready_on_the_real_registry(real_client: TestClient) -> None:
    body = real_client.get("/ready").json()
    assert body["ready"] is True
    assert body["models"] == {"demand": "1", "capacity": "1", "risk": "1"}


def test_ready_keeps_load_errors_back_from_callers_without_a_key() -> None:
    from tests.api.conftest import ADMIN_KEY, READ_KEY

    loader = FakeLoader("2")
    loader.fail["risk"] = OSError("cannot open /srv/secret-store/mlflow.db on db.internal")
    settings = settings_with(api_keys=f"{READ_KEY}:read,{ADMIN_KEY}:admin")
    with TestClient(create_app(settings, loader=loader, poll=False)) as client:
        anonymous = client.get("/ready")
        assert anonymous.status_code == 503
        assert "secret-store" not in anonymous.text
        assert anonymous.json()["errors"]["risk"].startswith("failed to load")
        stranger = client.get("/ready", headers={"X-API-Key": "not-a-key"})
        assert "secret-store" not in stranger.text
        keyed = client.get("/ready", headers={"X-API-Key": READ_KEY}).json()
        assert "/srv/secret-store/mlflow.db" in keyed["errors"]["risk"]
