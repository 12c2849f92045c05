"""The service over HTTP: every endpoint, every error class, roles, reloads and swaps."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.model_store import LoadedModel, registry_loader
from forecasting.errors import ConfigError
from training.pipelines import demand


def a_series(client: TestClient) -> tuple[str, str]:
    core = client.app.state.store.snapshot.models["demand"].core
    sku, site = next(iter(core.paths["sku,site"])).split("|")
    return sku, site


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["models"] == {"demand": "1"}


def test_demand_forecast_with_intervals(client: TestClient) -> None:
    sku, site = a_series(client)
    response = client.post(
        "/v1/forecasts/demand",
        json={"sku": sku, "site": site, "horizon": 4, "quantiles": [0.9, 0.1, 0.5]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["series_id"] == f"{sku}|{site}"
    assert body["model_version"] == "1"
    assert len(body["points"]) == 4
    for point in body["points"]:
        q = point["quantiles"]
        assert list(q) == ["0.1", "0.5", "0.9"]
        assert q["0.1"] <= q["0.5"] <= q["0.9"]
    assert response.headers["X-Request-ID"]


@pytest.mark.parametrize("level", ["sku", "site", "total"])
def test_roll_ups_are_served(client: TestClient, level: str) -> None:
    sku, site = a_series(client)
    payload = {"sku": {"sku": sku}, "site": {"site": site}, "total": {"level": "total"}}[level]
    response = client.post("/v1/forecasts/demand", json={**payload, "horizon": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["level"] == level
    assert body["series_id"] == {"sku": sku, "site": site, "total": "__total__"}[level]


def test_unknown_sku_is_404_naming_it(client: TestClient) -> None:
    _, site = a_series(client)
    response = client.post(
        "/v1/forecasts/demand", json={"sku": "NO-SUCH-SKU", "site": site, "horizon": 2}
    )
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "unknown_series"
    assert "unknown sku 'NO-SUCH-SKU'" in body["message"]
    assert body["request_id"]


def test_horizon_beyond_the_model_is_422_with_the_limit(client: TestClient) -> None:
    sku, site = a_series(client)
    response = client.post("/v1/forecasts/demand", json={"sku": sku, "site": site, "horizon": 60})
    assert response.status_code == 422
    assert "1 to 6" in response.json()["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sku": "x", "site": "y"}, "horizon"),
        ({"sku": "x", "site": "y", "horizon": "soon"}, "horizon"),
        ({"sku": "x", "site": "y", "horizon": 2, "quantiles": [1.5]}, "quantiles.0"),
        ({"sku": "x", "site": "y", "horizon": 2, "colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_422_with_their_path(
    client: TestClient, payload: dict, field: str
) -> None:
    response = client.post("/v1/forecasts/demand", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert field in [d["field"] for d in body["details"]]


def test_malformed_json_and_oversized_bodies(client: TestClient) -> None:
    broken = client.post(
        "/v1/forecasts/demand", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    huge = client.post(
        "/v1/forecasts/demand",
        content=b"x" * 6_000_000,
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["code"] == "request_too_large"


def test_models_endpoint(client: TestClient) -> None:
    served = client.get("/v1/models").json()
    assert served[0]["kind"] == "demand" and served[0]["version"] == "1"
    assert served[0]["max_horizon"] == 6


def test_roles(keyed_client: TestClient) -> None:
    sku, site = a_series(keyed_client)
    body = {"sku": sku, "site": site, "horizon": 2}
    assert keyed_client.post("/v1/forecasts/demand", json=body).status_code == 401
    wrong = keyed_client.post("/v1/forecasts/demand", json=body, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401
    ok = keyed_client.post("/v1/forecasts/demand", json=body, headers={"X-API-Key": "reader-key"})
    assert ok.status_code == 200
    forbidden = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": "reader-key"})
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    reloaded = keyed_client.post("/v1/admin/reload", headers={"X-API-Key": "admin-key"})
    assert reloaded.status_code == 200 and reloaded.json()["ready"] is True


def test_refuses_a_public_address_without_keys(served) -> None:
    settings, _ = served
    public = settings.model_copy(
        update={"api": settings.api.model_copy(update={"host": "0.0.0.0"})}
    )
    with pytest.raises(
        ConfigError, match=r"no API keys configured: refusing to serve on 0\.0\.0\.0"
    ):
        create_app(public)


def test_a_failed_load_keeps_the_old_model_serving(served) -> None:
    settings, _ = served
    real = registry_loader(settings.mlflow.tracking_uri)
    calls = {"n": 0}

    def flaky(kind: str, version: str | None) -> LoadedModel | None:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("artifact store unreachable")
        return real(kind, version)

    with TestClient(create_app(settings, loader=flaky, poll=False)) as client:
        reload = client.post("/v1/admin/reload").json()
        assert reload["errors"]["demand"] == "OSError: artifact store unreachable"
        ready = client.get("/ready").json()
        assert ready["ready"] is True and ready["models"] == {"demand": "1"}
        assert "artifact store unreachable" in ready["errors"]["demand"]
        sku, site = a_series(client)
        ok = client.post("/v1/forecasts/demand", json={"sku": sku, "site": site, "horizon": 2})
        assert ok.status_code == 200 and ok.json()["model_version"] == "1"


def test_hot_swap_under_concurrent_requests(served) -> None:
    settings, data = served
    with TestClient(create_app(settings, poll=False)) as client:
        sku, site = a_series(client)
        body = {"sku": sku, "site": site, "horizon": 3}
        stop = threading.Event()
        seen: list[tuple[int, str | None]] = []

        def hammer() -> None:
            while not stop.is_set():
                r = client.post("/v1/forecasts/demand", json=body)
                seen.append((r.status_code, r.json().get("model_version")))

        with ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(hammer)
            outcome = demand.train(settings, data, force=True)  # v2 becomes champion
            client.post("/v1/admin/reload")
            after = client.post("/v1/forecasts/demand", json=body).json()["model_version"]
            stop.set()
    assert outcome.exit_code == 0 and after == outcome.version
    assert seen, "no request ran during the swap"
    assert all(code == 200 for code, _ in seen)
    assert {version for _, version in seen} <= {"1", outcome.version}
