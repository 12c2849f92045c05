"""Planner adjustments over HTTP (#18), against SQLite and PostgreSQL order stores: made with
a write key (its name is the author), spread and re-added so levels add up, served beside the
statistical forecast, listed, revoked (audited), and refused with a 4xx naming the problem,
storing nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import joblib
import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.key_file import create_key
from api.main import create_app
from ordercast.settings import ApiSettings, DatabaseSettings, Settings
from store.adjustments import read_events
from store.database import OrderStore
from tests.api.fakes import START, FakeLoader, fake_cores
from training.model_logging import model_signature
from training.pyfunc import CORE_ARTIFACT, DemandModel

WEEK2, WEEK3 = (f"{START + np.timedelta64(7 * k, 'D'):%Y-%m-%d}" for k in (1, 2))


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "keys.json"
    return {
        "path": str(path),
        "anna": create_key(path, "anna", "write"),
        "ben": create_key(path, "ben", "write"),
        "reader": create_key(path, "reader", "read"),
    }


@pytest.fixture()
def api(store_url: str, keys: dict[str, str]) -> Iterator[TestClient]:
    settings = Settings(
        api=ApiSettings(keys_file=Path(keys["path"])), database=DatabaseSettings(url=store_url)
    )
    with TestClient(create_app(settings, loader=FakeLoader(), poll=False)) as client:
        yield client


def _as(keys: dict[str, str], name: str) -> dict[str, str]:
    return {"X-API-Key": keys[name]}


def _means(api: TestClient, keys: dict[str, str], **series: str) -> dict[str, tuple]:
    body = {**series, "horizon": 6}
    answer = api.post("/v1/forecasts/demand", json=body, headers=_as(keys, "reader")).json()
    return {
        p["ds"]: (p["statistical"], p["mean"], p["adjustments"], p["quantiles"])
        for p in answer["points"]
    }


SITE_UP = {
    "site": "SITE-A",
    "start": WEEK2,
    "end": WEEK3,
    "kind": "percent",
    "value": 20,
    "reason": "regional promotion",
    "reason_code": "promotion",
}


def test_a_site_adjustment_moves_its_skus_in_proportion_and_the_levels_add_up(
    api: TestClient, keys: dict[str, str]
) -> None:
    before = {sku: _means(api, keys, sku=sku, site="SITE-A") for sku in ("SKU-1", "SKU-2")}
    made = api.post("/v1/forecasts/demand/adjustments", json=SITE_UP, headers=_as(keys, "anna"))
    assert made.status_code == 201, made.text
    adjustment = made.json()["adjustment"]
    assert adjustment["author"] == "anna" and adjustment["level"] == "site"
    assert adjustment["series_id"] == "SITE-A" and adjustment["status"] == "active"

    after = {sku: _means(api, keys, sku=sku, site="SITE-A") for sku in ("SKU-1", "SKU-2")}
    for sku in after:
        for ds, (statistical, mean, ids, quantiles) in after[sku].items():
            assert statistical == before[sku][ds][1]  # the model's number, kept beside
            if ds in (WEEK2, WEEK3):
                assert mean == pytest.approx(1.2 * statistical, rel=1e-12)
                assert ids == [adjustment["id"]]
                values = list(quantiles.values())
                assert values == sorted(values) and min(values) >= 0
            else:
                assert mean == statistical and ids == []
    site = _means(api, keys, site="SITE-A")
    total = _means(api, keys, level="total")
    others = {sku: _means(api, keys, sku=sku, site="SITE-B") for sku in ("SKU-1", "SKU-2")}
    for ds in (WEEK2, WEEK3):
        bottom_a = sum(after[sku][ds][1] for sku in after)
        assert site[ds][1] == pytest.approx(bottom_a, rel=1e-12)  # re-added exactly
        bottom_all = bottom_a + sum(others[sku][ds][1] for sku in others)
        assert total[ds][1] == pytest.approx(bottom_all, rel=1e-12)
        assert total[ds][2] == [adjustment["id"]]  # the total says which adjustment moved it


def test_a_revoke_restores_the_statistical_forecast_and_is_audited(
    api: TestClient, keys: dict[str, str], store_url: str
) -> None:
    made = api.post("/v1/forecasts/demand/adjustments", json=SITE_UP, headers=_as(keys, "anna"))
    adjustment_id = made.json()["adjustment"]["id"]
    revoked = api.delete(
        f"/v1/forecasts/demand/adjustments/{adjustment_id}", headers=_as(keys, "ben")
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked" and revoked.json()["closed_by"] == "ben"
    for statistical, mean, ids, _ in _means(api, keys, sku="SKU-1", site="SITE-A").values():
        assert mean == statistical and ids == []
    listed = api.get("/v1/forecasts/demand/adjustments", headers=_as(keys, "reader")).json()
    assert listed == []  # active ones only, by default
    everything = api.get(
        "/v1/forecasts/demand/adjustments?active=false", headers=_as(keys, "reader")
    ).json()
    assert [a["status"] for a in everything] == ["revoked"]  # kept, not erased
    again = api.delete(
        f"/v1/forecasts/demand/adjustments/{adjustment_id}", headers=_as(keys, "ben")
    )
    assert again.status_code == 409 and "already revoked" in again.json()["message"]
    unknown = api.delete("/v1/forecasts/demand/adjustments/nope", headers=_as(keys, "ben"))
    assert unknown.status_code == 404
    store = OrderStore.open(store_url)
    try:
        events = read_events(store, adjustment_id)
    finally:
        store.dispose()
    assert events[["event", "author"]].values.tolist() == [["create", "anna"], ["revoke", "ben"]]


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"sku": "SKU-9", "site": "SITE-A"}, 404, "SKU-9"),
        ({"start": "2030-01-06", "end": "2030-01-06"}, 422, "end"),
        ({"kind": "percent", "value": -150}, 422, "below -100%"),
        ({"kind": "add", "value": -100000}, 422, "negative"),
        ({"reason_code": "gut feeling"}, 422, "reason_code"),
        ({"reason": ""}, 422, "reason"),
        ({"kind": "double", "value": 2}, 422, "kind"),
    ],
)
def test_bad_adjustments_are_refused_naming_the_problem_and_store_nothing(
    api: TestClient, keys: dict[str, str], change: dict, status: int, says: str
) -> None:
    body = {**SITE_UP, **change}
    if "sku" in change:
        body.pop("reason_code")
    refused = api.post("/v1/forecasts/demand/adjustments", json=body, headers=_as(keys, "anna"))
    assert refused.status_code == status, refused.text
    assert says in refused.text
    everything = api.get(
        "/v1/forecasts/demand/adjustments?active=false", headers=_as(keys, "reader")
    ).json()
    assert everything == []


def test_overlapping_adjustments_of_one_author_are_refused_not_anothers(
    api: TestClient, keys: dict[str, str]
) -> None:
    first = api.post("/v1/forecasts/demand/adjustments", json=SITE_UP, headers=_as(keys, "anna"))
    assert first.status_code == 201
    overlap = {**SITE_UP, "start": WEEK3, "end": WEEK3, "kind": "add", "value": 5}
    same = api.post("/v1/forecasts/demand/adjustments", json=overlap, headers=_as(keys, "anna"))
    assert same.status_code == 422 and first.json()["adjustment"]["id"] in same.text
    other = api.post("/v1/forecasts/demand/adjustments", json=overlap, headers=_as(keys, "ben"))
    assert other.status_code == 201, other.text


def test_a_read_key_cannot_adjust(api: TestClient, keys: dict[str, str]) -> None:
    refused = api.post(
        "/v1/forecasts/demand/adjustments", json=SITE_UP, headers=_as(keys, "reader")
    )
    assert refused.status_code == 403


def test_the_pyfunc_given_the_listed_adjustments_answers_as_the_endpoint(
    api: TestClient, keys: dict[str, str], tmp_path: Path
) -> None:
    made = api.post("/v1/forecasts/demand/adjustments", json=SITE_UP, headers=_as(keys, "anna"))
    assert made.status_code == 201, made.text
    listed = api.get("/v1/forecasts/demand/adjustments", headers=_as(keys, "reader")).json()
    request = {"sku": "SKU-1", "site": "SITE-A", "horizon": 6}
    served = api.post("/v1/forecasts/demand", json=request, headers=_as(keys, "reader")).json()

    # The champion's core saved as its production pyfunc, with the signature training gives.
    core = fake_cores(offset=1.0)["demand"]  # what FakeLoader serves at version 1
    joblib.dump(core, tmp_path / "core.joblib")
    example = pd.DataFrame([request])
    preview = DemandModel()
    preview.core = core
    mlflow.pyfunc.save_model(
        tmp_path / "demand",
        python_model=DemandModel(),
        artifacts={CORE_ARTIFACT: str(tmp_path / "core.joblib")},
        signature=model_signature(example, preview.predict(None, example), {"adjustments": ""}),
        input_example=example,
        pip_requirements=[],
    )
    model = mlflow.pyfunc.load_model(str(tmp_path / "demand"))
    answer = model.predict(example, params={"adjustments": json.dumps(listed)})
    assert isinstance(answer, pd.DataFrame)
    assert answer["mean"].tolist() == [p["mean"] for p in served["points"]]
    assert answer["statistical"].tolist() == [p["statistical"] for p in served["points"]]
    assert answer["adjustments"].tolist() == [" ".join(p["adjustments"]) for p in served["points"]]
    plain = model.predict(example)  # without params: the statistical forecast
    assert plain["mean"].tolist() == [p["statistical"] for p in served["points"]]
