"""Model files are checked against the hash recorded at registration before anything in them
is unpickled: a file swapped in the artifact store is refused, its code never runs."""

from __future__ import annotations

import pickle
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import joblib
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.api.registry import RealRegistry
from tests.test_cli_risk_model import KnownRisk
from training.serving import MODEL_HASH_TAG, RegistryReader, UnverifiedModelError, model_name


class Planted:
    """What an attacker puts in place of a core: unpickling it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def plant(path: Path, marker: Path) -> None:
    with path.open("wb") as handle:
        pickle.dump(Planted(marker), handle)


def tamper(store: RealRegistry, kind: str, version: str, marker: Path) -> Path:
    """Overwrite the core joblib of ``kind`` v``version`` in the artifact store; its path."""
    source = store.client.get_model_version(model_name(kind), version).source
    folder = Path(url2pathname(urlparse(source).path))
    (core,) = folder.glob("artifacts/*.joblib")
    plant(core, marker)
    return core


@pytest.fixture()
def risk_store(tmp_path: Path) -> RealRegistry:
    store = RealRegistry(tmp_path / "store")
    store.promote("risk", store.register("risk"))
    return store


def test_the_reader_refuses_a_swapped_core_before_unpickling_it(
    risk_store: RealRegistry, tmp_path: Path
) -> None:
    reader = RegistryReader(risk_store.settings.mlflow.tracking_uri)
    recorded = risk_store.client.get_model_version("ordercast-risk", "1").tags[MODEL_HASH_TAG]
    assert reader.load_core("risk", "1") is not None  # as registered: loads
    marker = tmp_path / "marker"
    tamper(risk_store, "risk", "1", marker)

    with pytest.raises(UnverifiedModelError, match="artifact store was changed after") as raised:
        reader.load_core("risk", "1")
    assert "ordercast-risk v1" in str(raised.value)
    assert f"not to {recorded}" in str(raised.value)
    with pytest.raises(UnverifiedModelError):
        reader.load_reference("models:/ordercast-risk@champion")
    run_id = risk_store.client.get_model_version("ordercast-risk", "1").run_id
    with pytest.raises(UnverifiedModelError):
        reader.load_reference(f"runs:/{run_id}/model")
    assert not marker.exists(), "the planted pickle ran"


def test_a_version_without_a_recorded_hash_is_not_loaded(risk_store: RealRegistry) -> None:
    risk_store.client.delete_model_version_tag("ordercast-risk", "1", MODEL_HASH_TAG)
    reader = RegistryReader(risk_store.settings.mlflow.tracking_uri)
    with pytest.raises(UnverifiedModelError, match="ordercast-risk v1 has no recorded content"):
        reader.load_core("risk", "1")


def test_the_api_keeps_serving_and_reports_a_swapped_core(
    risk_store: RealRegistry, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    app = create_app(risk_store.settings, kinds=("risk",), poll=False)
    with TestClient(app) as http:
        assert http.get("/ready").json()["models"] == {"risk": "1"}
        new = risk_store.register("risk")
        tamper(risk_store, "risk", new, marker)
        risk_store.promote("risk", new)
        reload = http.post("/v1/admin/reload").json()
        assert reload["models"] == {"risk": "1"}  # the verified version keeps serving
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert "artifact store was changed after registration" in ready.json()["errors"]["risk"]
    assert not marker.exists(), "the planted pickle ran"


def test_the_api_does_not_start_on_a_swapped_core(risk_store: RealRegistry, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    tamper(risk_store, "risk", "1", marker)
    with TestClient(create_app(risk_store.settings, kinds=("risk",), poll=False)) as http:
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert "hash to" in ready.json()["errors"]["risk"]
    assert not marker.exists(), "the planted pickle ran"


@pytest.fixture()
def risk_argv(tmp_path: Path) -> list[str]:
    orders = generate_orders(sites=1, skus=5, days=60, seed=5).orders
    data = tmp_path / "orders.csv"
    orders.to_csv(data, index=False)
    as_of = orders["order_date"].min() + pd.Timedelta(days=40)
    out = tmp_path / "scored.csv"
    return ["risk", "score", str(data), "--as-of", f"{as_of:%Y-%m-%d}", "--out", str(out)]


def test_risk_score_loads_a_model_file_only_with_trust(
    risk_argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    saved = tmp_path / "mine.joblib"
    joblib.dump(KnownRisk(), saved)
    assert main([*risk_argv, "--model", str(saved)]) == 2
    err = capsys.readouterr().err
    assert "--trust" in err and "runs any code it holds" in err
    assert main([*risk_argv, "--model", str(saved), "--trust"]) == 0

    marker = tmp_path / "marker"
    plant(tmp_path / "evil.joblib", marker)
    assert main([*risk_argv, "--model", str(tmp_path / "evil.joblib")]) == 2
    assert not marker.exists(), "the file was unpickled without --trust"


def test_risk_score_verifies_a_models_reference(
    risk_store: RealRegistry, risk_argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    marker = tmp_path / "marker"
    tamper(risk_store, "risk", "1", marker)
    config = tmp_path / "config.yaml"
    config.write_text(f"mlflow:\n  tracking_uri: {risk_store.settings.mlflow.tracking_uri}\n")
    argv = [*risk_argv, "--config", str(config), "--model", "models:/ordercast-risk@champion"]
    assert main(argv) == 2
    assert "artifact store was changed after registration" in capsys.readouterr().err
    assert not marker.exists(), "the planted pickle ran"


def test_a_models_uri_load_by_mlflow_itself_does_not_break_verification(
    risk_store: RealRegistry,
) -> None:
    # MLflow writes registered_model_meta into a local store's model folder whenever anyone
    # (a notebook, `mlflow models serve`) loads it as models:/...; that must not lock us out.
    uri = risk_store.settings.mlflow.tracking_uri
    source = risk_store.client.get_model_version("ordercast-risk", "1").source
    folder = Path(url2pathname(urlparse(source).path))
    (folder / "registered_model_meta").write_text("model_name: ordercast-risk\nversion: 1\n")
    reader = RegistryReader(uri)
    assert reader.load_core("risk", "1") is not None
