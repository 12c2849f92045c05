"""Fixtures shared by every test folder."""

from __future__ import annotations

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
