"""Writing the model kinds to MLflow: a pyfunc per core, its signature and input example.

The pyfunc classes themselves (what any MLflow user loads) live in :mod:`training.pyfunc`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import joblib
import mlflow
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

from forecasting.contract import REQUIRED_COLUMNS
from ordercast.settings import PROJECT_ROOT
from training.pyfunc import CORE_ARTIFACT, CapacityModel, DemandModel, RiskModel

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


def log_demand_model(core: object, workdir: Path, registered_name: str) -> str:
    """Log the demand core as a pyfunc in the active run and register it; returns the version."""
    path = workdir / "demand-core.joblib"
    joblib.dump(core, path, compress=3)
    example = DEMAND_INPUT_EXAMPLE.assign(
        sku=[_first_key(core, "sku")], site=[_first_key(core, "site")]
    )
    preview = DemandModel()
    preview.core = core
    example_output = preview.predict(None, example)
    return _log_pyfunc(
        DemandModel(), path, example, _signature(example, example_output), registered_name
    )


def _signature(example: pd.DataFrame, output: pd.DataFrame) -> ModelSignature:
    with quiet_mlflow():  # MLflow hints about integer columns on every call
        return infer_signature(example, output)


def _log_pyfunc(
    python_model: mlflow.pyfunc.PythonModel,
    core_path: Path,
    example: pd.DataFrame,
    signature: ModelSignature,
    registered_name: str,
) -> str:
    """Log and register one pyfunc; the core travels only as its joblib artifact."""
    with quiet_mlflow():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,  # a fresh instance: the core is not pickled twice
            artifacts={CORE_ARTIFACT: str(core_path)},
            code_paths=[str(PROJECT_ROOT / "forecasting")],
            signature=signature,
            input_example=example,
            pip_requirements=pinned_requirements(),
            registered_model_name=registered_name,
        )
    return str(info.registered_model_version)


@contextlib.contextmanager
def quiet_mlflow() -> Iterator[None]:
    """MLflow's logging talks a lot (schema hints, pickling advice, progress bars): hush it."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    loggers = [logging.getLogger(n) for n in ("mlflow", "mlflow.pyfunc", "mlflow.models")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        # MLflow prints "Successfully registered model ..." straight to stderr, which would
        # break --log-json; our own outcome line says the same.
        stream_was_on = MLFLOW_LOGGING_STREAM.enabled
        MLFLOW_LOGGING_STREAM.enabled = False
        try:
            yield
        finally:
            MLFLOW_LOGGING_STREAM.enabled = stream_was_on
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _first_key(core: object, key: str) -> str:
    level = "sku,site"
    series_id = next(iter(core.paths[level]))  # type: ignore[attr-defined]
    sku, site = series_id.split("|")
    return sku if key == "sku" else site


def log_risk_model(core: object, example: pd.DataFrame, workdir: Path, registered_name: str) -> str:
    """Log the at-risk core as a pyfunc in the active run and register it; returns the version."""
    path = workdir / "risk-core.joblib"
    joblib.dump(core, path, compress=3)
    preview = RiskModel()
    preview.core = core
    example_output = preview.predict(None, example)
    inferred = _signature(example, example_output)
    # The contract's optional columns stay optional for callers of the pyfunc too.
    required = {*REQUIRED_COLUMNS, "as_of"}
    inputs = Schema(
        [ColSpec(c.type, c.name, required=c.name in required) for c in inferred.inputs.inputs]
    )
    return _log_pyfunc(
        RiskModel(),
        path,
        example,
        ModelSignature(inputs=inputs, outputs=inferred.outputs),
        registered_name,
    )


def log_capacity_model(core: object, workdir: Path, registered_name: str) -> str:
    """Log the capacity core as a pyfunc in the active run and register it."""
    path = workdir / "capacity-core.joblib"
    joblib.dump(core, path, compress=3)
    example = pd.DataFrame({"site": [core.sites_[0]], "horizon": [7], "scenario": [""]})  # type: ignore[attr-defined]
    preview = CapacityModel()
    preview.core = core
    return _log_pyfunc(
        CapacityModel(),
        path,
        example,
        _signature(example, preview.predict(None, example)),
        registered_name,
    )
