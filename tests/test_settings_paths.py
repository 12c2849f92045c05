"""Where a store's companions live: beside a SQLite store unless configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from ordercast.settings import DEFAULT_MODELS_DIR, load_settings


def test_artifacts_and_locks_follow_a_sqlite_store_moved_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}")
    settings = load_settings()
    assert settings.mlflow.artifact_root == tmp_path / "elsewhere" / "artifacts"
    assert settings.mlflow.lock_dir == tmp_path / "elsewhere" / "locks"


def test_explicit_folders_and_server_stores_keep_their_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"mlflow:\n  tracking_uri: sqlite:///{tmp_path / 'mlflow.db'}\n"
        f"  lock_dir: {tmp_path / 'shared-locks'}\n"
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings(config)
    assert settings.mlflow.lock_dir == tmp_path / "shared-locks"
    assert settings.mlflow.artifact_root == tmp_path / "artifacts"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert load_settings().mlflow.lock_dir == DEFAULT_MODELS_DIR / "locks"
