"""A key revoked with `ordercast keys revoke` while the service runs: its page sessions end
at their next request (pages go to the sign-in page, data gets 401), as the API refuses the
key itself; the other keys' sessions go on. No restart in between."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.key_file import create_key
from api.main import create_app
from ordercast.cli import main
from tests.api.conftest import settings_with
from tests.api.fakes import FakeLoader

PAGE = {"accept": "text/html"}
DATA = "/web/demand/series?q=sku"


def sign_in(client: TestClient, key: str) -> None:
    form = client.get("/web/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    answer = client.post(
        "/web/sign-in", data={"key": key, "csrf": token.group(1)}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture()
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "api-keys.json"


@pytest.fixture()
def app_client(key_file: Path) -> Iterator[TestClient]:
    create_key(key_file, "bootstrap", "admin")  # the service starts with keys
    settings = settings_with(keys_file=key_file)
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
        yield client


def test_a_revoked_keys_session_ends_at_its_next_request(
    app_client: TestClient, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keys made while the service runs are taken at once too.
    anna = create_key(key_file, "anna", "read")
    ops = create_key(key_file, "ops", "admin")
    planner = TestClient(app_client.app)
    admin = TestClient(app_client.app)
    sign_in(planner, anna)
    sign_in(admin, ops)
    assert planner.get("/web/overview", headers=PAGE).status_code == 200
    assert planner.get(DATA).status_code == 200
    assert planner.get("/v1/models", headers={"X-API-Key": anna}).status_code == 200

    # `ordercast keys revoke anna`, as an operator runs it on the service's key file.
    monkeypatch.setenv("ORDERCAST_API_KEYS_FILE", str(key_file))
    assert main(["keys", "revoke", "anna"]) == 0

    page = planner.get("/web/overview", headers=PAGE, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/web/sign-in?next=")
    data = planner.get(DATA)
    assert data.status_code == 401 and data.json()["code"] == "unauthorized"
    assert planner.get("/v1/models", headers={"X-API-Key": anna}).status_code == 401
    again = planner.get("/web/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', again.text)
    assert token is not None
    refused = planner.post("/web/sign-in", data={"key": anna, "csrf": token.group(1)})
    assert refused.status_code == 401 and "Unknown key" in refused.text
    # The admin's session was not anna's: it goes on.
    assert admin.get("/web/overview", headers=PAGE).status_code == 200
    assert admin.get(DATA).status_code == 200
