"""Capacity what-if scenarios are one typed schema: finite bounded numbers, exact site
names the model knows, ISO dates and site names as one value or a list, and OpenAPI
examples that are answered 200. Served by a real (small, quickly fitted) capacity model,
so the scenario is applied by the production code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.model_store import LoadedModel, Served
from forecasting.capacity import CapacityForecaster
from forecasting.errors import ConfigError
from forecasting.queries import CapacityQuery, answer_capacity
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.api.conftest import settings_with

CAPACITY = "/v1/forecasts/capacity"
SHIFT = {"hours": 8, "units_per_hour": 60, "weekdays": ["Sat"]}
# The outlook of the models below runs from 2024-04-30 (the day after the last order).
FIRST, SECOND, THIRD = "2024-04-30", "2024-05-01", "2024-05-02"


def history(site_names: dict[str, str]) -> pd.DataFrame:
    orders = generate_orders(sites=len(site_names), skus=6, days=120, seed=3).orders
    orders["site"] = orders["site"].astype(str).map(site_names)
    return orders


def fitted(site_names: dict[str, str]) -> CapacityForecaster:
    model = CapacityForecaster(arrivals="bootstrap", n_paths=50, max_horizon=28)
    return model.fit(history(site_names))


def serving(core: CapacityForecaster) -> TestClient:
    def loader(kind: str, current: Served | None) -> Served:
        return current or LoadedModel(kind, "1", core)

    return TestClient(create_app(settings_with(), loader=loader, poll=False))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """A model with SITE-1, SITE-2 and SITE-12 (whose name contains SITE-1's)."""
    core = fitted({"SITE-1": "SITE-1", "SITE-2": "SITE-2", "SITE-3": "SITE-12"})
    with serving(core) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def two_sites() -> Iterator[TestClient]:
    """A model with SITE-1 and SITE-2 only."""
    with serving(fitted({"SITE-1": "SITE-1", "SITE-2": "SITE-2"})) as test_client:
        yield test_client


def outlook(
    client: TestClient, scenario: Any = None, sites: list[str] | None = None, horizon: int = 5
) -> dict:
    body: dict[str, Any] = {"sites": sites or ["SITE-1", "SITE-12"], "horizon": horizon}
    if scenario is not None:
        body["scenario"] = scenario
    response = client.post(CAPACITY, json=body)
    assert response.status_code == 200, response.text
    capacity: dict[str, dict[str, float]] = {}
    for day in response.json()["days"]:
        capacity.setdefault(day["site"], {})[day["ds"]] = day["capacity"]
    return capacity


def test_every_documented_example_is_answered_200(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    requests = list(schemas["CapacityRequest"]["examples"])
    scenarios = list(schemas["CapacityScenario"]["examples"])
    for name, field in schemas["CapacityScenario"]["properties"].items():
        scenarios += [{name: example} for example in field.get("examples", [])]
    requests += [{"sites": ["SITE-1", "SITE-2"], "horizon": 7, "scenario": s} for s in scenarios]
    assert len(requests) >= 8
    for request in requests:
        response = client.post(CAPACITY, json=request)
        assert response.status_code == 200, (request, response.text)


def test_the_openapi_example_capacity_factor_scales_capacity(client: TestClient) -> None:
    planned = outlook(client)
    more = outlook(client, {"capacity_factor": 1.2})
    assert more["SITE-1"][FIRST] == pytest.approx(planned["SITE-1"][FIRST] * 1.2)
    less = outlook(client, {"capacity_change_pct": -25})
    assert less["SITE-12"][FIRST] == pytest.approx(planned["SITE-12"][FIRST] * 0.75)


@pytest.mark.parametrize("field", ["capacity_change_pct", "capacity_factor"])
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422_naming_the_field(
    client: TestClient, field: str, bad: str
) -> None:
    scenario = json.dumps({"sites": ["SITE-1"], "horizon": 3, "scenario": {field: "BAD"}})
    body = scenario.replace('"BAD"', bad)  # JSON itself has no NaN: written by hand
    response = client.post(CAPACITY, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == f"scenario.{field}"
    assert "finite number" in detail["problem"]


def test_non_finite_extra_units_are_422(client: TestClient) -> None:
    scenario = {"extra_units": {FIRST: "BAD"}}
    body = json.dumps({"sites": ["SITE-1"], "horizon": 3, "scenario": scenario})
    body = body.replace('"BAD"', "NaN")
    response = client.post(CAPACITY, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == f"scenario.extra_units.{FIRST}"


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        ({"capacity_change_pct": -150}, "scenario.capacity_change_pct"),
        ({"capacity_factor": 1e12}, "scenario.capacity_factor"),
        ({"capacity_factor": True}, "scenario.capacity_factor"),
        ({"capacity_factor": "1.2"}, "scenario.capacity_factor"),
        ({"closures": "tomorrow"}, "scenario.closures.0"),
        ({"closures": [FIRST, "2024-13-01"]}, "scenario.closures.1"),
        ({"closures": 1714435200}, "scenario.closures.0"),
        ({"extra_units": {"soon": 5}}, "scenario.extra_units.soon.[key]"),
        ({"sites": []}, "scenario.sites"),
        ({"capacity_factr": 1.2}, "scenario.capacity_factr"),
        ({"extra_units": "lots"}, "scenario.extra_units"),
        ({"extra_units": True}, "scenario.extra_units"),
        ({"extra_units": [500]}, "scenario.extra_units"),
        ({"overtime_pct": 150}, "scenario.overtime_pct"),
        ({"overtime_pct": -5}, "scenario.overtime_pct"),
        ({"extra_shift": {**SHIFT, "hours": 0}}, "scenario.extra_shift.0.hours"),
        ({"extra_shift": {**SHIFT, "hours": 25}}, "scenario.extra_shift.0.hours"),
        (
            {"extra_shift": {**SHIFT, "units_per_hour": "60"}},
            "scenario.extra_shift.0.units_per_hour",
        ),
        ({"extra_shift": {**SHIFT, "weekdays": ["Sa"]}}, "scenario.extra_shift.0.weekdays.0"),
        ({"extra_shift": {**SHIFT, "weekdays": 5}}, "scenario.extra_shift.0.weekdays.0"),
        ({"extra_shift": {**SHIFT, "dates": ["soon"]}}, "scenario.extra_shift.0.dates.0"),
        ({"extra_shift": {**SHIFT, "rate": 1}}, "scenario.extra_shift.0.rate"),
        ({"extra_shift": [SHIFT, {"hours": 8}]}, "scenario.extra_shift.1.units_per_hour"),
    ],
)
def test_invalid_scenarios_are_422_naming_the_field(
    client: TestClient, scenario: dict, field: str
) -> None:
    response = client.post(CAPACITY, json={"sites": ["SITE-1"], "horizon": 3, "scenario": scenario})
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == field, response.text


def test_sites_match_exactly_never_by_substring(client: TestClient) -> None:
    planned = outlook(client)
    halved = outlook(client, {"capacity_factor": 0.5, "sites": "SITE-12"})
    assert halved["SITE-1"] == planned["SITE-1"]  # "SITE-1" is part of "SITE-12": untouched
    assert halved["SITE-12"][FIRST] == pytest.approx(planned["SITE-12"][FIRST] * 0.5)


def test_a_scenario_site_the_model_lacks_is_404_and_changes_nothing(
    two_sites: TestClient,
) -> None:
    body = {"sites": ["SITE-1"], "horizon": 3, "scenario": {"capacity_factor": 0.5}}
    for sites in ("SITE-12", ["SITE-12"], ["SITE-1", "SITE-12"]):
        response = two_sites.post(
            CAPACITY, json={**body, "scenario": {**body["scenario"], "sites": sites}}
        )
        assert response.status_code == 404, response.text
        message = response.json()["message"]
        assert "unknown site 'SITE-12' in scenario.sites" in message
        assert "SITE-1, SITE-2" in message


def test_a_factor_and_a_percentage_together_are_422(client: TestClient) -> None:
    both = {"capacity_factor": 1.2, "capacity_change_pct": 20}
    response = client.post(CAPACITY, json={"sites": ["SITE-1"], "horizon": 3, "scenario": both})
    assert response.status_code == 422, response.text
    assert "give capacity_factor or capacity_change_pct, not both" in response.json()["message"]


def test_a_scenario_site_the_request_does_not_forecast_is_422(client: TestClient) -> None:
    body = {
        "sites": ["SITE-1"],
        "horizon": 3,
        "scenario": {"capacity_factor": 0.5, "sites": "SITE-2"},
    }
    response = client.post(CAPACITY, json=body)
    assert response.status_code == 422, response.text
    assert (
        "scenario.sites names SITE-2, which the request does not forecast"
        in (response.json()["message"])
    )


def test_closures_and_sites_as_one_value_or_a_list(client: TestClient) -> None:
    planned = outlook(client)
    one = outlook(client, {"closures": SECOND, "sites": "SITE-1"})
    listed = outlook(client, {"closures": [SECOND], "sites": ["SITE-1"]})
    assert one == listed
    assert one["SITE-1"][SECOND] == 0.0 and one["SITE-1"][FIRST] == planned["SITE-1"][FIRST]
    assert one["SITE-12"] == planned["SITE-12"]
    two = outlook(client, {"closures": [SECOND, THIRD], "sites": ["SITE-1", "SITE-12"]})
    for site in ("SITE-1", "SITE-12"):
        assert two[site][SECOND] == two[site][THIRD] == 0.0
        assert two[site][FIRST] == planned[site][FIRST]


def test_extra_units_are_added_on_their_day(client: TestClient) -> None:
    planned = outlook(client)
    more = outlook(client, {"extra_units": {SECOND: 250}, "sites": "SITE-12"})
    assert more["SITE-12"][SECOND] == pytest.approx(planned["SITE-12"][SECOND] + 250)
    assert more["SITE-12"][FIRST] == planned["SITE-12"][FIRST]
    too_few = {"extra_units": {SECOND: -1e9}, "sites": "SITE-12"}
    response = client.post(CAPACITY, json={"sites": ["SITE-12"], "horizon": 3, "scenario": too_few})
    assert response.status_code == 422, response.text
    assert "SITE-12 with" in response.json()["message"] and SECOND in response.json()["message"]


def test_the_pyfunc_query_reads_a_json_scenario_the_same_way() -> None:
    # A pyfunc request row's scenario is JSON text, which Python reads NaN from.
    core = fitted({"SITE-1": "SITE-1", "SITE-2": "SITE-2"})
    nan = json.loads('{"capacity_change_pct": NaN}')
    with pytest.raises(ConfigError, match=r"scenario\.capacity_change_pct: .*finite number"):
        answer_capacity(core, CapacityQuery(3, sites=["SITE-1"], scenario=nan))
    one = answer_capacity(core, CapacityQuery(3, scenario={"closures": SECOND, "sites": "SITE-2"}))
    closed = one[(one["site"] == "SITE-2") & (one["ds"] == SECOND)]
    assert closed["capacity"].tolist() == [0.0]


def test_the_cli_reads_its_scenario_file_through_the_same_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "orders.csv"
    history({"SITE-1": "SITE-1"}).to_csv(data, index=False)
    scenario = tmp_path / "what-if.yaml"
    scenario.write_text("capacity_change_pct: .nan\n")
    argv = ["capacity", "forecast", "--data", str(data), "--horizon", "3"]
    argv += ["--out", str(tmp_path / "outlook.csv"), "--scenario", str(scenario)]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert "what-if.yaml" in error and "scenario.capacity_change_pct" in error
    assert "finite number" in error
    scenario.write_text("closures: 2024-05-01\nsites: SITE-12\n")
    assert main(argv) == 2
    assert "unknown site 'SITE-12' in scenario.sites" in capsys.readouterr().err


# A week of the outlook: Tuesday 2024-04-30 to Monday 2024-05-06 (Sunday closed).
WEEK = pd.date_range(FIRST, periods=7, freq="D")


def open_and_closed(planned: dict[str, float]) -> tuple[list[str], list[str]]:
    return [d for d, c in planned.items() if c > 0], [d for d, c in planned.items() if c == 0]


def test_a_plain_number_of_extra_units_is_that_much_on_every_open_day(client: TestClient) -> None:
    # It used to be "'float' object is not iterable".
    planned = outlook(client, horizon=7)
    more = outlook(client, {"extra_units": 500}, horizon=7)
    for site in ("SITE-1", "SITE-12"):
        opened, closed = open_and_closed(planned[site])
        assert opened and closed  # the week has both
        for day in opened:
            assert more[site][day] == pytest.approx(planned[site][day] + 500)
        assert all(more[site][day] == 0.0 for day in closed)


def test_a_wrong_type_of_extra_units_names_both_forms(client: TestClient) -> None:
    body = {"sites": ["SITE-1"], "horizon": 3, "scenario": {"extra_units": "lots"}}
    response = client.post(CAPACITY, json=body)
    assert response.status_code == 422
    problem = response.json()["details"][0]["problem"]
    assert '{"2025-02-12": 500}' in problem and "every open day" in problem


def test_overtime_is_a_percentage_on_open_days_on_top_of_a_change(client: TestClient) -> None:
    planned = outlook(client, horizon=7)
    overtime = outlook(client, {"overtime_pct": 10}, horizon=7)
    both = outlook(client, {"overtime_pct": 10, "capacity_change_pct": -20}, horizon=7)
    for site in ("SITE-1", "SITE-12"):
        for day, capacity in planned[site].items():
            assert overtime[site][day] == pytest.approx(capacity * 1.1)
            assert both[site][day] == pytest.approx(capacity * 0.8 * 1.1)


def test_an_extra_shift_by_weekday_adds_hours_times_rate_on_those_weekdays(
    client: TestClient,
) -> None:
    planned = outlook(client, horizon=7)
    saturday, sunday = f"{WEEK[4]:%Y-%m-%d}", f"{WEEK[5]:%Y-%m-%d}"
    shifted = outlook(client, {"extra_shift": SHIFT, "sites": "SITE-1"}, horizon=7)
    for day, capacity in planned["SITE-1"].items():
        assert shifted["SITE-1"][day] == pytest.approx(capacity + (480 if day == saturday else 0))
    assert shifted["SITE-12"] == planned["SITE-12"]
    # A Sunday shift opens the closed Sunday; "sunday" in any case.
    opened = outlook(client, {"extra_shift": {**SHIFT, "weekdays": "sunday"}}, horizon=7)
    assert planned["SITE-1"][sunday] == 0.0 and opened["SITE-1"][sunday] == 480.0


def test_an_extra_shift_without_days_works_every_open_day(client: TestClient) -> None:
    planned = outlook(client, horizon=7)
    shifted = outlook(client, {"extra_shift": {"hours": 2, "units_per_hour": 30}}, horizon=7)
    for site in ("SITE-1", "SITE-12"):
        for day, capacity in planned[site].items():
            assert shifted[site][day] == pytest.approx(capacity + 60 if capacity > 0 else 0.0)


def test_extra_shifts_by_date_and_a_list_of_them_add_up(client: TestClient) -> None:
    planned = outlook(client, horizon=7)
    by_date = {"hours": 4, "units_per_hour": 25, "dates": SECOND}
    shifted = outlook(client, {"extra_shift": [by_date, {**by_date, "dates": [SECOND, THIRD]}]})
    for site in ("SITE-1", "SITE-12"):
        assert shifted[site][FIRST] == planned[site][FIRST]
        assert shifted[site][SECOND] == pytest.approx(planned[site][SECOND] + 200)
        assert shifted[site][THIRD] == pytest.approx(planned[site][THIRD] + 100)


def test_every_form_together_in_the_documented_order(client: TestClient) -> None:
    planned = outlook(client, horizon=7)
    scenario = {
        "capacity_factor": 1.5,
        "overtime_pct": 20,
        "extra_units": {FIRST: 10},
        "extra_shift": {"hours": 2, "units_per_hour": 5, "dates": [FIRST, SECOND]},
        "closures": SECOND,
        "sites": "SITE-12",
    }
    changed = outlook(client, scenario, horizon=7)
    base = planned["SITE-12"]
    assert changed["SITE-12"][FIRST] == pytest.approx(base[FIRST] * 1.5 * 1.2 + 10 + 10)
    assert changed["SITE-12"][SECOND] == 0.0  # closures last
    assert changed["SITE-12"][THIRD] == pytest.approx(base[THIRD] * 1.5 * 1.2)
    assert changed["SITE-1"] == planned["SITE-1"]


def test_a_scenario_is_answered_beside_the_plan(client: TestClient) -> None:
    plain = {"sites": ["SITE-1", "SITE-12"], "horizon": 14}
    planned = client.post(CAPACITY, json=plain).json()
    assert set(planned) == {"model_version", "days"}  # no scenario: the answer as before
    what_if = {**plain, "scenario": {"capacity_factor": 10, "sites": "SITE-1"}}
    answer = client.post(CAPACITY, json=what_if).json()
    assert answer["plan_days"] == planned["days"]
    by_site = {row["site"]: row for row in answer["comparison"]}
    assert set(by_site) == {"SITE-1", "SITE-12"}
    for before, after in zip(answer["plan_days"], answer["days"], strict=True):
        assert (before["site"], before["ds"]) == (after["site"], after["ds"])
        assert before["arrivals_p50"] == after["arrivals_p50"]  # the same simulated arrivals
        if before["site"] == "SITE-12":
            assert before == after
    untouched, boosted = by_site["SITE-12"], by_site["SITE-1"]
    assert untouched["backlog_cleared"] == 0 and untouched["delay_days_saved"] == 0
    assert untouched["first_shortfall_free_plan"] == untouched["first_shortfall_free_scenario"]
    last = [d for d in answer["days"] if d["site"] == "SITE-1"][-1]
    last_plan = [d for d in answer["plan_days"] if d["site"] == "SITE-1"][-1]
    assert boosted["backlog_end_scenario"] == last["backlog_p50"]
    assert boosted["backlog_cleared"] == pytest.approx(
        last_plan["backlog_p50"] - last["backlog_p50"]
    )
    assert boosted["backlog_cleared"] >= 0 and boosted["delay_days_saved"] > 0
    assert boosted["shortfall_days_scenario"] <= boosted["shortfall_days_plan"]
    assert boosted["first_shortfall_free_scenario"] is not None
