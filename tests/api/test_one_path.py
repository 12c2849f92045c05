"""One serving path: a request through the HTTP route and the same request through the
loaded MLflow pyfunc's ``predict`` give the same numbers and the same refusals."""

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
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel, PythonModel

from api.main import create_app
from api.model_store import LoadedModel, Served
from tests.api.conftest import settings_with
from tests.api.fakes import FakeCapacity, FakeRisk, demand_core, order_lines
from training.pyfunc import CORE_ARTIFACT, CapacityModel, DemandModel, RiskModel

PYFUNCS: dict[str, type[PythonModel]] = {
    "demand": DemandModel,
    "capacity": CapacityModel,
    "risk": RiskModel,
}


def predict(model: PyFuncModel, request: pd.DataFrame) -> pd.DataFrame:
    """The loaded pyfunc's answer to ``request`` (a frame, for these models)."""
    answer = model.predict(request)
    assert isinstance(answer, pd.DataFrame)
    return answer


@pytest.fixture(scope="module")
def pyfuncs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PyFuncModel]:
    """Each kind saved as its production pyfunc in a local folder and loaded back, as an
    MLflow user would load it (no tracking store involved)."""
    folder = tmp_path_factory.mktemp("pyfuncs")
    cores = {"demand": demand_core(1.0), "capacity": FakeCapacity(), "risk": FakeRisk()}
    loaded = {}
    for kind, core in cores.items():
        joblib.dump(core, folder / f"{kind}.joblib")
        path = folder / kind
        mlflow.pyfunc.save_model(
            path,
            python_model=PYFUNCS[kind](),
            artifacts={CORE_ARTIFACT: str(folder / f"{kind}.joblib")},
            pip_requirements=[],  # skip inference: these never leave the test
        )
        loaded[kind] = mlflow.pyfunc.load_model(str(path))
    return loaded


@pytest.fixture(scope="module")
def served(pyfuncs: dict[str, PyFuncModel]) -> Iterator[TestClient]:
    """The app serving the very cores the loaded pyfuncs hold."""

    def loader(kind: str, current: Served | None) -> Served:
        return current or LoadedModel(kind, "1", pyfuncs[kind].unwrap_python_model().core)

    app = create_app(settings_with(), loader=loader, poll=False)
    with TestClient(app) as client:
        yield client


@pytest.mark.parametrize(
    "request_body",
    [
        {"sku": "SKU-1", "site": "SITE-A", "horizon": 4, "quantiles": [0.25, 0.5, 0.95]},
        {"site": "SITE-B", "horizon": 6, "quantiles": [0.1, 0.9]},
        {"level": "total", "horizon": 2, "quantiles": [0.3]},
    ],
)
def test_demand_through_http_and_pyfunc_agree(
    served: TestClient, pyfuncs: dict[str, PyFuncModel], request_body: dict
) -> None:
    body = served.post("/v1/forecasts/demand", json=request_body).json()
    row = {k: request_body.get(k) for k in ("sku", "site", "channel", "level")}
    row["horizon"] = request_body["horizon"]
    row["quantiles"] = ",".join(str(q) for q in request_body["quantiles"])
    frame = predict(pyfuncs["demand"], pd.DataFrame([row]))

    assert body["series_id"] == frame["series_id"].iloc[0]
    assert [p["ds"] for p in body["points"]] == list(frame["ds"].dt.strftime("%Y-%m-%d"))
    np.testing.assert_array_equal([p["mean"] for p in body["points"]], frame["mean"])
    labels = [f"{q:g}" for q in sorted(request_body["quantiles"])]
    http_quantiles = [[p["quantiles"][label] for label in labels] for p in body["points"]]
    columns = [c for c in frame.columns if c.startswith("q") and c[1:2].isdigit()]
    np.testing.assert_array_equal(http_quantiles, frame[columns].to_numpy(float))


def test_capacity_through_http_and_pyfunc_agree(
    served: TestClient, pyfuncs: dict[str, PyFuncModel]
) -> None:
    scenario = {"capacity_factor": 0.9}
    body = served.post(
        "/v1/forecasts/capacity",
        json={"sites": ["SITE-B", "SITE-A"], "horizon": 5, "scenario": scenario},
    ).json()
    request = pd.DataFrame(
        {"site": ["SITE-B", "SITE-A"], "horizon": [5, 5], "scenario": [json.dumps(scenario)] * 2}
    )
    frame = predict(pyfuncs["capacity"], request)

    http = pd.DataFrame(body["days"])
    assert list(http["site"]) == list(frame["site"])
    assert list(http["ds"]) == list(frame["ds"].dt.strftime("%Y-%m-%d"))
    for column in http.columns.drop(["site", "ds"]):
        np.testing.assert_array_equal(http[column], frame[column], err_msg=column)


def test_risk_through_http_and_pyfunc_agree(
    served: TestClient, pyfuncs: dict[str, PyFuncModel]
) -> None:
    lines = order_lines(12)
    # One line promised before it was ordered: both paths answer it unscored, with the reason.
    lines[3] = {**lines[3], "promised_date": "2024-01-01"}
    body = served.post("/v1/orders/at-risk", json={"as_of": "2024-03-04", "orders": lines}).json()
    frame = predict(pyfuncs["risk"], pd.DataFrame(lines).assign(as_of="2024-03-04"))

    http = pd.DataFrame(body["lines"])
    assert list(http["line_id"]) == list(frame["line_id"])
    assert list(http["status"]) == list(frame["status"])
    assert http["status"].iloc[3] == "invalid_dates"
    assert http["unscored_reason"].iloc[3] == frame["unscored_reason"].iloc[3]
    np.testing.assert_array_equal(http["p_late"], frame["p_late"])
    assert list(http["risk_band"]) == list(frame["risk_band"])
    np.testing.assert_array_equal(http["expected_delay_days"], frame["expected_delay_days"])
    assert list(http["reason_1"]) == list(frame["reason_1"])


def test_both_paths_refuse_the_same_request_for_the_same_reason(
    served: TestClient, pyfuncs: dict[str, PyFuncModel]
) -> None:
    # A level named without its keys: the same check, the same words, in both.
    http = served.post("/v1/forecasts/demand", json={"level": "sku,site", "horizon": 2})
    assert http.status_code == 422
    with pytest.raises(MlflowException, match="level 'sku,site' needs sku, site"):
        predict(pyfuncs["demand"], pd.DataFrame([{"level": "sku,site", "horizon": 2}]))
    assert "level 'sku,site' needs sku, site" in http.json()["message"]

    http = served.post("/v1/forecasts/capacity", json={"sites": ["SITE-A"], "horizon": 29})
    assert http.json()["details"] == {"max_horizon": 28}
    with pytest.raises(MlflowException, match="outside what this model serves: 1 to 28"):
        predict(pyfuncs["capacity"], pd.DataFrame({"site": ["SITE-A"], "horizon": [29]}))


def test_a_pyfunc_refuses_a_core_of_another_kind(tmp_path: Path) -> None:
    joblib.dump(FakeRisk(), tmp_path / "core.joblib")
    mlflow.pyfunc.save_model(
        tmp_path / "model",
        python_model=DemandModel(),
        artifacts={CORE_ARTIFACT: str(tmp_path / "core.joblib")},
        pip_requirements=[],
    )
    with pytest.raises(TypeError, match="holds a FakeRisk, not a demand model"):
        mlflow.pyfunc.load_model(str(tmp_path / "model"))
