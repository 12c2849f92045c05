"""POST /v1/orders/promise over HTTP with a trained at-risk model: quotes at the target,
the same as the core gives, independent of the batch; every bad input a 4xx naming the
field, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from api.main import create_app
from api.routes.promise import MAX_CANDIDATES
from forecasting.risk.promise import quote_promise
from tests.api.conftest import READ_KEY, live_server, settings_with
from tests.api.fakes import order_lines
from tests.api.test_risk_attributes import OneModel, json_lines, trained  # noqa: F401
from tests.api.test_schemathesis import valid_requests_refused_only_by_the_model

PROMISE = "/v1/orders/promise"
DAYS = 40


@pytest.fixture(scope="module")
def new_lines(trained: tuple[Path, pd.DataFrame, str]) -> list[dict[str, Any]]:  # noqa: F811
    """Twelve lines as a client sends them, without promised or delivered dates."""
    open_lines = trained[1].head(12).drop(columns=["promised_date", "delivered_date", "ship_date"])
    return json_lines(open_lines)


@pytest.fixture(scope="module")
def app_url(trained: tuple[Path, pd.DataFrame, str]) -> Iterator[str]:  # noqa: F811
    """The app serving the trained model, over real HTTP (uvicorn on loopback)."""
    model = joblib.load(trained[0])
    app = create_app(settings_with(), loader=OneModel(model), kinds=("risk",), poll=False)
    with live_server(app) as url:
        yield url


def post(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + PROMISE, json=body, timeout=60)


def test_quotes_reach_the_target_and_match_the_core(
    app_url: str,
    new_lines: list[dict[str, Any]],
    trained: tuple[Path, pd.DataFrame, str],  # noqa: F811
) -> None:
    as_of = trained[2]
    body = {"target": 0.8, "as_of": as_of, "max_days": DAYS, "lines": new_lines}
    response = post(app_url, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_version"] == "1"
    lines = answer["lines"]
    assert [line["line_id"] for line in lines] == [line["line_id"] for line in new_lines]
    for line in lines:
        curve = [point["p_on_time"] for point in line["curve"]]
        assert len(curve) == DAYS
        assert np.all(np.diff(curve) >= 0)
        assert line["quoted_from"] == as_of
        if line["quoted_date"] is None:
            assert max(curve) < 0.8 and "reaches 80%" in line["note"]
        else:
            assert line["p_on_time"] >= 0.8
            first = next(p["date"] for p in line["curve"] if p["p_on_time"] >= 0.8)
            assert line["quoted_date"] == first
            assert line["reasons"], "a quoted line has the model's reasons"
    # The same quotes as the core gives on the same lines.
    frame = trained[1].head(12)
    direct = quote_promise(joblib.load(trained[0]), frame, 0.8, pd.Timestamp(as_of), DAYS)
    expected = [None if pd.isna(d) else f"{d:%Y-%m-%d}" for d in direct.quotes["quoted_date"]]
    assert [line["quoted_date"] for line in lines] == expected


def test_a_line_quotes_the_same_alone_and_in_the_batch(
    app_url: str, new_lines: list[dict[str, Any]]
) -> None:
    together = post(app_url, {"target": 0.8, "max_days": DAYS, "lines": new_lines}).json()
    alone = post(app_url, {"target": 0.8, "max_days": DAYS, "lines": new_lines[5:6]}).json()
    assert alone["lines"][0]["quoted_date"] == together["lines"][5]["quoted_date"]
    assert alone["lines"][0]["curve"] == together["lines"][5]["curve"]


def test_a_site_the_model_has_no_history_of_gets_no_quote_nor_score(
    app_url: str,
    new_lines: list[dict[str, Any]],
    trained: tuple[Path, pd.DataFrame, str],  # noqa: F811
) -> None:
    # The boosters scored a line at a site nobody knows as a quiet site's: p_late 0.005,
    # band low, "no single factor stands out", beside 0.94 for the same line at a busy one.
    stranger = {**new_lines[5], "line_id": "stranger", "site": "SITE-NEW"}
    sent = [new_lines[4], stranger, new_lines[5]]
    body = {"target": 0.8, "max_days": DAYS, "lines": sent}
    response = post(app_url, body)
    assert response.status_code == 200, response.text
    lines = response.json()["lines"]
    assert [line["line_id"] for line in lines] == [line["line_id"] for line in sent]
    unknown = lines[1]
    assert unknown["quoted_date"] is None and unknown["p_on_time"] is None
    assert unknown["curve"] == [] and unknown["reasons"] == [] and unknown["actions"] == []
    assert "site 'SITE-NEW' is not in the model's history (it knows" in unknown["note"]
    # The other lines are quoted as without it.
    alone = post(app_url, {**body, "lines": [new_lines[4], new_lines[5]]}).json()["lines"]
    assert [lines[0], lines[2]] == alone

    at_risk = {**stranger, "promised_date": trained[2]}
    known = {**at_risk, "line_id": "known", "site": new_lines[5]["site"]}
    scored = httpx.post(
        app_url + "/v1/orders/at-risk",
        json={"as_of": trained[2], "orders": [at_risk, known]},
        timeout=60,
    )
    assert scored.status_code == 200, scored.text
    stranger_score, known_score = scored.json()["lines"]
    assert stranger_score["status"] == "unknown_site" and stranger_score["scored"] is False
    assert stranger_score["p_late"] is None and stranger_score["risk_band"] is None
    assert "site 'SITE-NEW' is not in the model's history" in stranger_score["unscored_reason"]
    assert known_score["status"] == "scored" and known_score["p_late"] is not None


@pytest.fixture(scope="module")
def client(trained: tuple[Path, pd.DataFrame, str]) -> Iterator[TestClient]:  # noqa: F811
    model = joblib.load(trained[0])
    settings = settings_with(api_keys=f"{READ_KEY}:read")
    app = create_app(settings, loader=OneModel(model), kinds=("risk",), poll=False)
    with TestClient(app, headers={"X-API-Key": READ_KEY}) as test_client:
        yield test_client


def bad(lines: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    return {"target": 0.9, "lines": lines} | changes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target": 0.3}, "target"),
        ({"target": 1.0}, "target"),
        ({"max_days": 400}, "max_days"),
        ({"max_days": 0}, "max_days"),
        ({"as_of": "yesterday"}, "as_of"),
    ],
)
def test_a_bad_setting_is_422_naming_it(
    client: TestClient, new_lines: list[dict[str, Any]], change: dict[str, Any], field: str
) -> None:
    response = client.post(PROMISE, json=bad(new_lines[:2], **change))
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == [field]


@pytest.mark.parametrize("missing", ["site", "order_date", "quantity"])
def test_a_line_without_a_required_field_is_422_naming_it(
    client: TestClient, new_lines: list[dict[str, Any]], missing: str
) -> None:
    lines = [dict(line) for line in new_lines[:3]]
    del lines[2][missing]
    response = client.post(PROMISE, json=bad(lines))
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == [f"lines.2.{missing}"]


def test_duplicate_lines_and_too_many_candidates_are_422(
    client: TestClient, new_lines: list[dict[str, Any]]
) -> None:
    twice = [new_lines[0], new_lines[1], new_lines[0]]
    response = client.post(PROMISE, json=bad(twice))
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "lines.2.line_id"

    many = [line | {"line_id": f"L{i}"} for i, line in enumerate(new_lines * 50)][:600]
    response = client.post(PROMISE, json=bad(many, max_days=366))
    assert response.status_code == 422, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == "lines"
    assert f"{MAX_CANDIDATES:,}" in detail["problem"]


def test_the_read_role_is_needed(client: TestClient, new_lines: list[dict[str, Any]]) -> None:
    response = client.post(PROMISE, json=bad(new_lines[:1]), headers={"X-API-Key": ""})
    assert response.status_code == 401


def test_a_served_model_that_cannot_quote_is_503_not_500() -> None:
    from tests.api.fakes import FakeLoader

    app = create_app(settings_with(), loader=FakeLoader("1"), poll=False)
    with TestClient(app) as fake:
        line = {k: v for k, v in order_lines(1)[0].items() if k != "promised_date"}
        response = fake.post(PROMISE, json=bad([line]))
    assert response.status_code == 503, response.text
    assert "cannot quote" in response.json()["message"]


@pytest.fixture(scope="module")
def promise_schema(trained: tuple[Path, pd.DataFrame, str]) -> Any:  # noqa: F811
    """The promise operation of the app's OpenAPI document, served by the trained model."""
    model = joblib.load(trained[0])
    settings = settings_with(api_keys=f"{READ_KEY}:read")
    app = create_app(settings, loader=OneModel(model), kinds=("risk",), poll=False)
    app.state.store.refresh()  # the ASGI transport skips the lifespan that loads it
    return schemathesis.openapi.from_asgi("/openapi.json", app).include(path=PROMISE)


def test_promise_conforms_to_its_openapi_document(promise_schema: Any) -> None:
    """As tests/api/test_schemathesis.py checks every other operation: no 5xx, responses in
    their schema, a schema-valid request refused only by the documented domain errors."""
    operation = promise_schema[PROMISE]["POST"]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers={"X-API-Key": READ_KEY},
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
            additional_checks=[valid_requests_refused_only_by_the_model],
        )

    conforms()
