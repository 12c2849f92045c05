"""A registry that cannot be read is reported as such, never as an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.registry_loader import registry_loader
from ordercast.cli import main
from ordercast.settings import MlflowSettings, Settings


def _config(folder: Path, uri: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(f"mlflow:\n  tracking_uri: {uri}\n  artifact_root: {folder / 'art'}\n")
    return path


@pytest.fixture()
def corrupt_store(tmp_path: Path) -> str:
    (tmp_path / "mlflow.db").write_bytes(b"this is not a database\x00" * 400)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_models_list_on_a_corrupt_store_is_exit_2_saying_so(
    tmp_path: Path, corrupt_store: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["models", "list", "--config", str(_config(tmp_path, corrupt_store))]) == 2
    captured = capsys.readouterr()
    assert "could not be read" in captured.err
    assert "no registered models" not in captured.out + captured.err


def test_models_list_on_an_empty_store_says_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["models", "list", "--config", str(_config(tmp_path, uri))]) == 0
    assert "no registered models yet" in capsys.readouterr().out


def test_ready_names_a_corrupt_registry_and_the_server_still_starts(
    tmp_path: Path, corrupt_store: str
) -> None:
    settings = Settings(mlflow=MlflowSettings(tracking_uri=corrupt_store))
    app = create_app(settings, loader=registry_loader(corrupt_store), poll=False)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        response = client.get("/ready")
        assert response.status_code == 503
        errors = response.json()["errors"]
        assert set(errors) == {"demand", "capacity", "risk"}
        assert all("could not be read" in text for text in errors.values())
        assert not any("no 'champion' version" in text for text in errors.values())


@pytest.mark.timeout(120)  # MLflow's own defaults would wait minutes here
def test_an_unreachable_tracking_server_is_exit_2_naming_it(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = f"http://ana:s3cret@127.0.0.1:{port}"
    result = subprocess.run(
        [sys.executable, "-m", "ordercast.cli", "models", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"http://ana:***@127.0.0.1:{port}" in result.stderr
    assert "could not be read" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr
