"""A forecast weighed by the chance its item is still ordered says so (#20's obsolescence
weighing): the chance in `alive` of POST /v1/forecasts/demand and of the batch CSV, a
warning when it cuts the forecast by a fifth or more, and the demand page shows both.

The real app over HTTP with a real serving model whose selection frame is known.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from forecasting.demand.base import quantile_column
from forecasting.demand.serving import DemandServingModel, build_serving_model
from forecasting.queries import chance_text
from tests.api.conftest import settings_with
from tests.api.fakes import with_demand
from tests.web.test_warm_up import signed_in

DEMAND = "/v1/forecasts/demand"
GRID = (0.1, 0.5, 0.9)
# SITE-A: not weighed; SITE-B: weighed, likely still ordered; SITE-C: likely ended.
MODELS = {
    "SITE-A": ("imapa", None),
    "SITE-B": ("imapa_alive90", 0.93),
    "SITE-C": ("imapa_alive90", 0.31),
}


def weighed_core(with_alive: bool = True) -> DemandServingModel:
    rows = []
    for number, (site, (model, _)) in enumerate(MODELS.items(), start=1):
        for step in range(3):
            mean = float(number)
            row = {
                "series_id": f"site:{site}",
                "ds": pd.Timestamp("2024-01-07") + pd.Timedelta(weeks=step),
                "model": model,
                "mean": mean,
            }
            row.update({quantile_column(q): mean * 2 * q for q in GRID})
            rows.append(row)
    selection = pd.DataFrame(
        {
            "series_id": [f"site:{s}" for s in MODELS],
            "model": [m for m, _ in MODELS.values()],
            "fallback": [None] * len(MODELS),
        }
    )
    if with_alive:  # models trained before the column existed lack it
        selection["alive"] = [a for _, a in MODELS.values()]
    return build_serving_model(pd.DataFrame(rows), selection, [("site",)], "W-SUN", GRID)


def client_for(core: DemandServingModel) -> TestClient:
    return TestClient(create_app(settings_with(), loader=with_demand(core, "3"), poll=False))


@pytest.fixture()
def client() -> Iterator[TestClient]:
    with client_for(weighed_core()) as test_client:
        yield test_client


def test_an_item_likely_ended_gives_its_chance_and_a_warning(client: TestClient) -> None:
    response = client.post(DEMAND, json={"site": "SITE-C", "horizon": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "imapa_alive90"
    assert body["alive"] == pytest.approx(0.31)
    assert body["warnings"] == [
        "series SITE-C's model weighs its forecast by a 31% chance that it is still ordered "
        "at all, judged from how long it has gone without demand against how often it sold "
        "and how often items of its class stop selling; check that the item is still sold "
        "before publishing"
    ]


def test_a_small_cut_is_shown_without_a_warning_and_no_weighing_is_null(
    client: TestClient,
) -> None:
    likely = client.post(DEMAND, json={"site": "SITE-B", "horizon": 2}).json()
    assert likely["alive"] == pytest.approx(0.93) and likely["warnings"] == []
    plain = client.post(DEMAND, json={"site": "SITE-A", "horizon": 2}).json()
    assert plain["alive"] is None and plain["warnings"] == []


def test_a_model_trained_before_the_chance_was_kept_answers_null() -> None:
    with client_for(weighed_core(with_alive=False)) as old:
        body = old.post(DEMAND, json={"site": "SITE-C", "horizon": 1}).json()
    assert body["alive"] is None and body["warnings"] == []


def test_the_batch_csv_has_the_chance_per_row(client: TestClient) -> None:
    response = client.post(
        f"{DEMAND}/batch",
        params={"format": "csv"},
        json={"select": {"level": "site"}, "horizon": 2},
    )
    assert response.status_code == 200, response.text
    frame = pd.read_csv(io.StringIO(response.text))
    chance = frame.groupby("site")["alive"].first()
    assert chance["SITE-C"] == pytest.approx(0.31) and chance["SITE-B"] == pytest.approx(0.93)
    assert pd.isna(chance["SITE-A"])
    assert len(frame) == 3 * 2


def test_the_demand_page_shows_the_chance_and_the_warning(client: TestClient) -> None:
    signed_in(client)
    page = client.get("/web/demand", params={"level": "site", "series": "SITE-C"})
    assert page.status_code == 200, page.text
    assert '<strong id="series-alive">31%</strong>' in page.text
    assert "weighs its forecast by a 31% chance that it is still ordered" in page.text
    plain = client.get("/web/demand", params={"level": "site", "series": "SITE-A"})
    assert plain.status_code == 200 and 'id="series-alive"' not in plain.text


@pytest.mark.parametrize(
    ("chance", "text"),
    [(0.0003, "<1%"), (0.012, "1%"), (0.31, "31%"), (0.986, "99%"), (0.9996, ">99%")],
)
def test_a_chance_never_reads_as_certain(chance: float, text: str) -> None:
    assert chance_text(chance) == text
