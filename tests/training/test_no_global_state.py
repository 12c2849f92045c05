"""Training and serving share a process without sharing MLflow state.

The API serves from store A while a training registers into store B in a thread of the
same process: each goes through its own client, so neither redirects the other, and the
process's MLflow URIs (``os.environ``, ``mlflow.get_tracking_uri()``) are as they were.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from api.main import create_app
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.api.registry import RealRegistry
from tests.mlflow_stores import empty_store
from tests.training.conftest import write_config
from training import tracking

URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def test_training_into_one_store_while_serving_from_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in URI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    uri_before = mlflow.get_tracking_uri()

    store_a = RealRegistry(tmp_path / "a")
    store_a.promote("demand", store_a.register_demand(1.0))
    folder_b = tmp_path / "b"
    folder_b.mkdir()
    uri_b = empty_store(folder_b / "mlflow.db")
    history = folder_b / "orders.csv"
    generate_orders(sites=1, skus=3, days=120, seed=7).orders.to_csv(history, index=False)
    config = write_config(folder_b, uri_b, models="naive")

    codes: list[int] = []
    training = threading.Thread(
        target=lambda: codes.append(
            main(["train", "demand", "--data", str(history), "--config", str(config)])
        )
    )
    app = create_app(store_a.settings, kinds=("demand",), poll=False)
    served: list[tuple[int, str | None]] = []
    with TestClient(app) as api:
        training.start()
        while training.is_alive() or not served:
            # Reloading re-reads store A's registry mid-training: it must still be A's.
            assert api.post("/v1/admin/reload").status_code == 200
            response = api.post(
                "/v1/forecasts/demand", json={"sku": "SKU-1", "site": "SITE-A", "horizon": 2}
            )
            served.append((response.status_code, response.json().get("model_version")))
            training.join(timeout=0.2)
        models = {entry["kind"]: entry for entry in api.get("/v1/models").json()}

    assert codes == [0]
    assert set(served) == {(200, "1")}
    assert models["demand"]["champion"]["data"]["data.rows"] == "1000"  # A's version tag
    client_a, client_b = store_a.client, MlflowClient(tracking_uri=uri_b, registry_uri=uri_b)
    assert [str(v.version) for v in client_a.search_model_versions("name='ordercast-demand'")] == [
        "1"
    ]
    trained = client_b.get_model_version_by_alias("ordercast-demand", "champion")
    assert str(trained.version) == "1"
    assert client_b.get_run(trained.run_id).info.status == "FINISHED"
    assert all(name not in os.environ for name in URI_VARIABLES)
    assert mlflow.get_tracking_uri() == uri_before


def test_a_run_that_raises_ends_failed(tmp_path: Path) -> None:
    store = RealRegistry(tmp_path)
    experiment = tracking.experiment_id(store.client, store.settings, "demand")
    with (
        pytest.raises(RuntimeError),
        tracking.recorded_run(store.client, experiment, "doomed", {"data.rows": 3}) as run,
    ):
        run.log_metrics({"score": 1.0})
        raise RuntimeError("the fit blew up")
    failed = store.client.get_run(run.run_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["data.rows"] == "3" and failed.data.metrics["score"] == 1.0
    assert mlflow.active_run() is None
