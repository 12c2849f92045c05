"""The models page in a real browser: the three kinds with champion, challenger and the
gate's decisions; an admin promotes and rolls back (on a registry of its own, so the
shared one stays read-only); a read key sees no button and its post is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from store.database import OrderStore
from tests.api.conftest import ADMIN_KEY, READ_KEY, live_server
from tests.api.registry import RealRegistry
from tests.web.conftest import Watched, web_settings
from tests.web.pages import sign_in

pytestmark = pytest.mark.slow  # a live uvicorn, a real registry and a browser


@pytest.fixture(scope="module")
def own_registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app over a registry this module may change: every kind's v1 champion, demand v2
    a rejected challenger."""
    folder = tmp_path_factory.mktemp("models-page")
    store = RealRegistry(folder)
    for kind in ("capacity", "risk"):
        store.promote(kind, store.register(kind))
    store.promote("demand", store.register_demand(1.0))
    store.challenger("demand", store.register_demand(2.0))
    url = f"sqlite:///{folder / 'orders.db'}"
    OrderStore.open(url)
    settings = web_settings(store, folder, url, f"{READ_KEY}:read,{ADMIN_KEY}:admin")
    with live_server(create_app(settings, poll=False)) as base:
        yield base


def test_the_three_kinds_and_their_gate(watched: Watched, screenshots: Path) -> None:
    page = watched.page
    sign_in(page, READ_KEY, "/web/models")
    for kind in ("demand", "capacity", "risk"):
        section = page.locator(f"#kind-{kind}")
        assert section.locator(".serving").inner_text() == "v1"
        assert "lower is better" in section.locator("h2").inner_text()
    demand = page.locator("#kind-demand table.versions tbody tr")
    assert demand.count() == 2
    assert "challenger" in demand.nth(0).inner_text() and "rejected" in demand.nth(0).inner_text()
    assert "champion" in demand.nth(1).inner_text()
    # A read key sees no button.
    assert page.locator("button.promote, button.rollback").count() == 0
    # Nothing published in the test store: the page says why there is no accuracy yet.
    assert "No accuracy yet" in page.locator("#accuracy").inner_text()
    page.screenshot(path=screenshots / "models-fake-model.png", full_page=True)


def watch(page: Any) -> list[str]:
    """The ``watched`` fixture's checks, for a page of another server."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    return problems


def test_an_admin_promotes_then_rolls_back(
    browser: Any, own_registry_url: str, screenshots: Path
) -> None:
    context = browser.new_context(
        base_url=own_registry_url, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    problems = watch(page)
    page.on("dialog", lambda dialog: dialog.accept())  # "Promote demand v2? ..."
    try:
        sign_in(page, ADMIN_KEY, "/web/models")
        page.click("#kind-demand button.promote[data-version='2']")
        page.wait_for_selector("#action-status:has-text('v2 is now champion')")
        assert page.locator("#kind-demand .serving").inner_text() == "v2"  # served at once
        assert "champion" in page.locator("#kind-demand tr[data-version='2']").inner_text()
        page.screenshot(path=screenshots / "models-promoted.png", full_page=True)

        page.click("#kind-demand button.rollback")
        page.wait_for_selector("#action-status:has-text('rolled back to v1')")
        assert page.locator("#kind-demand .serving").inner_text() == "v1"
        answer = httpx.get(
            f"{own_registry_url}/v1/models", headers={"X-API-Key": READ_KEY}, timeout=30
        ).json()
        assert {m["kind"]: m["serving"] for m in answer}["demand"] == "1"
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def signed_in(base: str, key: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/web/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    client.post("/web/sign-in", data={"key": key, "csrf": token.group(1)})
    page = client.get("/web/models")
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1)


def test_a_read_key_cannot_promote_and_an_admin_needs_the_token(own_registry_url: str) -> None:
    reader, csrf = signed_in(own_registry_url, READ_KEY)
    admin, token = signed_in(own_registry_url, ADMIN_KEY)
    try:
        for path, body in (
            ("/web/models/promote", {"kind": "demand", "version": "2"}),
            ("/web/models/rollback", {"kind": "demand"}),
        ):
            refused = reader.post(path, json=body, headers={"X-CSRF-Token": csrf})
            assert refused.status_code == 403
            assert "'admin' role" in refused.json()["message"]
        body = {"kind": "demand", "version": "2"}
        # A forged token differs from the real one in its first character, whatever that is.
        forged = ("y" if token[0] == "x" else "x") + token[1:]
        for headers in ({}, {"X-CSRF-Token": forged}):
            refused = admin.post("/web/models/promote", json=body, headers=headers)
            assert refused.status_code == 403 and refused.json()["code"] == "csrf"
        unknown = admin.post(
            "/web/models/promote",
            json={"kind": "demand", "version": "99"},
            headers={"X-CSRF-Token": token},
        )
        assert unknown.status_code == 422 and "no version 99" in unknown.json()["message"]
        models = admin.get("/v1/models", headers={"X-API-Key": READ_KEY}).json()
        assert {m["kind"]: m["serving"] for m in models}["demand"] == "1"  # nothing changed
    finally:
        reader.close()
        admin.close()
