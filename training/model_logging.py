"""Writing the model kinds to MLflow: a pyfunc per core, its signature and input example.

Each model is saved to a local folder, uploaded into its run's ``model/`` artifacts and
registered, all through the explicit client of a :class:`~training.tracking.RunLog`:
no active run, no process-wide tracking URI. The pyfunc classes themselves (what any
MLflow user loads) live in :mod:`training.pyfunc`.
"""

from __future__ import annotations

import importlib.metadata
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import joblib
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature, infer_signature
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, Schema

from forecasting.contract import REQUIRED_COLUMNS
from forecasting.cores import CapacityCore, DemandCore, RiskCore
from forecasting.demand.serving import DemandServingModel
from ordercast.settings import PROJECT_ROOT
from training.pyfunc import CORE_ARTIFACT, CapacityModel, DemandModel, RiskModel
from training.serving import MODEL_HASH_TAG, package_digest
from training.tracking import RunLog
from training.workdirs import work_folder

MODEL_ARTIFACT = "model"  # the model's folder in its run's artifacts
REGISTRATION_WAIT_SECONDS = 300  # an asynchronous registry: wait this long for READY
DEMAND_INPUT_EXAMPLE = pd.DataFrame(
    {
        "sku": ["SKU-00001"],
        "site": ["SITE-1"],
        "channel": [""],
        "level": [""],
        "horizon": [4],
        "quantiles": ["0.1,0.5,0.9"],
    }
)
PINNED = (
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "scikit-learn",
    "joblib",
    "pyarrow",
    "holidays",
    "pandera",
    "pydantic",
)


