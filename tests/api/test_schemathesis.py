"""Property tests over the OpenAPI document: no 5xx, no response outside its schema.

Schemathesis generates valid and invalid requests for every operation from the app's
own OpenAPI document and checks every response against it (status codes, content
type, body schema, auth, rejected invalid data). The app runs with the fake cores so
the examples stay fast.

One check is replaced, not dropped: a schema-valid request may still be refused by the
model (a horizon beyond this version's limit, an unknown level's keys, duplicate line
ids: facts the schema cannot state), so instead of "every valid request is 2xx" we
check that such refusals are the documented domain errors, never the schema layer's.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from api.main import create_app
from tests.api.conftest import ADMIN_KEY, READ_KEY, settings_with
from tests.api.fakes import FakeLoader

DOMAIN_REFUSALS = {
    "horizon_out_of_range",
    "invalid_orders",
    "invalid_value",
    "batch_refused",
    "invalid_adjustment",
}

app = create_app(
    settings_with(api_keys=f"{READ_KEY}:read,{ADMIN_KEY}:admin"), loader=FakeLoader(), poll=False
)
app.state.store.refresh()  # load the fake champions now (the ASGI transport skips lifespan)
# The fake risk core cannot quote promise dates (it is no AtRiskModel): that operation is
# checked the same way against a trained model in tests/api/test_promise.py.
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/orders/promise")


def valid_requests_refused_only_by_the_model(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """A schema-valid request gets 2xx, or 404/422 with a domain error code, or 409 when
    the state refuses it (an adjustment already revoked; these fake models cannot be
    adjusted)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code < 400:
        return
    code = response.json().get("code")
    assert response.status_code in (404, 409, 422), f"valid request got {response.status_code}"
    if response.status_code == 422:
        assert code in DOMAIN_REFUSALS, f"schema-valid request refused as {code}: {response.text}"


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"X-API-Key": ADMIN_KEY},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
        additional_checks=[valid_requests_refused_only_by_the_model],
    )


def test_every_endpoint_is_described_with_examples() -> None:
    document = app.openapi()
    operations = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]
    assert {path for path, _, _ in operations} >= {
        "/health",
        "/ready",
        "/v1/models",
        "/v1/forecasts/demand",
        "/v1/forecasts/capacity",
        "/v1/orders/at-risk",
        "/v1/admin/reload",
    }
    for path, method, op in operations:
        assert op.get("summary"), f"{method.upper()} {path} has no summary"
        if "requestBody" in op:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
            assert body.get("examples"), f"{method.upper()} {path}: request has no example"
            assert body.get("description"), f"{method.upper()} {path}: request undescribed"
    assert document["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
