"""GET /v1/models: champion and challenger per kind, from the real registry."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_models_lists_each_kind_with_its_champion(client: TestClient) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    kinds = {entry["kind"]: entry for entry in response.json()}
    assert set(kinds) == {"demand", "capacity", "risk"}
    demand = kinds["demand"]
    assert demand["serving"] == "1" and demand["max_horizon"] == 6
    assert demand["champion"]["data"]["data.last_date"] == "2024-01-01"
    assert demand["champion"]["scores"] == {"score": 0.5}


def test_models_from_the_registry_show_champion_and_challenger(real_client: TestClient) -> None:
    kinds = {entry["kind"]: entry for entry in real_client.get("/v1/models").json()}
    demand = kinds["demand"]
    assert demand["serving"] == "1"
    assert demand["champion"]["version"] == "1"
    assert demand["challenger"]["version"] == "2"
    # Trained when, on what data, how it scored: read from the registry and the run.
    assert demand["champion"]["trained_at"].startswith("20")
    assert demand["champion"]["data"]["data.rows"] == "1000"
    assert demand["champion"]["scores"]["score"] == 0.5
    assert demand["champion"]["run_id"]
    assert kinds["capacity"]["challenger"] is None