def pinned_requirements() -> list[str]:
    out = []
    for lib in PINNED:
        try:
            out.append(f"{lib}=={importlib.metadata.version(lib)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def log_demand_model(run: RunLog, core: DemandCore, workdir: Path, registered_name: str) -> str:
    """Log the demand core as a pyfunc in ``run`` and register it; returns the version."""
    path = workdir / "demand-core.joblib"
    joblib.dump(core, path, compress=3)
    example = DEMAND_INPUT_EXAMPLE.assign(
        sku=[_first_key(core, "sku")], site=[_first_key(core, "site")]
    )
    preview = DemandModel()
    preview.core = core
    example_output = preview.predict(None, example)
    return log_pyfunc(
        run,
        DemandModel(),
        path,
        registered_name,
        example=example,
        # params: planners' adjustments to apply (a JSON list, as the API lists them)
        signature=model_signature(example, example_output, params={"adjustments": ""}),
    )


def model_signature(
    example: pd.DataFrame, output: pd.DataFrame, params: dict[str, str] | None = None
) -> ModelSignature:
    """The pyfunc signature of ``example`` in and ``output`` out, with ``params``."""
    with warnings.catch_warnings():  # MLflow hints about integer columns on every call
        warnings.simplefilter("ignore")
        return infer_signature(example, output, params=params)


def log_pyfunc(
    run: RunLog,
    python_model: PythonModel,
    core_path: Path,
    registered_name: str,
    *,
    example: pd.DataFrame | None = None,
    signature: ModelSignature | None = None,
    code_paths: Sequence[Path] = (PROJECT_ROOT / "forecasting",),
    pip_requirements: list[str] | None = None,
) -> str:
    """Save one pyfunc, upload it as ``model/`` of ``run``, register it; returns the version.

    The core travels only as its joblib artifact (``python_model`` is a fresh instance, so
    it is not pickled twice). ``pip_requirements`` defaults to the pinned libraries.
    """
    with work_folder() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's advice on pickling and schemas
        local = Path(folder) / MODEL_ARTIFACT
        mlflow.pyfunc.save_model(
            path=str(local),
            python_model=python_model,
            artifacts={CORE_ARTIFACT: str(core_path)},
            code_paths=[str(p) for p in code_paths],
            signature=signature,
            input_example=example,
            pip_requirements=(
                pinned_requirements() if pip_requirements is None else pip_requirements
            ),
        )
        digest = package_digest(local)  # of what is uploaded, before it leaves our hands
        run.client.log_artifacts(run.run_id, str(local), MODEL_ARTIFACT)
    return register_version(
        run.client, registered_name, f"{run.artifact_uri}/{MODEL_ARTIFACT}", run.run_id, digest
    )


def log_refreshed_pyfunc(
    run: RunLog, parent_run_id: str, core: object, workdir: Path, registered_name: str
) -> str:
    """Register a refresh: the parent version's pyfunc package (its class, code, signature,
    input example and pinned requirements, all unchanged by a refresh) with only its core
    artifact replaced; returns the new version.

    Saving a pyfunc afresh costs seconds (MLflow infers the signature and checks every
    pinned requirement against the environment); a daily refresh should not pay that again.
    """
    local = Path(run.client.download_artifacts(parent_run_id, MODEL_ARTIFACT, str(workdir)))
    description = Model.load(str(local / "MLmodel"))
    artifacts = description.flavors["python_function"]["artifacts"]
    core_path = local / artifacts[CORE_ARTIFACT]["path"]
    if not core_path.is_file():
        raise FileNotFoundError(f"the parent model of run {parent_run_id} has no {core_path.name}")
    joblib.dump(core, core_path, compress=3)
    description.model_uuid = uuid.uuid4().hex  # a new model, not a copy of the parent's
    description.run_id = run.run_id
    description.save(str(local / "MLmodel"))
    digest = package_digest(local)  # the new package as uploaded: the parent's hash is void
    run.client.log_artifacts(run.run_id, str(local), MODEL_ARTIFACT)
    return register_version(
        run.client, registered_name, f"{run.artifact_uri}/{MODEL_ARTIFACT}", run.run_id, digest
    )


def register_version(client: MlflowClient, name: str, source: str, run_id: str, digest: str) -> str:
    """A new version of registered model ``name`` (created when missing) from ``source``,
    the model's folder in the artifacts of run ``run_id``; returns the version once READY.

    ``digest`` (:func:`training.serving.package_digest` of the folder uploaded) is recorded
    as the version's ``model.sha256`` tag in the call that creates it, so no version ever
    exists without the hash its files are checked against before they are loaded.
    """
    try:
        client.create_registered_model(name)
    except MlflowException as exc:  # another training registered it first: fine
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    version = client.create_model_version(
        name,
        source,
        run_id=run_id,
        tags={MODEL_HASH_TAG: digest},
        await_creation_for=REGISTRATION_WAIT_SECONDS,
    )
    return str(version.version)


def _first_key(core: DemandCore, key: str) -> str:
    """A key of the first SKU x site series: the input example MLflow stores beside the model."""
    if not isinstance(core, DemandServingModel):
        raise TypeError(f"cannot log {type(core).__name__} as the demand model")
    series_id = next(iter(core.paths["sku,site"]))
    sku, site = series_id.split("|")
    return sku if key == "sku" else site


def log_risk_model(
    run: RunLog, core: RiskCore, example: pd.DataFrame, workdir: Path, registered_name: str
) -> str:
    """Log the at-risk core as a pyfunc in ``run`` and register it; returns the version."""
    path = workdir / "risk-core.joblib"
    joblib.dump(core, path, compress=3)
    preview = RiskModel()
    preview.core = core
    example_output = preview.predict(None, example)
    inferred = model_signature(example, example_output)
    # The contract's optional columns stay optional for callers of the pyfunc too.
    required = {*REQUIRED_COLUMNS, "as_of"}
    inputs = Schema(
        [ColSpec(c.type, c.name, required=c.name in required) for c in inferred.inputs.inputs]
    )
    return log_pyfunc(
        run,
        RiskModel(),
        path,
        registered_name,
        example=example,
        signature=ModelSignature(inputs=inputs, outputs=inferred.outputs),
    )


def log_capacity_model(run: RunLog, core: CapacityCore, workdir: Path, registered_name: str) -> str:
    """Log the capacity core as a pyfunc in ``run`` and register it; returns the version."""
    path = workdir / "capacity-core.joblib"
    joblib.dump(core, path, compress=3)
    example = pd.DataFrame({"site": [core.sites_[0]], "horizon": [7], "scenario": [""]})
    preview = CapacityModel()
    preview.core = core
    return log_pyfunc(
        run,
        CapacityModel(),
        path,
        registered_name,
        example=example,
        signature=model_signature(example, preview.predict(None, example)),
    )
