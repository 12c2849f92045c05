"""``ordercast refresh`` against a real embedded MLflow store and a real order store."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from mlflow.tracking import MlflowClient

from ordercast.cli import main
from store.database import OrderStore
from store.publications import read_publications, read_published_forecasts
from tests.training.conftest import own_stores


def test_refresh_publishes_a_new_champion_without_retraining(
    cut_histories: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    early, full = cut_histories
    config = own_stores(tmp_path, monkeypatch)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["train", "demand", "--data", str(early), "--config", str(config)]) == 0
    # The champion already has these orders: nothing new, exit 3, nothing registered.
    assert main(["refresh", "--data", str(early), "--config", str(config)]) == 3
    assert main(["refresh", "--data", str(full), "--config", str(config)]) == 0

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("ordercast-demand", "champion")
    assert str(champion.version) == "2"
    assert champion.tags["refresh.parent"] == "1"
    assert champion.tags["gate.decision"] == "refresh"
    parent = client.get_model_version("ordercast-demand", "1")
    assert champion.tags["recipe.hash"] == parent.tags["recipe.hash"]
    assert champion.tags["data.last_date"] > parent.tags["data.last_date"]

    store = OrderStore.open(f"sqlite:///{tmp_path / 'orders.db'}")
    try:
        publications = read_publications(store)
        published = read_published_forecasts(store)
    finally:
        store.dispose()
    assert list(publications["kind"]) == ["train", "refresh"]
    assert list(publications["model_version"].astype(str)) == ["1", "2"]
    first = published.groupby("publication_id")["ds"].min()
    assert first.iloc[1] > first.iloc[0]  # the refresh forecasts from the newer end
    assert set(published["level"]) == {"sku,site", "sku", "site", "total"}

    # A training after a refresh reselects: the refreshed champion is not "up to date".
    assert main(["train", "demand", "--data", str(full), "--config", str(config)]) in (0, 3)
    assert len(client.search_model_versions("name='ordercast-demand'")) == 3


def test_refresh_without_a_champion_says_what_to_do(
    cut_histories: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = own_stores(tmp_path, monkeypatch)
    assert main(["refresh", "--data", str(cut_histories[1]), "--config", str(config)]) == 2
    assert "ordercast train demand" in capsys.readouterr().err


class _Planted:
    """A pickle that touches a file when loaded: what a tampered artifact could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return (Path.touch, (self.marker,))


def test_a_tampered_refresh_state_is_refused_before_it_is_unpickled(
    cut_histories: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    early, full = cut_histories
    config = own_stores(tmp_path, monkeypatch)
    assert main(["train", "demand", "--data", str(early), "--config", str(config)]) == 0
    (state,) = (tmp_path / "artifacts").rglob("refresh/forecaster.joblib")
    marker = tmp_path / "planted-code-ran"
    joblib.dump(_Planted(marker), state)
    capsys.readouterr()
    assert main(["refresh", "demand", "--data", str(full), "--config", str(config)]) == 2
    assert not marker.exists()
    assert "does not match the hash" in capsys.readouterr().err
