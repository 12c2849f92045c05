"""The pages' locks, over plain HTTP: no page or asset without a session (but the sign-in
page and its stylesheet), roles as the API's, a CSRF token on every post, and the
session cookie's flags."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import ADMIN_KEY, READ_KEY, settings_with
from tests.api.fakes import FakeLoader
from tests.web.conftest import WRITE_KEY

pytestmark = pytest.mark.slow  # a live uvicorn over a real registry

PAGES = ["/web/overview", "/web/demand", "/web/capacity", "/web/at-risk", "/web/models"]
DATA = [
    "/web/demand/series?q=sku",
    "/web/demand/data?level=total&series=__total__",
    "/web/demand/data.csv?level=total&series=__total__",
    "/web/capacity/data.csv",
    "/web/at-risk/data.csv",
]
ASSETS = [
    "/web/static/js/demand.js",
    "/web/static/js/charts.js",
    "/web/static/js/capacity.js",
    "/web/static/js/at_risk.js",
    "/web/static/js/models.js",
    "/web/static/planning.css",
    "/web/static/vendor/uplot/uPlot.iife.min.js",
    "/web/static/vendor/uplot/uPlot.min.css",
]
ADJUSTMENT = {
    "level": "sku,site",
    "series": "SKU-1|SITE-B",
    "start": "2024-01-07",
    "kind": "add",
    "value": 5,
    "reason": "security test",
}


@pytest.fixture()
def stranger(web_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_url, timeout=30) as client:
        yield client


@pytest.fixture()
def clients() -> Iterator[list[httpx.Client]]:
    made: list[httpx.Client] = []
    yield made
    for client in made:
        client.close()


def form_csrf(html: str) -> str:
    """The CSRF token in a page's form (the sign-in form, or a signed-in page's)."""
    token = re.search(r'name="csrf" value="([^"]+)"', html)
    assert token is not None
    return token.group(1)


def signed_in(web_url: str, key: str, clients: list[httpx.Client]) -> tuple[httpx.Client, str]:
    """A client with a session for ``key`` (closed after the test) and its CSRF token."""
    client = httpx.Client(base_url=web_url, timeout=30)
    clients.append(client)
    token = form_csrf(client.get("/web/sign-in").text)
    client.post("/web/sign-in", data={"key": key, "csrf": token, "next": "/web/demand"})
    page = client.get("/web/overview")
    assert page.status_code == 200, page.text
    return client, form_csrf(page.text)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_without_a_session(stranger: httpx.Client, path: str) -> None:
    page = stranger.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/web/sign-in?next=")
    assert stranger.get(path).status_code == 401  # a script's fetch gets 401, not a page


@pytest.mark.parametrize("path", DATA + ASSETS)
def test_no_data_or_asset_without_a_session(stranger: httpx.Client, path: str) -> None:
    answer = stranger.get(path)
    assert answer.status_code == 401
    assert "uPlot" not in answer.text and "SKU-" not in answer.text


def test_the_sign_in_page_and_its_stylesheet_are_open(stranger: httpx.Client) -> None:
    assert stranger.get("/web/sign-in").status_code == 200
    assert stranger.get("/web/static/app.css").status_code == 200


def test_a_forged_or_altered_cookie_is_no_session(
    web_url: str, stranger: httpx.Client, clients: list[httpx.Client]
) -> None:
    client, _ = signed_in(web_url, READ_KEY, clients)
    cookie = client.cookies["ordercast_session"]
    body, signature = cookie.split(".")
    # The payload says admin now; its signature no longer fits.
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    stranger.cookies.set("ordercast_session", forged, path="/web")
    assert stranger.get("/web/overview").status_code == 401
    stranger.cookies.set("ordercast_session", "not-a-session", path="/web")
    assert stranger.get("/web/static/js/demand.js").status_code == 401


def test_cookie_flags(web_url: str) -> None:
    with httpx.Client(base_url=web_url, timeout=30) as client:
        form = client.get("/web/sign-in")
        sign_in_cookie = form.headers["set-cookie"].lower()
        assert "httponly" in sign_in_cookie and "samesite=strict" in sign_in_cookie
        token = form_csrf(form.text)
        answer = client.post(
            "/web/sign-in",
            data={"key": ADMIN_KEY, "csrf": token, "next": "/web/demand"},
        )
    assert answer.status_code == 303 and answer.headers["location"] == "/web/demand"
    session = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("ordercast_session=")
    )
    flags = [part.strip().lower() for part in session.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/web" in flags
    assert ADMIN_KEY not in session  # the key itself is never in the cookie
    assert "secure" not in flags  # plain http on loopback: a Secure cookie would be dropped


def test_sign_in_needs_its_form_token_and_a_known_key(web_url: str) -> None:
    with httpx.Client(base_url=web_url, timeout=30) as client:
        client.get("/web/sign-in")
        no_token = client.post("/web/sign-in", data={"key": ADMIN_KEY, "csrf": "guess"})
        assert no_token.status_code == 403 and "ordercast_session" not in client.cookies
        form = client.get("/web/sign-in")
        token = form_csrf(form.text)
        wrong = client.post("/web/sign-in", data={"key": "not-a-key", "csrf": token})
        assert wrong.status_code == 401 and "Unknown key" in wrong.text
        assert "ordercast_session" not in client.cookies


def test_sign_in_goes_back_only_to_a_page_of_this_app(web_url: str) -> None:
    with httpx.Client(base_url=web_url, timeout=30) as client:
        form = client.get("/web/sign-in")
        token = form_csrf(form.text)
        answer = client.post(
            "/web/sign-in",
            data={"key": READ_KEY, "csrf": token, "next": "//evil.example/web/x"},
        )
    assert answer.headers["location"] == "/web/overview"


def test_a_read_key_cannot_adjust(web_url: str, clients: list[httpx.Client]) -> None:
    client, csrf = signed_in(web_url, READ_KEY, clients)
    answer = client.post("/web/demand/adjustments", json=ADJUSTMENT, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 403
    assert "'write' role" in answer.json()["message"]
    page = client.get("/web/demand")
    assert 'id="adjust-form"' not in page.text


def test_a_write_key_reads_no_page(web_url: str) -> None:
    """As in the API: a write key is an order-management system's, which reads nothing."""
    with httpx.Client(base_url=web_url, timeout=30) as client:
        form = client.get("/web/sign-in")
        token = form_csrf(form.text)
        client.post("/web/sign-in", data={"key": WRITE_KEY, "csrf": token})
        page = client.get("/web/overview", headers={"Accept": "text/html"})
        assert page.status_code == 403 and "needs the &#39;read&#39; role" in page.text


