"""``ordercast refresh [KIND]`` for every kind, against a real embedded MLflow store: the
at-risk model's memory and the capacity outlook's start move to the newest orders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
from mlflow.tracking import MlflowClient

from forecasting.capacity import CapacityForecaster
from forecasting.risk.model import AtRiskModel
from ordercast.cli import main
from tests.training.conftest import own_stores
from training import tracking
from training.pipelines.refresh_common import nothing_new
from training.serving import RegistryReader

KINDS = ("demand", "capacity", "risk")


def test_refresh_all_publishes_every_kind_from_the_newest_orders(
    cut_histories: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    early, full = cut_histories
    config = own_stores(tmp_path, monkeypatch)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", "all", "--data", str(early), "--config", str(config)]) == 0
    # Every champion already has these orders: nothing new anywhere, nothing registered.
    assert main(["refresh", "all", "--data", str(early), "--config", str(config)]) == 3
    assert main(["refresh", "all", "--data", str(full), "--config", str(config)]) == 0

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for kind in KINDS:
        champion = client.get_model_version_by_alias(f"ordercast-{kind}", "champion")
        parent = client.get_model_version(f"ordercast-{kind}", "1")
        assert str(champion.version) == "2", kind
        assert champion.tags["refresh.parent"] == "1", kind
        assert champion.tags["gate.decision"] == "refresh", kind
        assert champion.tags["recipe.hash"] == parent.tags["recipe.hash"], kind
        assert champion.tags["gate.score"] == parent.tags["gate.score"], kind
        assert champion.tags["data.last_date"] > parent.tags["data.last_date"], kind

    reader = RegistryReader(uri)
    end = pd.read_csv(full, parse_dates=["order_date"])["order_date"].max()
    old_risk, new_risk = reader.load_core("risk", "1"), reader.load_core("risk", "2")
    assert isinstance(old_risk, AtRiskModel) and isinstance(new_risk, AtRiskModel)
    assert len(new_risk.memory_) > len(old_risk.memory_)
    assert new_risk.memory_.as_of == end
    assert new_risk.trained_as_of_ == old_risk.trained_as_of_  # not retrained
    old_capacity = reader.load_core("capacity", "1")
    new_capacity = reader.load_core("capacity", "2")
    assert isinstance(old_capacity, CapacityForecaster)
    assert isinstance(new_capacity, CapacityForecaster)
    assert old_capacity.as_of_ < new_capacity.as_of_ == end
    pd.testing.assert_frame_equal(new_capacity.estimate_, old_capacity.estimate_)
    assert new_capacity.predict(7)["ds"].min() == end + pd.Timedelta(days=1)

    # One kind asked for by name: only that kind, and it has nothing new now.
    assert main(["refresh", "risk", "--data", str(full), "--config", str(config)]) == 3
    assert len(client.search_model_versions("name='ordercast-risk'")) == 2


def test_refresh_without_champions(
    cut_histories: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = own_stores(tmp_path, monkeypatch)
    full = str(cut_histories[1])
    # A kind asked for by name without a champion is an error saying what to run.
    assert main(["refresh", "capacity", "--data", full, "--config", str(config)]) == 2
    assert "ordercast train capacity" in capsys.readouterr().err
    # All kinds: each is skipped with a note; with none left, an error.
    assert main(["refresh", "--data", full, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert all(f"{kind} skipped" in err for kind in KINDS)
    assert "ordercast train all" in err


def champion_with(tags: dict[str, object]) -> ModelVersion:
    return ModelVersion(
        "ordercast-risk",
        "2",
        0,
        tags=[ModelVersionTag(key, str(value)) for key, value in tags.items()],
    )


def test_new_deliveries_alone_are_something_new(cut_histories: tuple[Path, Path]) -> None:
    orders = pd.read_csv(cut_histories[0], parse_dates=["order_date", "delivered_date"])
    before = tracking.fingerprint(orders)
    delivered = orders.copy()
    open_line = delivered["delivered_date"].isna().idxmax()
    delivered.loc[open_line, "delivered_date"] = delivered["order_date"].max()
    after = tracking.fingerprint(delivered)
    assert after["data.hash"] == before["data.hash"]  # the same orders ...

    refreshed = champion_with(before)
    assert nothing_new("risk", refreshed, before) is not None
    assert nothing_new("risk", refreshed, after) is None  # ... one more delivery: refresh
    # A trained champion records the outcome hash too: deliveries alone are new for it.
    assert tracking.OUTCOME_TAG in before
    assert nothing_new("risk", champion_with(before), after) is None
    # A champion from before the hash existed: its orders decide.
    trained = champion_with({"data.hash": before["data.hash"]})
    assert nothing_new("risk", trained, after) is not None
