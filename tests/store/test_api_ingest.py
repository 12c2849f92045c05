"""POST /v1/orders through the real app, on both backends: roles, limits, refusals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ordercast.settings import ApiSettings, DatabaseSettings, Settings
from store.database import OrderStore
from store.orders import count_lines, read_orders
from tests.api.fakes import FakeLoader

READ, WRITE, ADMIN = "reader-key-1", "writer-key-2", "admin-key-3"
LIMIT = 5


def line(number: int, **changes: object) -> dict[str, object]:
    return {
        "order_id": f"O{number}",
        "line_id": f"O{number}-1",
        "sku": "SKU-1",
        "site": "SITE-1",
        "order_date": "2024-03-01",
        "promised_date": "2024-03-05",
        "quantity": 2,
        **changes,
    }


@pytest.fixture()
def client(store_url: str) -> Iterator[TestClient]:
    settings = Settings(
        api=ApiSettings(api_keys=f"{READ}:read,{WRITE}:write,{ADMIN}:admin", max_batch_lines=LIMIT),
        database=DatabaseSettings(url=store_url),
    )
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as test_client:
        yield test_client


def post(client: TestClient, key: str, lines: list, **extra: object):  # type: ignore[no-untyped-def]
    return client.post("/v1/orders", json={"lines": lines, **extra}, headers={"X-API-Key": key})


def test_write_and_admin_keys_push_lines_a_read_key_may_not(
    client: TestClient, store_url: str
) -> None:
    assert post(client, READ, [line(1)]).status_code == 403
    assert client.post("/v1/orders", json={"lines": [line(1)]}).status_code == 401

    first = post(client, WRITE, [line(1), line(2)])
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["new"], body["updated"], body["unchanged"], body["rejected"]) == (2, 0, 0, 0)
    assert body["batch_id"] is not None and body["first_rejected"] == []

    delivered = post(client, ADMIN, [line(1, delivered_date="2024-03-04"), line(2)])
    assert delivered.status_code == 200
    assert (delivered.json()["updated"], delivered.json()["unchanged"]) == (1, 1)

    store = OrderStore.open(store_url)
    try:
        back = read_orders(store).set_index("line_id")
        assert str(back.loc["O1-1", "delivered_date"].date()) == "2024-03-04"
    finally:
        store.dispose()


def test_a_bad_line_refuses_the_batch_with_422_unless_dropping(
    client: TestClient, store_url: str
) -> None:
    bad = line(2, promised_date="2024-02-01")
    refused = post(client, WRITE, [line(1), bad])
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "batch_refused"
    assert body["details"]["refused"] is True
    assert body["details"]["first_rejected"][0]["line"] == 2
    assert "promised_date" in body["details"]["first_rejected"][0]["column"]

    dropped = post(client, WRITE, [line(1), bad], invalid_rows="drop")
    assert dropped.status_code == 200
    assert (dropped.json()["new"], dropped.json()["rejected"]) == (1, 1)
    store = OrderStore.open(store_url)
    try:
        assert count_lines(store) == 1
    finally:
        store.dispose()


def test_too_many_lines_or_a_malformed_body_never_reach_the_store(client: TestClient) -> None:
    over = post(client, WRITE, [line(n) for n in range(LIMIT + 1)])
    assert over.status_code == 413
    assert f"the limit is {LIMIT}" in over.json()["message"]
    assert post(client, WRITE, []).status_code == 422
    nested = post(client, WRITE, [{"order_id": {"nested": 1}}])
    assert nested.status_code == 422
    assert client.post("/v1/orders", content=b"{", headers={"X-API-Key": WRITE}).status_code in (
        400,
        422,
    )