def test_an_adjustment_needs_the_csrf_token(web_url: str, clients: list[httpx.Client]) -> None:
    client, csrf = signed_in(web_url, ADMIN_KEY, clients)
    wrong = ("B" if csrf[0] == "A" else "A") + csrf[1:]  # one character off, never the token
    for headers in ({}, {"X-CSRF-Token": wrong}):
        refused = client.post("/web/demand/adjustments", json=ADJUSTMENT, headers=headers)
        assert refused.status_code == 403 and refused.json()["code"] == "csrf"
    done = client.post("/web/demand/adjustments", json=ADJUSTMENT, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 201, done.text
    assert done.json()["adjustment"]["author"] == "api-key-3"
    revoke = f"/web/demand/adjustments/{done.json()['adjustment']['id']}/revoke"
    for headers in ({}, {"X-CSRF-Token": wrong}):
        kept = client.post(revoke, headers=headers)
        assert kept.status_code == 403 and kept.json()["code"] == "csrf"
    reader, reader_csrf = signed_in(web_url, READ_KEY, clients)
    refused = reader.post(revoke, headers={"X-CSRF-Token": reader_csrf})
    assert refused.status_code == 403 and "'write' role" in refused.json()["message"]
    revoked = client.post(revoke, headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"


def test_sign_out_needs_the_token_and_ends_the_session(
    web_url: str, clients: list[httpx.Client]
) -> None:
    client, csrf = signed_in(web_url, READ_KEY, clients)
    kept = client.post("/web/sign-out", data={"csrf": "wrong"})
    assert kept.status_code == 403
    assert client.get("/web/overview").status_code == 200
    out = client.post("/web/sign-out", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/web/sign-in"
    assert client.get("/web/overview").status_code == 401


def test_without_keys_the_local_user_continues_as_admin() -> None:
    """No key configured (loopback only, as the API): sign-in is one button."""
    app = create_app(settings_with(), loader=FakeLoader("1"), poll=False)
    with TestClient(app) as client:
        form = client.get("/web/sign-in")
        assert "No API key is configured" in form.text and 'name="key"' not in form.text
        token = form_csrf(form.text)
        client.post("/web/sign-in", data={"csrf": token})
        page = client.get("/web/demand")
        assert page.status_code == 200 and "local (admin)" in page.text
        assert 'id="adjust-form"' in page.text
