"""GET /v1/accuracy and the drift flag on /v1/models, from the real app over a SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ordercast.settings import (
    AccuracySettings,
    ApiSettings,
    DatabaseSettings,
    DemandSettings,
    Settings,
)
from tests.accuracy.stores import fill, store_url
from tests.api.fakes import FakeLoader

READ_KEY, WRITE_KEY = "reader-secret-1", "writer-secret-3"
Client = Callable[..., TestClient]


@pytest.fixture()
def app_over(tmp_path: Path) -> Iterator[Client]:
    """Builds the app over a store at ``tmp_path`` (filled as asked), as the example needs:
    one level (sku, site), weekly, lags 1 to 3; nothing kept between requests."""
    clients: list[TestClient] = []

    def build(orders: bool = True, publications: bool = True, **accuracy: object) -> TestClient:
        url = store_url(tmp_path)
        fill(url, orders=orders, publications=publications)
        settings = Settings(
            api=ApiSettings(api_keys=f"{READ_KEY}:read,{WRITE_KEY}:write", poll_seconds=0),
            database=DatabaseSettings(url=url),
            demand=DemandSettings(freq="W-SUN", levels=[["sku", "site"]]),
            accuracy=AccuracySettings(lags=[1, 2, 3], **accuracy),
        )
        client = TestClient(create_app(settings, loader=FakeLoader("1"), poll=False))
        client.headers["X-API-Key"] = READ_KEY
        clients.append(client.__enter__())
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def test_accuracy_by_lag_gives_the_hand_computed_figures(app_over: Client) -> None:
    response = app_over().get("/v1/accuracy")
    assert response.status_code == 200
    body = response.json()
    assert (body["by"], body["published"], body["scored"]) == (["lag"], 9, 8)
    rows = {row["lag"]: row for row in body["rows"]}
    assert set(rows) == {1, 2}  # lag 3's only period is not complete
    assert rows[1]["n"] == 4
    assert rows[1]["wape"] == pytest.approx(4 / 29)
    assert rows[1]["expected_wape"] == pytest.approx((0.1 * 13 + 0.3 * 16) / 29)
    assert rows[1]["bias"] == pytest.approx(2 / 29)
    assert rows[1]["coverage80"] == pytest.approx(3 / 4)
    assert rows[2]["wape"] == pytest.approx(13 / 30)
    assert rows[2]["level"] is None  # not grouped by level
    drift = {flag["lag"]: flag for flag in body["drift"]}
    assert drift[3] == {
        "lag": 3,
        "n": 0,
        "periods": 0,
        "window_start": "2024-01-21",
        "window_end": "2024-02-11",
        "observed_wape": None,
        "expected_wape": None,
        "threshold": None,
        "drift": False,
        "status": "too few rows",
    }


def test_accuracy_by_several_dimensions_and_since(app_over: Client) -> None:
    client = app_over()
    body = client.get("/v1/accuracy", params={"by": "level,lag,model,site"}).json()
    keys = [(r["level"], r["lag"], r["model"], r["site"]) for r in body["rows"]]
    assert keys == [
        ("sku,site", 1, "croston", "S2"),
        ("sku,site", 1, "ets", "S1"),
        ("sku,site", 2, "croston", "S2"),
        ("sku,site", 2, "ets", "S1"),
    ]
    since = client.get("/v1/accuracy", params={"since": "2024-02-05", "by": "origin"}).json()
    assert [(r["origin"], r["n"]) for r in since["rows"]] == [("2024-01-28", 2)]


def test_drift_shows_in_accuracy_and_on_the_demand_model(app_over: Client) -> None:
    client = app_over(drift_periods=2, drift_min_rows=2)
    assert client.get("/v1/accuracy").json()["drifting_lags"] == [2]
    kinds = {entry["kind"]: entry for entry in client.get("/v1/models").json()}
    assert kinds["demand"]["drift"] == {"flag": True, "lags": [2], "note": None}
    assert kinds["capacity"]["drift"] is None


def test_no_drift_when_within_the_margin(app_over: Client) -> None:
    client = app_over(drift_periods=2, drift_min_rows=2, drift_margin=1.5)
    demand = next(e for e in client.get("/v1/models").json() if e["kind"] == "demand")
    assert demand["drift"] == {"flag": False, "lags": [], "note": None}


def test_unknown_dimension_is_422_naming_the_known_ones(app_over: Client) -> None:
    response = app_over().get("/v1/accuracy", params={"by": "lag,sku"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_value"
    assert "unknown accuracy dimension(s) 'sku'" in response.json()["message"]
    assert "level, lag, model, site" in response.json()["message"]


def test_nothing_published_is_404_saying_what_publishes(app_over: Client) -> None:
    client = app_over(publications=False)
    response = client.get("/v1/accuracy")
    assert response.status_code == 404
    assert "nothing has been published yet" in response.json()["message"]
    demand = next(e for e in client.get("/v1/models").json() if e["kind"] == "demand")
    assert demand["drift"]["flag"] is False and "no published forecast" in demand["drift"]["note"]


def test_accuracy_needs_a_read_key(app_over: Client) -> None:
    client = app_over()
    assert client.get("/v1/accuracy", headers={"X-API-Key": ""}).status_code == 401
    assert client.get("/v1/accuracy", headers={"X-API-Key": WRITE_KEY}).status_code == 403
