"""Named keys from `ordercast keys` (#22 item 8): made by the CLI, printed once, stored as
digests, accepted by the service with their role, and the name kept as the caller."""

from __future__ import annotations

import contextlib
import io
import json
import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ordercast.cli import main
from ordercast.settings import load_settings
from tests.api.fakes import FakeLoader

KEY = re.compile(r"^(\S+) \((\w+)\): (oc_\S+)$", re.MULTILINE)


@pytest.fixture()
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "api-keys.json"
    monkeypatch.setenv("ORDERCAST_API_KEYS_FILE", str(path))
    monkeypatch.delenv("ORDERCAST_API_KEYS", raising=False)
    return path


def _create(*args: str) -> tuple[int, str]:
    return _run("keys", "create", *args)


def _run(*args: str) -> tuple[int, str]:
    """The CLI as a user runs it: its entry point turns errors into exit codes and lines."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()


def test_created_keys_are_printed_once_and_stored_as_digests(key_file: Path) -> None:
    code, output = _create("planner-anna", "--role", "read")
    assert code == 0, output
    name, role, plain = KEY.search(output).groups()  # type: ignore[union-attr]
    assert (name, role) == ("planner-anna", "read")
    assert f"X-API-Key: {plain}" in output  # says how to use it
    stored = key_file.read_text()
    assert plain not in stored
    assert json.loads(stored)["keys"][0]["name"] == "planner-anna"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    listed = _run("keys", "list")[1]
    assert "planner-anna" in listed and plain not in listed


def test_the_service_accepts_file_keys_with_their_roles(key_file: Path) -> None:
    reader = KEY.search(_create("anna", "--role", "read")[1]).group(3)  # type: ignore[union-attr]
    admin = KEY.search(_create("ops", "--role", "admin")[1]).group(3)  # type: ignore[union-attr]
    with TestClient(create_app(load_settings(), loader=FakeLoader(), poll=False)) as client:
        assert client.get("/v1/models").status_code == 401  # keys exist: loopback is not open
        assert client.get("/v1/models", headers={"X-API-Key": reader}).status_code == 200
        refused = client.post("/v1/admin/reload", headers={"X-API-Key": reader})
        assert refused.status_code == 403
        assert client.post("/v1/admin/reload", headers={"X-API-Key": admin}).status_code == 200


def test_replace_and_revoke_stop_the_old_key(key_file: Path) -> None:
    old = KEY.search(_create("feed", "--role", "write")[1]).group(3)  # type: ignore[union-attr]
    code, output = _create("feed", "--role", "write")
    assert code == 2 and "--replace" in output  # no silent second key under one name
    new = KEY.search(_create("feed", "--role", "write", "--replace")[1]).group(3)  # type: ignore[union-attr]
    ring_app = create_app(load_settings(), loader=FakeLoader(), poll=False)
    assert ring_app.state.keys.holder_of(old) is None
    assert ring_app.state.keys.holder_of(new) == ("feed", "write")
    assert _run("keys", "revoke", "feed")[0] == 0
    assert create_app(load_settings(), loader=FakeLoader(), poll=False).state.keys.empty


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bad name!", "--role", "read"], "letters, digits"),
        (["anna", "--role", "owner"], "read, write, admin"),
    ],
)
def test_bad_key_requests_exit_2_naming_the_problem(
    key_file: Path, args: list[str], says: str
) -> None:
    code, output = _create(*args)
    assert code == 2 and says in output
    assert not key_file.exists()


def test_a_damaged_key_file_is_a_clear_error(key_file: Path) -> None:
    key_file.parent.mkdir(parents=True)
    key_file.write_text("{not json")
    code, output = _run("keys", "list")
    assert code == 2 and "create the keys again" in output
