"""A real demand model, trained into a temp MLflow store once, served by the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from forecasting.synthetic import generate_orders
from training.pipelines import demand
from training.settings import Settings, load_settings


def settings_for(folder: Path, **api: object) -> Settings:
    base = load_settings()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return base.model_copy(
        update={
            "mlflow": base.mlflow.model_copy(
                update={
                    "tracking_uri": uri,
                    "artifact_root": folder / "artifacts",
                    "lock_dir": folder / "locks",
                }
            ),
            "demand": base.demand.model_copy(update={"horizon": 6, "n_windows": 2, "n_jobs": 1}),
            "api": base.api.model_copy(update=api),
        }
    )


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    folder = tmp_path_factory.mktemp("api-store")
    data = folder / "orders.csv.gz"
    generate_orders(sites=2, skus=10, days=200, seed=9).orders.to_csv(data, index=False)
    settings = settings_for(folder)
    outcome = demand.train(settings, data)
    assert outcome.exit_code == 0, outcome.message
    return settings, data


@pytest.fixture()
def client(served) -> TestClient:
    settings, _ = served
    with TestClient(create_app(settings, poll=False)) as test_client:
        yield test_client


@pytest.fixture()
def keyed_client(served) -> TestClient:
    settings, _ = served
    keyed = settings.model_copy(
        update={
            "api": settings.api.model_copy(update={"api_keys": "reader-key:read,admin-key:admin"})
        }
    )
    with TestClient(create_app(keyed, poll=False)) as test_client:
        yield test_client
