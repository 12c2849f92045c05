"""POST /v1/forecasts/capacity/plan on a real (small, quickly fitted) capacity model: the
recommendation, re-run through POST /v1/forecasts/capacity as the scenario it gives, keeps
p_shortfall under the target; bad questions are 4xx naming what is wrong; the outlook's
roles apply."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.model_store import LoadedModel, Served
from forecasting.capacity import CapacityForecaster
from forecasting.capacity.plan import recommend_capacity
from forecasting.synthetic import generate_orders
from tests.api.conftest import READ_KEY, settings_with

PLAN, CAPACITY = "/v1/forecasts/capacity/plan", "/v1/forecasts/capacity"


@pytest.fixture(scope="module")
def core() -> CapacityForecaster:
    """SITE-1 with a backlog and likely shortfalls; SITE-2 with room to spare."""
    orders = generate_orders(sites=2, skus=6, days=120, seed=3).orders
    roomy = pd.DataFrame({"site": "SITE-2", "weekday": range(7), "capacity_units": 1e6})
    model = CapacityForecaster(arrivals="bootstrap", n_paths=200, max_horizon=28)
    return model.fit(orders, calendar=roomy)


def app_for(core: CapacityForecaster, **api: object) -> TestClient:
    def loader(kind: str, current: Served | None) -> Served:
        return current or LoadedModel(kind, "1", core)

    return TestClient(create_app(settings_with(**api), loader=loader, poll=False))


@pytest.fixture(scope="module")
def client(core: CapacityForecaster) -> Iterator[TestClient]:
    with app_for(core) as test_client:
        yield test_client


@pytest.mark.parametrize("grace", [0, 2])
def test_the_recommendation_rerun_as_its_scenario_meets_the_target(
    client: TestClient, core: CapacityForecaster, grace: int
) -> None:
    body = {"sites": ["SITE-1", "SITE-2"], "days": 21, "target": 0.2, "grace_days": grace}
    response = client.post(PLAN, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["days"], answer["target"], answer["model_version"]) == (21, 0.2, "1")
    short, roomy = answer["recommendations"]
    assert short["site"] == "SITE-1" and short["max_p_shortfall_plan"] >= 0.2
    assert short["extra_units_per_day"] > 0 and short["max_p_shortfall"] < 0.2
    expected = recommend_capacity(core, ["SITE-1"], 21, 0.2, grace_days=grace)[0]
    assert short["extra_units_per_day"] == expected.extra_units_per_day
    rerun = client.post(
        CAPACITY, json={"sites": ["SITE-1"], "horizon": 21, "scenario": short["scenario"]}
    )
    assert rerun.status_code == 200, rerun.text
    judged = [d for d in rerun.json()["days"][grace:] if d["capacity"] > 0]
    assert len(judged) == short["open_days"]
    assert max(d["p_shortfall"] for d in judged) < 0.2
    assert rerun.json()["comparison"][0]["backlog_cleared"] > 0
    assert roomy["site"] == "SITE-2" and roomy["extra_units_per_day"] == 0.0
    assert roomy["first_shortfall_plan"] is None and roomy["binding_days"] == []
    assert short["binding_days"] == [f"{d:%Y-%m-%d}" for d in expected.binding_days]
    assert short["binding_days"]


def test_a_shift_size_gives_the_answer_in_shifts(client: TestClient) -> None:
    body = {"sites": ["SITE-1"], "days": 14, "shift": {"hours": 8, "units_per_hour": 10}}
    (advice,) = client.post(PLAN, json=body).json()["recommendations"]
    assert advice["shifts_per_day"] == pytest.approx(advice["extra_units_per_day"] / 80)
    plain = client.post(PLAN, json={"sites": ["SITE-1"], "days": 14}).json()
    assert plain["recommendations"][0]["shifts_per_day"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target": 0}, "target"),
        ({"target": 1}, "target"),
        ({"target": 1.5}, "target"),
        ({"target": "0.2"}, "target"),
        ({"days": 0}, "days"),
        ({"days": True}, "days"),
        ({"sites": []}, "sites"),
        ({"grace_days": -1}, "grace_days"),
        ({"shift": {"hours": 0, "units_per_hour": 5}}, "shift.hours"),
        ({"shift": {"hours": 8}}, "shift.units_per_hour"),
        ({"horizon": 14}, "horizon"),
    ],
)
def test_bad_fields_are_422_naming_them(client: TestClient, change: dict, field: str) -> None:
    response = client.post(PLAN, json={"sites": ["SITE-1"], "days": 14, **change})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == field


def test_beyond_the_horizon_is_422_with_the_limit(client: TestClient) -> None:
    response = client.post(PLAN, json={"sites": ["SITE-1"], "days": 29})
    assert response.status_code == 422, response.text
    assert response.json()["details"] == {"max_horizon": 28}
    assert "1 to 28" in response.json()["message"]


def test_grace_days_must_leave_a_day_to_judge(client: TestClient) -> None:
    response = client.post(PLAN, json={"sites": ["SITE-1"], "days": 5, "grace_days": 5})
    assert response.status_code == 422, response.text
    assert "grace days 5 must be from 0 to 4" in response.json()["message"]


def test_an_unknown_site_is_404_naming_it(client: TestClient) -> None:
    response = client.post(PLAN, json={"sites": ["SITE-1", "SITE-9"], "days": 14})
    assert response.status_code == 404, response.text
    assert "'SITE-9'" in response.json()["message"]
    assert "SITE-1, SITE-2" in response.json()["message"]


def test_the_outlooks_roles_apply(core: CapacityForecaster) -> None:
    with app_for(core, api_keys=f"{READ_KEY}:read") as keyed:
        body = {"sites": ["SITE-2"], "days": 7}
        assert keyed.post(PLAN, json=body).status_code == 401
        assert keyed.post(PLAN, json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        answered = keyed.post(PLAN, json=body, headers={"X-API-Key": READ_KEY})
        assert answered.status_code == 200, answered.text


def test_the_plan_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths[PLAN]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for example in schemas["CapacityPlanRequest"]["examples"]:
        example = {**example, "sites": ["SITE-1", "SITE-2"][: len(example["sites"])]}
        assert client.post(PLAN, json=example).status_code == 200
