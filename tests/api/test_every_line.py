"""POST /v1/orders/at-risk accounts for every line sent: scored, or with the reason why not."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.fakes import LINE

AT_RISK = "/v1/orders/at-risk"
AS_OF = "2025-03-10"


def line(line_id: str, **dates: str) -> dict:
    return {
        **LINE,
        "line_id": line_id,
        "order_date": "2025-03-01",
        "promised_date": "2025-03-14",
        **dates,
    }


def test_every_line_comes_back_in_order_with_a_reason_when_unscored(client: TestClient) -> None:
    sent = [
        line("delivered", order_date="2025-02-20", delivered_date="2025-03-02"),
        line("open"),
        line("later", order_date="2025-03-12", promised_date="2025-03-20"),
        line("promised-early", order_date="2025-01-05", promised_date="2025-01-01"),
        line("delivered-early", order_date="2025-03-05", delivered_date="2025-03-03"),
        line("delivered-on-as-of", delivered_date=AS_OF),
    ]
    response = client.post(AT_RISK, json={"as_of": AS_OF, "orders": sent})
    assert response.status_code == 200, response.text
    lines = response.json()["lines"]
    assert [r["line_id"] for r in lines] == [s["line_id"] for s in sent]
    by_id = {r["line_id"]: r for r in lines}

    for line_id in ("open", "delivered-on-as-of"):  # open at as_of: scored as before
        scored = by_id[line_id]
        assert scored["scored"] is True and scored["status"] == "scored"
        assert scored["unscored_reason"] is None
        assert scored["p_late"] == 0.2 and scored["risk_band"] == "medium"  # 4 days of slack

    expected = {
        "delivered": (
            "delivered_before_as_of",
            "already delivered on 2025-03-02, before as_of 2025-03-10",
        ),
        "later": ("ordered_after_as_of", "ordered 2025-03-12, after as_of 2025-03-10"),
        "promised-early": (
            "invalid_dates",
            "promised_date 2025-01-01 is before order_date 2025-01-05",
        ),
        "delivered-early": (
            "invalid_dates",
            "delivered_date 2025-03-03 is before order_date 2025-03-05",
        ),
    }
    for line_id, (status, reason) in expected.items():
        unscored = by_id[line_id]
        assert unscored["scored"] is False and unscored["status"] == status, unscored
        assert unscored["unscored_reason"].startswith(reason), unscored
        assert unscored["p_late"] is None and unscored["risk_band"] is None
        assert unscored["expected_delay_days"] is None and unscored["reason_1"] is None


def test_a_batch_with_nothing_open_answers_every_line_unscored(client: TestClient) -> None:
    sent = [
        line("delivered", delivered_date="2025-03-02"),
        line("later", order_date="2025-03-12", promised_date="2025-03-20"),
    ]
    response = client.post(AT_RISK, json={"as_of": AS_OF, "orders": sent})
    assert response.status_code == 200, response.text
    lines = response.json()["lines"]
    assert [(r["line_id"], r["scored"]) for r in lines] == [("delivered", False), ("later", False)]


def test_every_broken_date_rule_of_a_line_is_named(client: TestClient) -> None:
    sent = [
        line(
            "both",
            order_date="2025-03-05",
            promised_date="2025-03-01",
            ship_date="2025-03-04",
            delivered_date="2025-03-06",
        )
    ]
    response = client.post(AT_RISK, json={"as_of": AS_OF, "orders": sent})
    reason = response.json()["lines"][0]["unscored_reason"]
    assert "promised_date 2025-03-01 is before order_date 2025-03-05" in reason
    assert "ship_date 2025-03-04 is before order_date 2025-03-05" in reason
    assert "fix the dates" in reason


def test_the_response_schema_documents_unscored_lines(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["LineRisk"]
    assert {"scored", "status", "unscored_reason"} <= set(schema["properties"])
    assert "invalid_dates" in schema["properties"]["status"]["enum"]
