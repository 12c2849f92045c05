"""The capacity page in a real browser: the plan's band against capacity, a what-if
scenario drawn beside it, the table view and the CSV agree."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.api.conftest import READ_KEY
from tests.api.fakes import FakeCapacity
from tests.web.conftest import Watched
from tests.web.pages import chart, sign_in

pytestmark = pytest.mark.slow  # a live uvicorn and a browser

SERIES = [
    "Period", "Available P10", "Available P50", "Available P90", "Capacity", "Likely shortfall"
]  # fmt: skip
DAYS = FakeCapacity.max_horizon  # the page asks four weeks, the fake's longest horizon


def test_the_plan_and_a_what_if_side_by_side(watched: Watched, screenshots: Path) -> None:
    page = watched.page
    sign_in(page, READ_KEY, "/web/capacity?site=SITE-B")
    plan = chart(page, "capacity", "#capacity-chart")
    assert plan["labels"] == SERIES
    points = dict(zip(plan["labels"], plan["points"], strict=True))
    assert points["Available P50"] == points["Capacity"] == DAYS
    # The fake's workload at SITE-B is 100 a day (P10 80, P90 120) against capacity 100.
    assert set(plan["data"][2]) == {100} and set(plan["data"][4]) == {100}
    assert page.locator("#chart-table tbody tr").count() == DAYS
    assert page.locator("#scenario-box").is_hidden()

    # A quarter less capacity, drawn beside the plan (the plan unchanged).
    page.fill("#what-if-form input[name=capacity_change_pct]", "-25")
    page.click("#what-if-form button[type=submit]")
    page.wait_for_selector("#what-if-status:has-text('beside the plan')")
    scenario = chart(page, "capacity-whatif", "#capacity-whatif-chart")
    assert scenario["labels"] == SERIES
    assert set(scenario["data"][4]) == {75}
    assert set(chart(page, "capacity", "#capacity-chart")["data"][4]) == {100}
    assert page.locator("#compare-table tbody tr").count() == 2
    page.screenshot(path=screenshots / "capacity-fake-model.png", full_page=True)

    # The CSV holds the days of the table view.
    with page.expect_download() as download:
        page.click("#csv-link")
    rows = list(csv.DictReader(Path(download.value.path()).read_text().splitlines()))
    assert len(rows) == DAYS and {r["site"] for r in rows} == {"SITE-B"}
    first = page.locator("#chart-table tbody tr td").first.text_content() or ""
    assert rows[0]["ds"] == first[:10]


def test_another_site_and_a_bad_closure_are_told(watched: Watched) -> None:
    page = watched.page
    sign_in(page, READ_KEY, "/web/capacity")
    page.select_option("#site", "SITE-A")
    page.fill("#site-form input[name=horizon]", "7")
    page.click("#site-form button[type=submit]")
    page.wait_for_url("**site=SITE-A**")
    assert chart(page, "capacity", "#capacity-chart")["points"][0] == 7
    page.fill("#what-if-form input[name=closures]", "next monday")
    page.click("#what-if-form button[type=submit]")
    page.wait_for_selector("#what-if-status.problem")
    assert "ISO dates" in page.locator("#what-if-status").inner_text()
