"""``ordercast risk score --model models:/...`` reads the configured store, where `train`
registers and `serve` loads from, not MLflow's default store of the working directory."""

from __future__ import annotations

from pathlib import Path

import joblib
import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.api.fakes import FakeRisk
from training.pyfunc import CORE_ARTIFACT, RiskModel
from training.serving import CHAMPION, MODEL_HASH_TAG, model_name, package_digest


class KnownRisk(AtRiskModel):
    """An at-risk model with known scores (FakeRisk's), no fitting: this test is about
    where the model is found, not how it scores."""

    def score_lines(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp | str,
        snapshots: object = None,
        *,
        batch_history: bool = True,
        actions: bool = True,
    ) -> pd.DataFrame:
        return FakeRisk().score_lines(orders, pd.Timestamp(as_of))


def register_champion(folder: Path, model: AtRiskModel) -> str:
    """``model`` as the risk champion of a new SQLite store in ``folder``; its URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    joblib.dump(model, folder / "core.joblib")
    mlflow.pyfunc.save_model(
        folder / "risk-model",
        python_model=RiskModel(),
        artifacts={CORE_ARTIFACT: str(folder / "core.joblib")},
        pip_requirements=[],  # skip inference: this model never leaves the test
    )
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = model_name("risk")
    client.create_registered_model(name)
    version = client.create_model_version(
        name,
        (folder / "risk-model").as_uri(),
        tags={MODEL_HASH_TAG: package_digest(folder / "risk-model")},  # as `train` records it
    )
    client.set_registered_model_alias(name, CHAMPION, version.version)
    return uri


def test_risk_score_finds_a_models_reference_in_the_configured_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the config file decides
    monkeypatch.chdir(tmp_path)  # MLflow's default store (./mlruns, ./mlflow.db) stays empty
    orders = generate_orders(sites=1, skus=5, days=60, seed=5).orders
    data = tmp_path / "orders.csv"
    orders.to_csv(data, index=False)
    as_of = orders["order_date"].min() + pd.Timedelta(days=40)
    store = tmp_path / "store"
    store.mkdir()
    uri = register_champion(store, KnownRisk())
    config = tmp_path / "config.yaml"
    config.write_text(f"mlflow:\n  tracking_uri: {uri}\n")
    out = tmp_path / "scored.csv"
    argv = ["risk", "score", str(data), "--as-of", f"{as_of:%Y-%m-%d}", "--out", str(out)]
    argv += ["--config", str(config), "--model"]

    assert main([*argv, "models:/ordercast-risk@champion"]) == 0
    answer = pd.read_csv(out)
    assert list(answer["line_id"]) == list(orders["line_id"])  # every line, scored or not
    scored = answer[answer["scored"]]
    is_open = (orders["order_date"] <= as_of) & ~(orders["delivered_date"] < as_of)
    expected = FakeRisk().score_lines(orders[is_open], as_of)
    assert list(scored["line_id"]) == list(expected["line_id"])
    assert scored["p_late"].tolist() == pytest.approx(expected["p_late"].tolist())
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()

    assert main([*argv, "models:/ordercast-risk@staging"]) == 2
    assert f"ordercast-risk has no 'staging' version in the registry at {uri}" in (
        capsys.readouterr().err
    )
