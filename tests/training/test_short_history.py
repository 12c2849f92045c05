"""`ordercast train all` on short histories, with the default settings (#20): a few months
of orders train all three kinds instead of exiting 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.mlflow_stores import empty_store

KINDS = ("demand", "capacity", "risk")


@pytest.mark.parametrize("days", [120, 200, 300])
def test_train_all_on_a_short_history_gives_three_champions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, days: int
) -> None:
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", f"sqlite:///{tmp_path / 'orders.db'}")
    data = tmp_path / "orders.csv.gz"
    generate_orders(sites=1, skus=8, days=days, seed=5).orders.to_csv(data, index=False)
    uri = empty_store(tmp_path / "mlflow.db")
    config = tmp_path / "config.yaml"
    # Only where things go: the demand settings are the defaults a new user gets (weekly,
    # 13 weeks ahead, 3 backtest windows), which a 120-day history cannot backtest at all.
    config.write_text(
        f"mlflow:\n  tracking_uri: {uri}\n  artifact_root: {tmp_path / 'artifacts'}\n"
        f"  lock_dir: {tmp_path / 'locks'}\n"
    )
    assert main(["train", "all", "--data", str(data), "--config", str(config)]) == 0
    said = capsys.readouterr()
    if days == 120:  # 17 weeks: not one window of 13 with 4 to learn from
        assert "scaled_pinball not measured" in said.out + said.err
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for kind in KINDS:
        champion = client.get_model_version_by_alias(f"ordercast-{kind}", "champion")
        assert str(champion.version) == "1"
    # One future (#23): the capacity model's new work is the demand champion's forecast.
    capacity = client.get_model_version_by_alias("ordercast-capacity", "champion")
    run = client.get_run(str(capacity.run_id))
    assert run.data.params["arrivals"] == "demand v1"
