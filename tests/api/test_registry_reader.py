"""The registry reader the API serves from: explicit store, no process-wide MLflow state."""

from __future__ import annotations

import os

import mlflow
import pytest

from api.model_store import LoadedModel
from forecasting.capacity.forecaster import CapacityForecaster
from forecasting.cores import CapacityCore, DemandCore, RiskCore
from forecasting.demand.serving import DemandServingModel
from forecasting.errors import ConfigError
from forecasting.risk.model import AtRiskModel
from tests.api.fakes import FakeCapacity, FakeRisk, demand_core
from tests.api.registry import RealRegistry
from training.serving import CHALLENGER, CHAMPION, RegistryReader, fits_kind, model_name


def _typed(
    demand: DemandServingModel, capacity: CapacityForecaster, risk: AtRiskModel
) -> tuple[DemandCore, CapacityCore, RiskCore]:
    """Never called: mypy checks here that the production models fit their protocols."""
    return demand, capacity, risk


def test_the_cores_fit_their_kind_and_no_other() -> None:
    assert fits_kind("demand", demand_core())
    assert fits_kind("capacity", FakeCapacity())
    assert fits_kind("risk", FakeRisk())
    assert not fits_kind("demand", FakeRisk())
    assert not fits_kind("risk", FakeCapacity())
    assert not fits_kind("weather", demand_core())


def test_champions_load_by_alias_from_the_given_store_and_leave_mlflow_as_it_was(
    real_store: RealRegistry,
) -> None:
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    environment = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    reader = RegistryReader(real_store.settings.mlflow.tracking_uri)

    champion = reader.info(model_name("demand"), CHAMPION)
    challenger = reader.info(model_name("demand"), CHALLENGER)
    assert champion is not None and challenger is not None
    assert champion.version != challenger.version
    assert champion.data["data.rows"] == "1000" and champion.scores["score"] == 0.5
    core = reader.load_core("demand", champion.version)
    assert isinstance(core, DemandServingModel)
    by_alias = reader.load_reference("models:/ordercast-demand@challenger")
    by_version = reader.load_reference(f"models:/ordercast-demand/{challenger.version}")
    totals = [
        m.unwrap_python_model().core.forecast(level="total", horizon=2)["mean"].tolist()
        for m in (by_alias, by_version)
    ]
    assert totals[0] == totals[1] != core.forecast(level="total", horizon=2)["mean"].tolist()

    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
    assert {k: os.environ.get(k) for k in environment} == environment


def test_unknown_references_are_config_errors(real_store: RealRegistry) -> None:
    reader = RegistryReader(real_store.settings.mlflow.tracking_uri)
    with pytest.raises(ConfigError, match="ordercast-risk has no 'staging' version"):
        reader.load_reference("models:/ordercast-risk@staging")
    with pytest.raises(ConfigError, match="ordercast-risk has no version 99"):
        reader.load_reference("models:/ordercast-risk/99")
    with pytest.raises(ConfigError, match="not an MLflow model reference"):
        reader.load_reference("models:/ordercast-risk")
    with pytest.raises(ConfigError, match="unknown model kind 'weather'"):
        model_name("weather")
    assert reader.info("ordercast-risk", "staging") is None


def test_a_loaded_model_refuses_a_core_of_another_kind() -> None:
    assert LoadedModel("risk", "1", FakeRisk()).core is not None
    with pytest.raises(TypeError, match="a FakeCapacity cannot serve as a risk model"):
        LoadedModel("risk", "1", FakeCapacity())
