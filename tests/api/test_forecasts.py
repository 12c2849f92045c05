"""POST /v1/forecasts/demand and /v1/forecasts/capacity."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.fakes import FakeLoader

DEMAND = "/v1/forecasts/demand"
CAPACITY = "/v1/forecasts/capacity"


def test_demand_by_keys_returns_the_precomputed_path(client: TestClient) -> None:
    response = client.post(DEMAND, json={"sku": "SKU-1", "site": "SITE-A", "horizon": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["series_id"] == "SKU-1|SITE-A"
    assert body["level"] == "sku,site"
    assert body["keys"] == {"sku": "SKU-1", "site": "SITE-A"}
    assert body["model_version"] == "1"
    assert body["freq"] == "W-SUN"
    # fakes.demand_core: series 1, mean = 10 + step + offset (1), q = mean + 4 (q - 0.5)
    assert [p["ds"] for p in body["points"]] == ["2024-01-07", "2024-01-14", "2024-01-21"]
    assert [p["mean"] for p in body["points"]] == [11.0, 12.0, 13.0]
    assert body["points"][0]["quantiles"] == pytest.approx({"0.1": 9.4, "0.5": 11.0, "0.9": 12.6})


def test_quantiles_between_grid_points_are_interpolated_and_sorted(client: TestClient) -> None:
    response = client.post(
        DEMAND, json={"sku": "SKU-1", "site": "SITE-A", "horizon": 1, "quantiles": [0.6, 0.3]}
    )
    quantiles = response.json()["points"][0]["quantiles"]
    assert list(quantiles) == ["0.3", "0.6"]
    assert quantiles == pytest.approx({"0.3": 11.0 - 0.8, "0.6": 11.0 + 0.4})


@pytest.mark.parametrize(
    ("payload", "series_id", "level"),
    [
        ({"sku": "SKU-2"}, "SKU-2", "sku"),
        ({"site": "SITE-B"}, "SITE-B", "site"),
        ({"level": "total"}, "__total__", "total"),
        ({"level": "site", "site": "SITE-A"}, "SITE-A", "site"),
    ],
)
def test_roll_ups(client: TestClient, payload: dict, series_id: str, level: str) -> None:
    response = client.post(DEMAND, json={**payload, "horizon": 2})
    assert response.status_code == 200, response.text
    assert response.json()["series_id"] == series_id
    assert response.json()["level"] == level


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"sku": "SKU-404", "site": "SITE-A"}, "unknown sku 'SKU-404'"),
        ({"sku": "SKU-1", "site": "SITE-404"}, "unknown site 'SITE-404'"),
        ({"site": "SITE-404"}, "unknown site 'SITE-404'"),
    ],
)
def test_unknown_sku_or_site_is_404_naming_it(
    client: TestClient, payload: dict, named: str
) -> None:
    response = client.post(DEMAND, json={**payload, "horizon": 2})
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "unknown_series"
    assert named in body["message"]


def test_horizon_beyond_the_model_is_422_with_the_limit(client: TestClient) -> None:
    response = client.post(DEMAND, json={"sku": "SKU-1", "site": "SITE-A", "horizon": 7})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "horizon_out_of_range"
    assert body["details"] == {"max_horizon": 6}
    assert "1 to 6" in body["message"]


def test_a_level_without_its_keys_is_422(client: TestClient) -> None:
    response = client.post(DEMAND, json={"level": "sku", "horizon": 2})
    assert response.status_code == 422
    assert "needs sku" in response.json()["message"]


def test_a_level_with_keys_it_does_not_have_is_422(client: TestClient) -> None:
    payload = {"level": "site", "site": "SITE-A", "sku": "SKU-1", "horizon": 2}
    response = client.post(DEMAND, json=payload)
    assert response.status_code == 422
    assert "drop sku" in response.json()["message"]


def test_demand_end_to_end_from_the_registry(real_client: TestClient) -> None:
    """Champion v1 (offset 1) loaded by the MLflow loader from a real store."""
    response = real_client.post(DEMAND, json={"sku": "SKU-2", "site": "SITE-B", "horizon": 6})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1"
    # SKU-2|SITE-B is series 4: mean = 40 + step + 1
    assert [p["mean"] for p in body["points"]] == [41.0, 42.0, 43.0, 44.0, 45.0, 46.0]


def test_capacity_per_site_and_day(client: TestClient) -> None:
    response = client.post(CAPACITY, json={"sites": ["SITE-A", "SITE-B"], "horizon": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1"
    days = body["days"]
    assert len(days) == 6
    assert [d["site"] for d in days] == ["SITE-A"] * 3 + ["SITE-B"] * 3
    first = days[0]
    assert first["ds"] == "2024-01-01"
    assert first["available_p50"] == 90.0 and first["capacity"] == 100.0
    assert first["load_ratio"] == pytest.approx(0.9)
    assert first["available_p10"] <= first["available_p50"] <= first["available_p90"]
    assert days[3]["backlog_p50"] == 0.0 and days[5]["p_shortfall"] == pytest.approx(0.3)


def test_capacity_scenario_changes_capacity(client: TestClient) -> None:
    response = client.post(
        CAPACITY,
        json={"sites": ["SITE-B"], "horizon": 2, "scenario": {"capacity_factor": 0.5}},
    )
    days = response.json()["days"]
    assert [d["capacity"] for d in days] == [50.0, 50.0]
    assert [d["backlog_p50"] for d in days] == [50.0, 100.0]


def test_capacity_errors(client: TestClient) -> None:
    unknown = client.post(CAPACITY, json={"sites": ["SITE-A", "SITE-Z"], "horizon": 2})
    assert unknown.status_code == 404
    assert "unknown site 'SITE-Z'" in unknown.json()["message"]
    too_far = client.post(CAPACITY, json={"sites": ["SITE-A"], "horizon": 29})
    assert too_far.status_code == 422
    assert too_far.json()["details"] == {"max_horizon": 28}
    bad = client.post(
        CAPACITY, json={"sites": ["SITE-A"], "horizon": 2, "scenario": {"overtime": "lots"}}
    )
    assert bad.status_code == 422
    assert "overtime" in bad.json()["message"]


def test_capacity_end_to_end_from_the_registry(real_client: TestClient) -> None:
    response = real_client.post(CAPACITY, json={"sites": ["SITE-A"], "horizon": 4})
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "1"
    assert len(response.json()["days"]) == 4


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_as_such(client: TestClient, bad: str) -> None:
    quantile = b'{"sku": "SKU-1", "site": "SITE-A", "horizon": 2, "quantiles": [%s]}'
    response = client.post(
        DEMAND, content=quantile % bad.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "finite number" in response.json()["details"][0]["problem"]
    scenario = b'{"sites": ["SITE-A"], "horizon": 3, "scenario": {"capacity_change_pct": %s}}'
    response = client.post(
        "/v1/forecasts/capacity",
        content=scenario % bad.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "finite number" in response.text


def test_capacity_outlook_is_computed_once_per_question_and_version(
    client: TestClient, loader: FakeLoader
) -> None:
    core = client.app.state.store.snapshot.models["capacity"].core  # type: ignore[attr-defined]
    # The pages' figures (likely shortfalls) ask the model too, at start: count from after.
    assert client.app.state.web.wait_ready(60)  # type: ignore[attr-defined]
    before = core.predictions
    plain = {"sites": ["SITE-A"], "horizon": 3}
    first = client.post(CAPACITY, json=plain)
    again = client.post(CAPACITY, json=plain)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert core.predictions == before + 1

    what_if = {**plain, "scenario": {"capacity_factor": 0.5}}
    scenario = client.post(CAPACITY, json=what_if)
    assert scenario.json()["days"][0]["capacity"] == 50.0
    assert scenario.json()["plan_days"][0]["capacity"] == 100.0
    assert core.predictions == before + 3  # the scenario and the plan beside it
    assert client.post(CAPACITY, json=what_if).content == scenario.content
    assert core.predictions == before + 3

    loader.version = "2"
    assert client.post("/v1/admin/reload").status_code == 200
    swapped = client.post(CAPACITY, json=plain)
    assert swapped.json()["model_version"] == "2"  # not the old version's stored answer
