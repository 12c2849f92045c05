"""The at-risk pipeline registers a pyfunc that scores contract-shaped order lines."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from forecasting.contract import REQUIRED_COLUMNS
from ordercast.cli import main
from tests.mlflow_stores import empty_store
from tests.training.conftest import champion_artifacts, write_config


def test_risk_is_trained_registered_and_scores_through_pyfunc(
    history_file: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = empty_store(store / "mlflow.db")
    config = write_config(store, uri)
    assert main(["train", "risk", "--data", str(history_file), "--config", str(config)]) == 0
    assert main(["train", "risk", "--data", str(history_file), "--config", str(config)]) == 0
    orders = pd.read_csv(history_file)
    as_of = pd.Timestamp(orders["order_date"].max())
    open_lines = orders[orders["delivered_date"].isna()].head(20)
    frame = open_lines[[*REQUIRED_COLUMNS, "delivered_date"]].assign(as_of=f"{as_of:%Y-%m-%d}")
    # Any MLflow user's way in, for this test only (monkeypatch puts the environment back).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model("models:/ordercast-risk@champion")
    scored = model.predict(frame)
    assert list(scored.columns[:5]) == [
        "order_id",
        "line_id",
        "promised_date",
        "p_late",
        "risk_band",
    ]
    assert len(scored) == len(frame)
    assert scored["p_late"].between(0, 1).all()

    artifacts = champion_artifacts(uri, "risk")
    for name in (
        "reports/open-lines-scored.csv",
        "reports/calibration.csv",
        "reports/feature-importance.csv",
        "reports/data-validation.json",
        "plots/calibration.png",
        "plots/feature-importance.png",
    ):
        assert name in artifacts, f"{name} missing from {sorted(artifacts)}"
    calibration = pd.read_csv(artifacts["reports/calibration.csv"])
    run = mlflow.get_run(
        mlflow.MlflowClient().get_model_version_by_alias("ordercast-risk", "champion").run_id
    )
    assert calibration["lines"].sum() == run.data.metrics["window.lines"]
    # The lane late-rate baseline is measured on the same window, logged beside the model.
    assert 0 <= run.data.metrics["baseline.brier"] <= 1
    assert "baseline.roc_auc" in run.data.metrics
    assert run.data.params["tolerance_days"] == "0" and run.data.params["seed_models"] == "3"
    assert calibration["mean_p_late"].between(0, 1).all()
    importance = pd.read_csv(artifacts["reports/feature-importance.csv"])
    assert len(importance) == len(model.unwrap_python_model().core.features_)
    assert importance["brier_increase"].is_monotonic_decreasing
    assert artifacts["plots/calibration.png"].read_bytes()[:4] == b"\x89PNG"


def test_capacity_is_trained_registered_and_forecasts_through_pyfunc(
    history_file: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = empty_store(store / "mlflow.db")
    config = write_config(store, uri)
    assert main(["train", "capacity", "--data", str(history_file), "--config", str(config)]) == 0
    # Any MLflow user's way in, for this test only (monkeypatch puts the environment back).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = mlflow.pyfunc.load_model("models:/ordercast-capacity@champion")
    outlook = model.predict(pd.DataFrame({"site": [""], "horizon": [5], "scenario": [""]}))
    assert {"site", "ds", "available_p50", "capacity", "p_shortfall", "backlog_p50"} <= set(
        outlook.columns
    )
    assert len(outlook) == 5 * outlook["site"].nunique()
    artifacts = champion_artifacts(uri, "capacity")
    assert {
        "reports/capacity-estimate.csv",
        "reports/outlook-28d.csv",
        "reports/data-validation.json",
    } <= set(artifacts)
    charts = [name for name in artifacts if name.startswith("plots/capacity-")]
    assert len(charts) == outlook["site"].nunique()


def test_risk_bands_and_tolerance_are_settings_checked_on_load(tmp_path: Path) -> None:
    from forecasting.errors import ConfigError
    from ordercast.settings import load_settings

    good = tmp_path / "good.yaml"
    good.write_text("risk: {tolerance_days: 2, bands: [0.1, 0.4]}\n", encoding="utf-8")
    settings = load_settings(good)
    assert settings.risk.tolerance_days == 2 and settings.risk.bands == (0.1, 0.4)
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk: {bands: [0.6, 0.3]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bands must be two probabilities, low < high"):
        load_settings(bad)


def test_the_line_profile_trains_the_model_the_walk_measured(
    history_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`risk.profile: line` in the config trains the service's model with the walk's
    settings (what `risk evaluate --walk-forward` measures by default), and it serves."""
    from forecasting.risk.line_features import CLOCK, SITE_LOAD
    from forecasting.risk.walk_forward import WALK_FORWARD_PARAMS, walk_forward_model

    uri = empty_store(tmp_path / "mlflow.db")
    config = write_config(tmp_path, uri)
    config.write_text(config.read_text() + "risk:\n  profile: line\n", encoding="utf-8")
    assert main(["train", "risk", "--data", str(history_file), "--config", str(config)]) == 0
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # any MLflow user's way in
    model = mlflow.pyfunc.load_model("models:/ordercast-risk@champion")
    core = model.unwrap_python_model().core
    walked = walk_forward_model().get_params()
    for name in WALK_FORWARD_PARAMS:
        assert core.get_params()[name] == walked[name], name
    # No clock; the site's load on the scoring day is in.
    assert not set(CLOCK) & set(core.features_)
    assert set(SITE_LOAD) & set(core.features_)
    orders = pd.read_csv(history_file)
    as_of = pd.Timestamp(orders["order_date"].max())
    open_lines = orders[orders["delivered_date"].isna()].head(10)
    frame = open_lines[[*REQUIRED_COLUMNS, "delivered_date"]].assign(as_of=f"{as_of:%Y-%m-%d}")
    assert model.predict(frame)["p_late"].between(0, 1).all()
