"""Empty MLflow stores for tests: copies of one that MLflow made in this test process.

A new SQLite store runs MLflow's schema migrations as it is first opened: 0.7-2.2 s a
store, 58 s in all over the 63 stores one run of the suite made on the 2-core machine
(2026-12-05, timed inside ``mlflow.store.db.utils._initialize_tables``). A copy of an
empty store the same MLflow made is the same database and opens in ~0.02 s. Our code names
its own experiments and their artifact folders (``training.tracking.experiment_id``), so
nothing reads the template's default experiment.

Tests of what a first run creates on a fresh machine (``tests/test_new_user.py``, the
killed trainings, a bad input that must leave no store behind) let MLflow create theirs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from mlflow.tracking import MlflowClient


@cache
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ordercast-mlflow-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "mlflow.db"
    uri = f"sqlite:///{path}"
    # The tracking store's migrations make the registry's tables too.
    MlflowClient(tracking_uri=uri).search_experiments()
    return path


def empty_store(path: Path) -> str:
    """The ``sqlite:///`` URI of a new, empty MLflow store at ``path`` (its folder made)."""
    if path.exists():
        raise FileExistsError(f"{path} exists: an empty store goes where there is none")
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), path)
    return f"sqlite:///{path}"
