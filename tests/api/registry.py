"""A real MLflow registry (temp SQLite store) with real registered, aliased models.

Demand versions are logged with the training code's own ``log_demand_model`` (the
production pyfunc); capacity and at-risk versions wrap the test fakes in a minimal
pyfunc until their training pipelines land, so the registry loader, aliases and
reloads are exercised for every kind.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import joblib
import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from ordercast.settings import ApiSettings, MlflowSettings, Settings
from tests.api.fakes import FakeCapacity, FakeRisk, demand_core
from tests.mlflow_stores import empty_store
from training import registry, tracking
from training.model_logging import log_demand_model, log_pyfunc
from training.pyfunc import CORE_ARTIFACT, DemandModel


class CoreModel(mlflow.pyfunc.PythonModel):
    """Carries a domain object as a joblib artifact, like the production pyfuncs."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.core = joblib.load(context.artifacts[CORE_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        return model_input


class RealRegistry:
    """Register, promote and break versions in a temp store the app serves from."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings = Settings(
            mlflow=MlflowSettings(
                tracking_uri=empty_store(folder / "mlflow.db"),
                artifact_root=folder / "artifacts",
                lock_dir=folder / "locks",
            ),
            api=ApiSettings(poll_seconds=3600),
        )
        self.client: MlflowClient = tracking.connect(self.settings)

    def _log(self, kind: str, core: object | None, broken: bool = False) -> str:
        name = registry.model_name(kind)
        experiment = tracking.experiment_id(self.client, self.settings, kind)
        tags = {"data.rows": "1000", "data.last_date": "2024-01-01"}
        with (
            tempfile.TemporaryDirectory() as workdir,
            tracking.recorded_run(self.client, experiment, f"test {kind}", tags) as run,
        ):
            run.log_metrics({"score": 0.5})
            if kind == "demand" and not broken:
                version = log_demand_model(run, core, Path(workdir), name)
            else:
                path = Path(workdir) / "core.joblib"
                if broken:
                    path.write_bytes(b"this is not a joblib file")
                else:
                    joblib.dump(core, path)
                model = DemandModel() if kind == "demand" else CoreModel()
                # No code paths, no requirements: these models never leave the test.
                version = log_pyfunc(run, model, path, name, code_paths=(), pip_requirements=[])
            self.client.set_model_version_tag(name, version, "data.rows", "1000")
            self.client.set_model_version_tag(name, version, "run", run.run_id)
        return version

    def register_demand(self, offset: float) -> str:
        return self._log("demand", demand_core(offset))

    def register(self, kind: str) -> str:
        core = {"capacity": FakeCapacity(), "risk": FakeRisk()}.get(kind)
        return self._log(kind, core) if kind != "demand" else self.register_demand(0.0)

    def register_broken(self, kind: str) -> str:
        """A version whose artifact cannot be loaded (a corrupt core file)."""
        return self._log(kind, None, broken=True)

    def promote(self, kind: str, version: str) -> None:
        registry.promote(self.client, registry.model_name(kind), version)
        self._decide(kind, version, "promoted")

    def challenger(self, kind: str, version: str) -> None:
        self.client.set_registered_model_alias(
            registry.model_name(kind), registry.CHALLENGER, version
        )
        self._decide(kind, version, "rejected")

    def _decide(self, kind: str, version: str, decision: str) -> None:
        """Tag the version as the gate does last: /v1/models shows only decided versions."""
        name = registry.model_name(kind)
        if registry.DECISION_TAG not in self.client.get_model_version(name, version).tags:
            self.client.set_model_version_tag(name, version, registry.DECISION_TAG, decision)
