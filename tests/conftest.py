"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public data sets not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def scms_path(shared_data: Path) -> Path:
    path = shared_data / "scms-delivery-history.csv.gz"
    if not path.is_file():
        pytest.skip(f"SCMS delivery history not found at {path}")
    return path


@pytest.fixture(scope="session")
def scms_mapping() -> Path:
    return REPO_ROOT / "configs" / "mappings" / "scms.yaml"


@pytest.fixture(scope="session", autouse=True)
def _order_store_in_a_temp_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point the default order store at a temp file for the whole run, so a test that trains
    (and so publishes forecasts) without naming a store never writes into the checkout's
    data/ folder; subprocesses inherit it. Tests that need a store name their own.
    The API key file too: keys a developer made for `make demo` must not lock tests out."""
    url = f"sqlite:///{tmp_path_factory.mktemp('order-store') / 'orders.db'}"
    keys = tmp_path_factory.mktemp("api-keys") / "api-keys.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ORDERCAST_DATABASE_URL", url)
        patch.setenv("ORDERCAST_API_KEYS_FILE", str(keys))
        yield


# What makes a test slow here: a real MLflow store or server, a live uvicorn, a training run,
# a notebook. Marked in one place so `make test-fast` (pytest -m "not slow") stays a unit loop.
SLOW_FOLDERS = ("training", "notebooks", "reliability", "store")  # store: SQLite and PostgreSQL
SLOW_MODULES = (
    "test_hot_swap.py",
    "test_schemathesis.py",
    "test_one_path.py",
    "test_registry_reader.py",
    "test_cli_risk_model.py",
    "test_registry_honesty.py",
    "test_fault.py",  # kills an ingest of 200,000 lines mid-batch, on SQLite and PostgreSQL
    "test_planning_loop.py",  # trains, refreshes and serves, on SQLite and PostgreSQL
    "test_header_limit.py",  # a live uvicorn
    "test_api_ingest.py",  # the app over HTTP against SQLite and PostgreSQL stores
    "test_refresh.py",  # fits forecasters (demand) or trains (training)
    "test_new_user.py",  # trains all three kinds and serves them from a subprocess
    "test_fuzz_commands.py",  # hypothesis writes 240 files through six commands
    "test_attribute_types.py",  # fits an at-risk model
    # Model fits of tens of seconds each (durations of `pytest -m "not slow" --durations`):
    "test_global_model.py",
    "test_auto.py",
    "test_statsmodels_families.py",
    "test_cli_hierarchy.py",
    "test_risk.py",
    "test_memory.py",
    "test_refresh_memory.py",
    "test_capacity.py",
    "test_refresh_backlog.py",
)
SLOW_FIXTURES = frozenset(
    {"real_store", "demand_store", "real_client", "mlflow_server", "trained_store", "scms_path"}
)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker is one of as many
    processes as there are cores: OpenMP (scikit-learn's boosting) and OpenBLAS then start
    one thread each, not one per core, so two workers do not spin against each other's
    threads (oversubscribed OpenMP turned a 3-minute training into 30 on a busy machine).
    Set before any test module imports numpy or scikit-learn; subprocesses inherit it."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow_modules: set[Path] = set()
    for item in items:
        path = Path(str(item.fspath))
        folder = path.parent.name
        fixtures = set(getattr(item, "fixturenames", ()))
        if folder in SLOW_FOLDERS or path.name in SLOW_MODULES or fixtures & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("slow"):
            slow_modules.add(path)
    # Modules with a slow test run first, each module's tests kept together (so its module
    # fixtures are built once): with `--dist loadscope` the two workers start on the long
    # modules and fill in with the quick ones, instead of one worker finishing a long
    # module alone at the end. The sort is stable: the order within each group is kept.
    items.sort(key=lambda item: Path(str(item.fspath)) not in slow_modules)
