"""The at-risk worklist in a real browser: scored open lines worst first, filters, and a
CSV of exactly the filtered view; and what an empty store shows."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ordercast.settings import DatabaseSettings
from store.database import OrderStore
from tests.api.conftest import READ_KEY, settings_with
from tests.api.fakes import FakeLoader
from tests.web.conftest import Watched
from tests.web.pages import chart, sign_in

pytestmark = pytest.mark.slow  # a live uvicorn and a browser

SERIES = ["Period", "Overdue", "High risk", "Medium risk", "Low risk"]


def percents(page: Any) -> list[float]:
    cells = page.locator("#worklist tbody tr td:first-child").all_inner_texts()
    return [float(c.replace("%", "").strip()) for c in cells]


def test_the_worklist_filters_and_exports_its_view(watched: Watched, screenshots: Path) -> None:
    page = watched.page
    sign_in(page, READ_KEY, "/web/at-risk")
    drawn = chart(page, "at-risk", "#at-risk-chart")
    assert drawn["labels"] == SERIES
    # A week is drawn at its Monday, as the caption says (not at a period's end).
    assert drawn["axes"][0] == "Promised week, starting Monday (ISO date)"
    rows = page.locator("#worklist tbody tr")
    everything = rows.count()
    assert everything > 10  # the synthetic history leaves lines open at its end
    scores = percents(page)
    assert scores == sorted(scores, reverse=True)  # worst first
    # Lines per week by band add up to the lines listed.
    assert sum(sum(col) for col in drawn["data"][1:]) == everything
    first = rows.first.inner_text()
    assert re.search(r"\d{4}-\d{2}-\d{2}", first)  # the promised date, ISO
    assert page.locator("#worklist tbody tr").first.locator("ol.reasons li").count() == 3
    page.screenshot(path=screenshots / "at-risk-fake-model.png", full_page=True)

    page.select_option("#filters select[name=site]", "SITE-A")
    page.select_option("#filters select[name=band]", "high")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**band=high**")
    filtered = page.locator("#worklist tbody tr")
    shown = filtered.count()
    assert 0 < shown < everything
    sites = page.locator("#worklist tbody tr td:nth-child(4)").all_inner_texts()
    bands = page.locator("#worklist tbody tr td:nth-child(2)").all_inner_texts()
    assert set(sites) == {"SITE-A"} and set(bands) == {"high"}
    assert chart(page, "at-risk", "#at-risk-chart")["labels"] == SERIES
    page.screenshot(path=screenshots / "at-risk-filtered.png", full_page=True)

    with page.expect_download() as download:
        page.click("#csv-link")
    exported = list(csv.DictReader(Path(download.value.path()).read_text().splitlines()))
    lines = [filtered.nth(i).get_attribute("data-line") for i in range(shown)]
    assert [r["line_id"] for r in exported] == lines  # the same lines, in the same order
    assert {r["site"] for r in exported} == {"SITE-A"}
    assert {r["risk_band"] for r in exported} == {"high"}


def test_an_empty_store_is_said_plainly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    OrderStore.open(url)
    settings = settings_with().model_copy(update={"database": DatabaseSettings(url=url)})
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
        assert client.app.state.web.wait_ready(60)  # type: ignore[attr-defined]
        form = client.get("/web/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        client.post("/web/sign-in", data={"csrf": token.group(1)})
        page = client.get("/web/at-risk")
        assert page.status_code == 200
        assert "The order store holds no order lines yet" in page.text
        assert 'id="worklist"' not in page.text
        exported = client.get("/web/at-risk/data.csv").text.splitlines()
        assert exported[0].startswith("order_id,line_id,site,customer") and len(exported) == 1
