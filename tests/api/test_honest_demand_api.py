"""POST /v1/forecasts/demand answers what was asked, or says why not (#22 items 5, 10).

The real app over HTTP with the real serving model of ``tests.api.fakes`` (grid
0.05–0.95, levels sku,site / sku / site / total, no channel).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from forecasting.demand.base import quantile_column
from forecasting.demand.serving import build_serving_model
from tests.api.conftest import settings_with
from tests.api.fakes import with_demand

DEMAND = "/v1/forecasts/demand"
LEVELS = ["sku,site", "sku", "site", "total"]


@pytest.mark.parametrize(
    ("quantiles", "named"),
    [([0.001, 0.5], "0.001"), ([0.5, 0.97], "0.97"), ([0.01], "0.01")],
)
def test_a_quantile_outside_the_trained_grid_is_422_naming_the_grid(
    client: TestClient, quantiles: list[float], named: str
) -> None:
    response = client.post(DEMAND, json={"level": "total", "horizon": 2, "quantiles": quantiles})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_value"
    assert body["message"] == (
        f"quantile {named} is outside the trained grid 0.05–0.95; ask for quantiles in [0.05, 0.95]"
    )


def test_the_grid_ends_and_points_between_them_are_served(client: TestClient) -> None:
    payload = {"level": "total", "horizon": 1, "quantiles": [0.05, 0.3, 0.95]}
    response = client.post(DEMAND, json=payload)
    assert response.status_code == 200, response.text
    point = response.json()["points"][0]
    # fakes.demand_core: total is series 9, mean = 90 + offset 1; q = mean + 4 (q - 0.5)
    assert point["quantiles"] == pytest.approx({"0.05": 89.2, "0.3": 90.2, "0.95": 92.8})


def test_the_quantiles_field_documents_the_grid_and_interpolation(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["DemandRequest"]
    text = schema["properties"]["quantiles"]["description"]
    assert "trained grid" in text and "interpolated" in text and "0.05 to 0.95" in text


@pytest.mark.parametrize(
    "payload",
    [
        {"sku": "SKU-1", "site": "SITE-A", "channel": "web"},
        {"channel": "web"},
    ],
)
def test_a_channel_the_model_has_no_level_for_is_422_naming_the_levels(
    client: TestClient, payload: dict
) -> None:
    response = client.post(DEMAND, json={**payload, "horizon": 2})
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert "no forecasts by channel" in message
    assert "'sku,site', 'sku', 'site', 'total'" in message
    assert "drop channel" in message


def test_an_unknown_level_is_422_naming_the_levels(client: TestClient) -> None:
    response = client.post(DEMAND, json={"level": "region", "horizon": 2})
    assert response.status_code == 422
    assert response.json()["message"] == (
        "unknown level 'region': this demand model's levels are 'sku,site', 'sku', 'site', 'total'"
    )


def test_the_models_listing_advertises_the_demand_levels_and_grid(client: TestClient) -> None:
    kinds = {entry["kind"]: entry for entry in client.get("/v1/models").json()}
    assert kinds["demand"]["levels"] == LEVELS
    assert kinds["demand"]["quantile_grid"] == [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    assert kinds["capacity"]["levels"] is None


# ------------------------------------------------------------------ fallbacks

REASON = "too short to backtest a 4-period horizon (3 periods of history)"


def core_with_a_fallback() -> object:
    """Two site series: SITE-A chosen by backtest, SITE-B a window_average fallback."""
    grid = (0.1, 0.5, 0.9)
    rows = []
    for number, site in enumerate(("SITE-A", "SITE-B"), start=1):
        for step in range(4):
            mean = 10.0 * number + step
            row = {
                "series_id": f"site:{site}",
                "ds": pd.Timestamp("2024-01-07") + pd.Timedelta(weeks=step),
                "model": "ets (mint_shrink)" if site == "SITE-A" else "window_average",
                "mean": mean,
            }
            row.update({quantile_column(q): mean + (q - 0.5) for q in grid})
            rows.append(row)
    selection = pd.DataFrame(
        {
            "series_id": ["site:SITE-A", "site:SITE-B"],
            "model": ["ets", "window_average"],
            "fallback": [None, REASON],
        }
    )
    return build_serving_model(pd.DataFrame(rows), selection, [("site",)], "W-SUN", grid)


@pytest.fixture()
def fallback_client() -> Iterator[TestClient]:
    loader = with_demand(core_with_a_fallback(), "7")
    with TestClient(create_app(settings_with(), loader=loader, poll=False)) as test_client:
        yield test_client


def test_a_fallback_series_says_so_in_fallback_and_warnings(fallback_client: TestClient) -> None:
    response = fallback_client.post(DEMAND, json={"site": "SITE-B", "horizon": 4})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "window_average"
    assert body["fallback"] == REASON
    assert body["warnings"] == [
        "series SITE-B is forecast by window_average, a rule-based fallback, not by a model "
        f"chosen by backtest: {REASON}"
    ]


def test_a_backtested_series_has_no_fallback_and_shows_reconciliation(
    fallback_client: TestClient,
) -> None:
    body = fallback_client.post(DEMAND, json={"site": "SITE-A", "horizon": 2}).json()
    assert body["fallback"] is None and body["warnings"] == []
    assert body["model"] == "ets (mint_shrink)"
    assert body["level"] == "site" and body["keys"] == {"site": "SITE-A"}


def test_the_grid_of_another_model_is_the_one_named(fallback_client: TestClient) -> None:
    response = fallback_client.post(
        DEMAND, json={"site": "SITE-A", "horizon": 1, "quantiles": [0.05]}
    )
    assert response.status_code == 422
    assert "outside the trained grid 0.1–0.9" in response.json()["message"]
