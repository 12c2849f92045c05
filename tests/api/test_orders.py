"""POST /v1/orders/at-risk: batches of open order lines."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import settings_with
from tests.api.fakes import LINE, FakeLoader, FakeRisk, order_lines

AT_RISK = "/v1/orders/at-risk"


def test_scores_every_line_in_order(client: TestClient) -> None:
    lines = order_lines(12)
    response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": lines})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1" and body["as_of"] == "2024-03-04"
    assert [r["line_id"] for r in body["lines"]] == [line["line_id"] for line in lines]
    first, fifth = body["lines"][0], body["lines"][4]
    # FakeRisk: p_late = 1 / (1 + days of slack); promised 0 and 4 days after as_of.
    assert first["p_late"] == 1.0 and first["risk_band"] == "high"
    assert fifth["p_late"] == 0.2 and fifth["risk_band"] == "medium"
    assert first["promised_date"] == "2024-03-04"
    assert first["reason_1"] == "promise in under 2 days" and first["reason_3"] == "order size"


def test_optional_contract_fields_are_accepted(client: TestClient) -> None:
    line = {
        **LINE,
        "channel": "web",
        "customer": "C-9",
        "region": "north",
        "unit_price": 3.5,
        "ship_date": None,
        "delivered_date": None,
    }
    response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": [line]})
    assert response.status_code == 200, response.text


def test_a_full_batch_of_10000_lines(client: TestClient) -> None:
    response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": order_lines(10_000)})
    assert response.status_code == 200
    assert len(response.json()["lines"]) == 10_000


def test_over_the_configured_batch_limit_is_422() -> None:
    settings = settings_with(max_batch_lines=5)
    with TestClient(create_app(settings, loader=FakeLoader(), poll=False)) as client:
        response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": order_lines(6)})
    assert response.status_code == 422
    assert "the limit is 5" in response.json()["details"][0]["problem"]


def test_over_10000_lines_is_422_on_the_orders_field(client: TestClient) -> None:
    response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": order_lines(10_001)})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "orders"


def test_invalid_lines_name_their_position_and_field(client: TestClient) -> None:
    lines = order_lines(5)
    lines[3] = {**lines[3], "quantity": -2}
    del lines[1]["promised_date"]
    response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": lines})
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert fields == {"orders.3.quantity", "orders.1.promised_date"}


def test_duplicate_line_ids_are_422(client: TestClient) -> None:
    lines = order_lines(3)
    lines[2]["line_id"] = lines[0]["line_id"]
    response = client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": lines})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "orders.2.line_id"


def test_bad_as_of_is_422(client: TestClient) -> None:
    response = client.post(AT_RISK, json={"as_of": "04/03/2024", "orders": order_lines(1)})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "as_of"


def test_at_risk_end_to_end_from_the_registry(real_client: TestClient) -> None:
    response = real_client.post(AT_RISK, json={"as_of": "2024-03-04", "orders": order_lines(20)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1"
    assert len(body["lines"]) == 20
    assert all(0 <= r["p_late"] <= 1 for r in body["lines"])


def test_the_same_request_is_scored_once_per_loaded_version(
    client: TestClient, loader: FakeLoader
) -> None:
    def risk_core() -> FakeRisk:
        return client.app.state.store.snapshot.models["risk"].core  # type: ignore[attr-defined]

    request = {"as_of": "2024-03-04", "orders": order_lines(4)}
    first = client.post(AT_RISK, json=request)
    again = client.post(AT_RISK, json=request)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and risk_core().batches == 1
    # Anything that changes the answer is another question: as_of, a line, the actions flag.
    client.post(AT_RISK, json={**request, "as_of": "2024-03-05"})
    client.post(AT_RISK, json={**request, "actions": True})
    changed = [{**request["orders"][0], "quantity": 9}, *request["orders"][1:]]
    client.post(AT_RISK, json={**request, "orders": changed})
    assert risk_core().batches == 4
    # A new champion answers for itself: v1's stored answer is not served for v2.
    loader.version = "2"
    client.post("/v1/admin/reload")
    swapped = client.post(AT_RISK, json=request).json()
    assert swapped["model_version"] == "2" and risk_core().batches == 1
