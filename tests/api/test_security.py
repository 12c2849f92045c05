"""API keys and roles, key handling, the loopback rule, CORS."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import KeyRing
from forecasting.errors import ConfigError
from ordercast.settings import load_settings
from tests.api.conftest import ADMIN_KEY, READ_KEY, settings_with
from tests.api.fakes import FakeLoader

BODY = {"sku": "SKU-1", "site": "SITE-A", "horizon": 2}
READ_ENDPOINTS = [
    ("GET", "/v1/models", None),
    ("POST", "/v1/forecasts/demand", BODY),
    ("POST", "/v1/forecasts/capacity", {"sites": ["SITE-A"], "horizon": 1}),
    ("POST", "/v1/orders/at-risk", None),
]


@pytest.mark.parametrize(("method", "path", "body"), READ_ENDPOINTS)
def test_read_endpoints_need_a_key(
    keyed_client: TestClient, method: str, path: str, body: dict | None
) -> None:
    if path.endswith("at-risk"):
        from tests.api.fakes import order_lines

        body = {"as_of": "2024-03-04", "orders": order_lines(2)}
    missing = keyed_client.request(method, path, json=body)
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthorized"
    wrong = keyed_client.request(method, path, json=body, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401
    for key in (READ_KEY, ADMIN_KEY):  # admin may do what read may
        ok = keyed_client.request(method, path, json=body, headers={"X-API-Key": key})
        assert ok.status_code == 200, ok.text


def test_health_and_ready_need_no_key(keyed_client: TestClient) -> None:
    assert keyed_client.get("/health").status_code == 200
    assert keyed_client.get("/ready").status_code == 200


def test_keys_are_held_hashed() -> None:
    ring = KeyRing.parse(f"{READ_KEY}:read, {ADMIN_KEY}:admin")
    held = repr(ring)
    assert READ_KEY not in held and ADMIN_KEY not in held
    assert ring.role_of(READ_KEY) == "read" and ring.role_of(ADMIN_KEY) == "admin"
    assert ring.role_of(READ_KEY + "x") is None and ring.role_of("") is None


@pytest.mark.parametrize(
    ("spec", "entry"),
    [("secret1:owner", 1), (":read", 1), ("secret1:read,secret2:superuser", 2), ("secret1:", 1)],
)
def test_bad_key_specs_are_refused_without_echoing_keys(spec: str, entry: int) -> None:
    with pytest.raises(
        ConfigError, match="write key:role with role read, write or admin"
    ) as caught:
        KeyRing.parse(spec)
    assert f"entry #{entry}" in str(caught.value)
    assert "sec" not in str(caught.value)


def test_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERCAST_API_KEYS", "env-key:admin")
    settings = load_settings()
    with TestClient(create_app(settings, loader=FakeLoader(), poll=False)) as client:
        assert client.post("/v1/admin/reload").status_code == 401
        ok = client.post("/v1/admin/reload", headers={"X-API-Key": "env-key"})
        assert ok.status_code == 200


def test_keys_never_reach_the_logs(
    keyed_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        keyed_client.post("/v1/forecasts/demand", json=BODY, headers={"X-API-Key": READ_KEY})
        keyed_client.post("/v1/forecasts/demand", json=BODY, headers={"X-API-Key": "wrong-key"})
    assert any("/v1/forecasts/demand" in r.getMessage() for r in caplog.records)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert READ_KEY not in text and "wrong-key" not in text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_refuses_a_non_loopback_address_without_keys(host: str) -> None:
    with pytest.raises(ConfigError, match=f"refusing to serve on {host}"):
        create_app(settings_with(host=host), loader=FakeLoader(), poll=False)


def test_serves_a_public_address_when_keys_are_set() -> None:
    app = create_app(settings_with(host="0.0.0.0", api_keys="k:read"), loader=FakeLoader())
    assert app.state.keys.empty is False


def test_cors_is_off_by_default(client: TestClient) -> None:
    preflight = client.options(
        "/v1/forecasts/demand",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_for_configured_origins() -> None:
    settings = settings_with(cors_origins=["https://planner.example"])
    with TestClient(create_app(settings, loader=FakeLoader(), poll=False)) as client:
        preflight = client.options(
            "/v1/forecasts/demand",
            headers={
                "Origin": "https://planner.example",
                "Access-Control-Request-Method": "POST",
            },
        )
    assert preflight.headers["access-control-allow-origin"] == "https://planner.example"


def test_serve_refuses_a_public_address_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI exits 2 with the reason, before binding any port."""
    from ordercast.cli import main

    monkeypatch.delenv("ORDERCAST_API_KEYS", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
