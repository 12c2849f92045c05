"""POST /v1/forecasts/demand/batch: many series in one call, the single endpoint's numbers,
JSON or CSV, bounded."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.model_store import LoadedModel, Served
from api.routes.forecast_batch import MAX_BATCH_POINTS, MAX_BATCH_SERIES
from forecasting.demand.serving import build_serving_model
from forecasting.quantiles import quantile_column
from tests.api.conftest import READ_KEY, settings_with

BATCH = "/v1/forecasts/demand/batch"
SINGLE = "/v1/forecasts/demand"


def batch(client: TestClient, body: dict[str, Any], **options: Any) -> Any:
    response = client.post(BATCH, json=body, **options)
    assert response.status_code == 200, response.text
    return response


def singles(client: TestClient, series: list[dict[str, str]], **fields: Any) -> list[dict]:
    answers = []
    for keys in series:
        response = client.post(SINGLE, json={**keys, **fields})
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


def test_series_by_keys_get_exactly_the_single_endpoints_answers(client: TestClient) -> None:
    series = [
        {"sku": "SKU-1", "site": "SITE-A"},
        {"sku": "SKU-2", "site": "SITE-B"},
        {"sku": "SKU-1"},
        {"site": "SITE-B"},
        {"level": "total"},
    ]
    fields = {"horizon": 4, "quantiles": [0.05, 0.3, 0.9]}
    body = batch(client, {"series": series, **fields}).json()
    assert body["model_version"] == "1"
    assert body["count"] == 5
    assert body["missing"] == []
    assert body["forecasts"] == singles(client, series, **fields)


def test_a_site_selector_lists_that_sites_skus_at_the_sku_site_level(client: TestClient) -> None:
    body = batch(client, {"select": {"site": "SITE-A"}, "horizon": 3}).json()
    assert [f["series_id"] for f in body["forecasts"]] == ["SKU-1|SITE-A", "SKU-2|SITE-A"]
    assert {f["level"] for f in body["forecasts"]} == {"sku,site"}
    expected = singles(
        client, [{"sku": "SKU-1", "site": "SITE-A"}, {"sku": "SKU-2", "site": "SITE-A"}], horizon=3
    )
    assert body["forecasts"] == expected


@pytest.mark.parametrize(
    ("select", "series_ids"),
    [
        ({"level": "sku"}, ["SKU-1", "SKU-2"]),
        ({"level": "site"}, ["SITE-A", "SITE-B"]),
        ({"level": "total"}, ["__total__"]),
        ({"level": "site", "site": "SITE-B"}, ["SITE-B"]),
        ({"sku": "SKU-2"}, ["SKU-2|SITE-A", "SKU-2|SITE-B"]),
        ({}, ["SKU-1|SITE-A", "SKU-1|SITE-B", "SKU-2|SITE-A", "SKU-2|SITE-B"]),
    ],
)
def test_selectors(client: TestClient, select: dict, series_ids: list[str]) -> None:
    body = batch(client, {"select": select, "horizon": 2}).json()
    assert [f["series_id"] for f in body["forecasts"]] == series_ids


def test_unknown_series_are_listed_in_missing(client: TestClient) -> None:
    series = [
        {"sku": "SKU-404", "site": "SITE-A"},
        {"sku": "SKU-1", "site": "SITE-A"},
        {"sku": "SKU-2", "site": "SITE-404"},
    ]
    response = batch(client, {"series": series, "horizon": 2})
    body = response.json()
    assert [f["series_id"] for f in body["forecasts"]] == ["SKU-1|SITE-A"]
    assert [m["series"] for m in body["missing"]] == [series[0], series[2]]
    assert "unknown sku 'SKU-404'" in body["missing"][0]["message"]
    assert "unknown site 'SITE-404'" in body["missing"][1]["message"]
    assert response.headers["x-missing-series"] == "2"


@pytest.mark.parametrize("keys", [{"level": "region"}, {"level": "site", "sku": "SKU-1"}])
def test_a_request_the_single_endpoint_refuses_refuses_the_batch_alike(
    client: TestClient, keys: dict
) -> None:
    single = client.post(SINGLE, json={**keys, "horizon": 2})
    assert single.status_code in (404, 422)
    series = [{"sku": "SKU-1", "site": "SITE-A"}, keys]
    response = client.post(BATCH, json={"series": series, "horizon": 2})
    assert response.status_code == single.status_code
    assert response.json()["code"] == single.json()["code"]
    assert response.json()["message"] == single.json()["message"]


def test_a_selector_with_an_unknown_level_is_refused_as_the_single_endpoint_does(
    client: TestClient,
) -> None:
    single = client.post(SINGLE, json={"level": "region", "horizon": 2})
    response = client.post(BATCH, json={"select": {"level": "region"}, "horizon": 2})
    assert (response.status_code, response.json()["message"]) == (
        single.status_code,
        single.json()["message"],
    )


def test_404_when_no_series_is_known(client: TestClient) -> None:
    response = client.post(BATCH, json={"series": [{"sku": "SKU-404"}], "horizon": 2})
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_series"
    assert "SKU-404" in response.json()["message"]
    response = client.post(BATCH, json={"select": {"site": "SITE-404"}, "horizon": 2})
    assert response.status_code == 404
    assert "SITE-404" in response.json()["message"]


def test_a_series_named_twice_is_answered_once(client: TestClient) -> None:
    series = [{"sku": "SKU-1", "site": "SITE-A"}, {"site": "SITE-A", "sku": "SKU-1"}]
    body = batch(client, {"series": series, "horizon": 1}).json()
    assert body["count"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"horizon": 2},
        {"series": [{"sku": "SKU-1"}], "select": {"site": "SITE-A"}, "horizon": 2},
    ],
)
def test_series_or_select_exactly_one(client: TestClient, body: dict) -> None:
    response = client.post(BATCH, json=body)
    assert response.status_code == 422
    assert "either `series`" in response.json()["message"]


def test_a_horizon_beyond_the_model_is_422_with_the_limit(client: TestClient) -> None:
    response = client.post(BATCH, json={"select": {"level": "sku"}, "horizon": 7})
    assert response.status_code == 422
    assert response.json()["details"] == {"max_horizon": 6}


def test_a_selector_naming_a_key_its_level_lacks_is_422(client: TestClient) -> None:
    response = client.post(BATCH, json={"select": {"level": "site", "sku": "SKU-1"}, "horizon": 2})
    assert response.status_code == 422
    assert "drop sku" in response.json()["message"]


def test_the_read_role_is_enough_and_a_key_is_needed(keyed_client: TestClient) -> None:
    body = {"select": {"level": "sku"}, "horizon": 2}
    assert keyed_client.post(BATCH, json=body).status_code == 401
    response = keyed_client.post(BATCH, json=body, headers={"X-API-Key": READ_KEY})
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------------------ CSV


def csv_frame(response: Any) -> pd.DataFrame:
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.StringIO(response.text), dtype={"sku": str, "site": str})


@pytest.mark.parametrize(
    "options", [{"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}]
)
def test_csv_has_a_row_per_series_and_period_matching_the_json(
    client: TestClient, options: dict
) -> None:
    request = {"select": {}, "horizon": 5, "quantiles": [0.1, 0.5, 0.9]}
    answer = batch(client, request).json()
    response = batch(client, request, **options)
    assert response.headers["x-model-version"] == "1"
    frame = csv_frame(response)
    assert list(frame.columns) == [
        "series_id", "level", "sku", "site", "channel", "ds", "model", "fallback", "alive",
        "mean", "q10", "q50", "q90", "statistical", "adjustments",
    ]  # fmt: skip
    assert len(frame) == 4 * 5
    rows = [
        {
            "series_id": f["series_id"],
            "level": f["level"],
            "sku": f["keys"]["sku"],
            "site": f["keys"]["site"],
            "ds": p["ds"],
            "model": f["model"],
            "mean": p["mean"],
            **{quantile_column(float(q)): v for q, v in p["quantiles"].items()},
            "statistical": p["statistical"],
        }
        for f in answer["forecasts"]
        for p in f["points"]
    ]
    expected = pd.DataFrame(rows)
    shown = frame.drop(columns=["channel", "fallback", "alive", "adjustments"])
    pd.testing.assert_frame_equal(shown, expected, check_exact=True)
    assert frame[["channel", "fallback", "alive", "adjustments"]].isna().all().all()  # none here


def test_csv_of_roll_ups_leaves_absent_keys_empty(client: TestClient) -> None:
    response = batch(client, {"select": {"level": "site"}, "horizon": 2}, params={"format": "csv"})
    frame = csv_frame(response)
    assert frame["site"].tolist() == ["SITE-A", "SITE-A", "SITE-B", "SITE-B"]
    assert frame["sku"].isna().all()


def test_format_json_wins_over_an_accept_header(client: TestClient) -> None:
    response = batch(
        client,
        {"select": {"level": "sku"}, "horizon": 2},
        params={"format": "json"},
        headers={"Accept": "text/csv"},
    )
    assert response.headers["content-type"].startswith("application/json")


# --------------------------------------------------------------------------- limits


def test_more_series_than_the_limit_is_422(client: TestClient) -> None:
    series = [{"sku": f"SKU-{i}", "site": "SITE-A"} for i in range(MAX_BATCH_SERIES + 1)]
    response = client.post(BATCH, json={"series": series, "horizon": 1})
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "series"
    assert f"at most {MAX_BATCH_SERIES}" in response.json()["details"][0]["problem"]


class ManySkus:
    """A Loader serving a real demand serving model of ``skus`` SKUs at one site."""

    def __init__(self, skus: int, horizon: int) -> None:
        ds = pd.date_range("2024-01-07", periods=horizon, freq="W-SUN")
        ids = [f"sku,site:SKU-{i:04d}|SITE-A" for i in range(skus)]
        forecasts = pd.DataFrame(
            {
                "series_id": [i for i in ids for _ in range(horizon)],
                "ds": list(ds) * skus,
                "model": "ets",
                "mean": 1.0,
                "q10": 0.5,
                "q50": 1.0,
                "q90": 1.5,
            }
        )
        selection = pd.DataFrame({"series_id": ids, "model": "ets"})
        self.core = build_serving_model(
            forecasts, selection, [("sku", "site")], "W-SUN", (0.1, 0.5, 0.9)
        )

    def __call__(self, kind: str, served: Served | None) -> Served:
        return served or LoadedModel(kind, "1", self.core)


@pytest.fixture(scope="module")
def many_skus() -> Iterator[TestClient]:
    loader = ManySkus(MAX_BATCH_SERIES + 1, horizon=MAX_BATCH_POINTS // MAX_BATCH_SERIES + 1)
    app = create_app(settings_with(), loader=loader, kinds=("demand",), poll=False)
    with TestClient(app) as test_client:
        yield test_client


def test_a_selector_matching_more_than_the_limit_is_422_naming_it(many_skus: TestClient) -> None:
    response = many_skus.post(BATCH, json={"select": {"site": "SITE-A"}, "horizon": 1})
    assert response.status_code == 422
    message = response.json()["message"]
    assert f"matches {MAX_BATCH_SERIES + 1:,} series" in message
    assert f"the limit is {MAX_BATCH_SERIES:,}" in message


def test_more_points_than_the_limit_is_422_naming_it(many_skus: TestClient) -> None:
    horizon = MAX_BATCH_POINTS // MAX_BATCH_SERIES + 1
    series = [{"sku": f"SKU-{i:04d}", "site": "SITE-A"} for i in range(MAX_BATCH_SERIES)]
    response = many_skus.post(BATCH, json={"series": series, "horizon": horizon})
    assert response.status_code == 422
    assert f"the limit is {MAX_BATCH_POINTS:,}" in response.json()["message"]
    # The same series over a horizon within the limit: all answered.
    response = many_skus.post(BATCH, json={"series": series, "horizon": horizon - 1})
    assert response.status_code == 200
    assert response.json()["count"] == MAX_BATCH_SERIES


# ------------------------------------------------------- the real registry's champion


def test_batch_from_the_registry_matches_single_calls(real_client: TestClient) -> None:
    body = batch(real_client, {"select": {}, "horizon": 3, "quantiles": [0.25, 0.75]}).json()
    keys = [f["keys"] for f in body["forecasts"]]
    assert len(keys) == 4
    assert body["forecasts"] == singles(real_client, keys, horizon=3, quantiles=[0.25, 0.75])
