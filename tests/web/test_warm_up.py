"""The pages' figures are computed when the app starts (no sign-in needed), the open book
is scored once for the overview and the at-risk page, and a page asked while the figures
are still being computed answers at once with a note (#19: pages within 300 ms)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import api.web.figures as figures
from api.main import create_app
from api.model_store import is_risk
from api.web.state import WebState
from ordercast.settings import DatabaseSettings, Settings
from store.database import OrderStore
from store.ingest import ingest_records
from tests.api.conftest import settings_with
from tests.api.fakes import FakeLoader
from tests.threads import started_threads_end
from tests.web.conftest import history_records

READY_WITHIN = 60.0  # seconds: generous for a loaded CI machine; a warm-up takes < 1 s here


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('warm-up') / 'orders.db'}"
    ingest_records(OrderStore.open(url), history_records(), source="warm-up tests")
    return url


@pytest.fixture()
def settings(store_url: str) -> Settings:
    return settings_with().model_copy(update={"database": DatabaseSettings(url=store_url)})


@pytest.fixture()
def scorings(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[int], threading.Event]]:
    """Counts the open-book scorings (the figures' ``answer_risk``) and holds each one
    until the yielded event is set (set at once unless a test clears it)."""
    calls: list[int] = []
    gate = threading.Event()
    gate.set()
    real: Callable[..., pd.DataFrame] = figures.answer_risk

    def counted(*args: Any, **kwargs: Any) -> pd.DataFrame:
        calls.append(1)
        assert gate.wait(READY_WITHIN), "the test never released the scoring"
        return real(*args, **kwargs)

    monkeypatch.setattr(figures, "answer_risk", counted)
    yield calls, gate
    gate.set()  # never leave a warm-up thread waiting


def signed_in(client: TestClient) -> TestClient:
    form = client.get("/web/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    client.post("/web/sign-in", data={"csrf": token.group(1)})  # loopback, no keys: admin
    return client


def web_of(client: TestClient) -> WebState:
    web: WebState = client.app.state.web  # type: ignore[attr-defined]
    return web


def test_the_figures_are_computed_at_start_without_a_sign_in(
    settings: Settings, scorings: tuple[list[int], threading.Event]
) -> None:
    calls, _ = scorings
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
        web = web_of(client)
        assert web.wait_ready(READY_WITHIN), "the start-up warm-up did not finish"
        assert web.ready
        # Nobody signed in or asked for a page: the figures are there, no wait needed.
        book = web.figures.book(wait=0)
        assert book is not None and book.open_lines > 0
        loaded = client.app.state.store.snapshot.models["risk"]  # type: ignore[attr-defined]
        assert is_risk(loaded)
        scored = web.figures.worklist(loaded, wait=0)
        assert scored is not None and len(scored.lines) > 0
        assert web.figures.shortfalls(client.app.state.store.snapshot, wait=0) is not None  # type: ignore[attr-defined]
        assert web.accuracy_by_lag_now(0) is not None
        assert calls == [1]
        # Read from the open and recently promised lines only: the same as from every line.
        every = web.figures.orders()
        assert len(web.figures.recent()) < len(every)
        assert figures.order_book(every) == book
        whole = figures.score_book(every, loaded.core, loaded.version)
        pd.testing.assert_frame_equal(whole.lines, scored.lines)
        assert (whole.as_of, whole.unscored, whole.customers) == (
            scored.as_of,
            scored.unscored,
            scored.customers,
        )


def test_the_open_book_is_scored_once_for_both_pages(
    settings: Settings, scorings: tuple[list[int], threading.Event]
) -> None:
    calls, _ = scorings
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
        web = web_of(client)
        assert web.wait_ready(READY_WITHIN)
        signed_in(client)
        overview = client.get("/web/overview")
        at_risk = client.get("/web/at-risk")
        csv = client.get("/web/at-risk/data.csv")
        assert overview.status_code == at_risk.status_code == csv.status_code == 200
        assert 'id="computing"' not in overview.text and 'id="computing"' not in at_risk.text
        assert 'id="worklist"' in at_risk.text
        loaded = client.app.state.store.snapshot.models["risk"]  # type: ignore[attr-defined]
        book = web.figures.worklist(loaded, wait=0)
        assert book is not None
        assert book is web.figures.worklist(loaded, wait=0)  # one kept object
        # The overview's tile counts the at-risk page's lines: the same scored book.
        high = int((book.lines["risk_band"] == "high").sum())
        tile = re.search(r'id="high-risk">.*?<p class="big">([\d,]+)</p>', overview.text, re.S)
        assert tile is not None and int(tile.group(1).replace(",", "")) == high
        assert len(csv.text.splitlines()) == len(book.lines) + 1
        assert calls == [1]  # the warm-up's scoring; no page scored the book again


def test_a_page_asked_while_the_book_is_scored_answers_at_once(
    settings: Settings, scorings: tuple[list[int], threading.Event]
) -> None:
    calls, gate = scorings
    gate.clear()  # the warm-up's scoring waits until the test has asked for the pages
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
        web = web_of(client)
        signed_in(client)
        deadline = time.monotonic() + READY_WITHIN
        while not calls and time.monotonic() < deadline:  # the warm-up is scoring now
            time.sleep(0.01)
        assert calls == [1] and not web.ready
        started = time.perf_counter()
        at_risk = client.get("/web/at-risk")
        overview = client.get("/web/overview")
        elapsed = time.perf_counter() - started
        assert at_risk.status_code == overview.status_code == 200
        assert "The open book is being scored" in at_risk.text
        assert 'id="worklist"' not in at_risk.text
        assert 'id="computing"' in overview.text and "Being computed" in overview.text
        assert at_risk.headers["Refresh"] == overview.headers["Refresh"] == "5"
        # Two pages in well under the seconds the scoring is held for (a grace of 0.1 s each).
        assert elapsed < 3.0, elapsed
        gate.set()
        assert web.wait_ready(READY_WITHIN)
        at_risk = client.get("/web/at-risk")
        assert 'id="worklist"' in at_risk.text and "Refresh" not in at_risk.headers
        assert 'id="computing"' not in client.get("/web/overview").text
        assert calls == [1]  # the pages waited for the warm-up's scoring, never started one


def test_the_warm_up_waits_for_the_first_model_load(tmp_path: Path) -> None:
    """With the poller, the app listens before the models are loaded: the warm-up thread
    waits for the first load's answer, then computes."""
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    OrderStore.open(url)
    settings = settings_with(poll_seconds=0.2).model_copy(
        update={"database": DatabaseSettings(url=url)}
    )
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=True)) as client:
        web = web_of(client)
        assert web.wait_ready(READY_WITHIN)
        assert client.app.state.store.snapshot.checked_at is not None  # type: ignore[attr-defined]
        book = web.figures.book(wait=0)
        assert book is not None and book.as_of is None  # an empty store, said so


def test_figures_queued_as_the_app_stops_are_dropped_not_run(settings: Settings) -> None:
    """A refresh queued behind a figure under way when the app shuts down would read the
    store after it is closed (and log its error): it is dropped; the one under way ends."""
    gate, ran = threading.Event(), []

    def under_way() -> str:
        assert gate.wait(READY_WITHIN), "the test never released the figure"
        return "done"

    def queued() -> str:
        ran.append("queued")
        return "too late"

    with started_threads_end("web-figures", READY_WITHIN):  # the figures' worker ends
        try:
            with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
                web = web_of(client)
                assert web.wait_ready(READY_WITHIN)
                assert web.figures.peek(("under way",), under_way) is None  # the worker is busy
                assert web.figures.peek(("queued",), queued) is None  # behind it
        finally:
            gate.set()
    assert ran == []
