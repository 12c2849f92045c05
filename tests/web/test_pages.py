"""The planner's pages in a real browser: sign in, every page opens and draws, the
adjustment form changes the chart and the API, and nothing logs an error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ADMIN_KEY, READ_KEY
from tests.api.fakes import HORIZON
from tests.web.conftest import Watched
from tests.web.pages import chart, sign_in

pytestmark = pytest.mark.slow  # a live uvicorn and a browser

SERIES = [
    "Period", "Actual", "Statistical", "Adjusted (plan)", "P10", "P90", "Published 1 ahead"
]  # fmt: skip


def test_sign_in_then_the_overview(watched: Watched, screenshots: Path) -> None:
    page = watched.page
    page.goto("/web/overview")
    page.wait_for_url("**/web/sign-in?next=%2Fweb%2Foverview")
    page.screenshot(path=screenshots / "sign-in.png")
    page.fill("#key", READ_KEY)
    page.click("button[type=submit]")
    page.wait_for_url("**/web/overview")

    assert page.locator("#on-time .big").inner_text().endswith("%")
    assert int(page.locator("#open-book .big").inner_text().replace(",", "")) > 0
    assert page.locator("#high-risk .big").count() == 1  # the open lines were scored
    assert "api-key-1 (read)" in page.locator(".who").inner_text()
    kinds = page.locator("#models tbody tr td:first-child").all_inner_texts()
    assert sorted(kinds) == ["capacity", "demand", "risk"]
    for label in ("Overview", "Demand", "Capacity", "At-risk", "Models"):
        assert page.locator("nav a", has_text=label).count() == 1
    page.screenshot(path=screenshots / "overview.png", full_page=True)


def test_the_demand_chart_draws_history_forecast_and_band(
    watched: Watched, screenshots: Path
) -> None:
    page = watched.page
    sign_in(page, READ_KEY, "/web/demand?level=sku,site&series=SKU-1|SITE-A")
    drawn = chart(page, "demand")
    assert drawn["labels"] == SERIES
    assert drawn["canvases"] == 1
    points = dict(zip(drawn["labels"], drawn["points"], strict=True))
    assert points["Actual"] > 10  # weeks of history from the order store
    assert points["Statistical"] == points["Adjusted (plan)"] == points["P10"] == HORIZON
    # The table view holds the same periods as the chart.
    assert page.locator("#chart-table tbody tr").count() == points["Period"]
    # A read key sees no adjustment form, and is told why.
    assert page.locator("#adjust-form").count() == 0
    page.screenshot(path=screenshots / "demand.png", full_page=True)

    # The picker searches the server and opens the series picked.
    page.fill("#series-search", "sku-2 site-b")
    page.wait_for_selector("#series-matches a")
    found = page.locator("#series-matches a").all_inner_texts()
    assert found == ["sku SKU-2 · site SITE-B [sku,site]"]
    page.click("#series-matches a")
    page.wait_for_url("**series=SKU-2%7CSITE-B**")
    assert page.locator("#series-label").inner_text() == "sku SKU-2 · site SITE-B"
    assert chart(page, "demand")["labels"] == SERIES


def test_an_adjustment_redraws_the_chart_and_reaches_the_api(
    watched: Watched, web_url: str, screenshots: Path
) -> None:
    page = watched.page
    # An admin key: a write key is an order-management system's, which reads no page.
    sign_in(page, ADMIN_KEY, "/web/demand?level=sku,site&series=SKU-2|SITE-B")
    before = chart(page, "demand")["data"]
    first = next(i for i, v in enumerate(before[3]) if v is not None)
    # Two periods, picked from the served forecast's (ISO) period ends.
    periods = page.locator("#adjust-form select[name=end] option").all_inner_texts()
    assert periods[0] == before_day(before, first) and len(periods) == HORIZON
    page.select_option("#adjust-form select[name=end]", periods[1])
    page.select_option("#adjust-form select[name=kind]", "set")
    page.fill("#adjust-form input[name=value]", "500")
    page.fill("#adjust-form input[name=reason]", "ACME confirmed a 500-unit call-off")
    page.click("#adjust-form button[type=submit]")
    page.wait_for_selector("#adjust-status:has-text('Applied')")

    after = chart(page, "demand")["data"]
    assert after[3][first] == after[3][first + 1] == 500  # the plan (adjusted line) redrawn
    assert after[2][first] == before[2][first]  # the statistical line unchanged
    history = page.locator("#history tbody tr").first.inner_text()
    assert "api-key-3" in history and "ACME confirmed" in history and "active" in history
    page.screenshot(path=screenshots / "demand-adjusted.png", full_page=True)

    # The API serves the adjusted plan to every caller.
    answer = served_first_period(web_url)
    assert answer["mean"] == 500
    assert answer["statistical"] == before[2][first]

    # Revoked (audited, not erased): the plan is the statistical forecast again.
    page.click("#history tbody tr >> nth=0 >> button.revoke")
    page.wait_for_selector("#adjust-status:has-text('Revoked')")
    assert chart(page, "demand")["data"][3][first] == before[3][first]
    assert "revoked" in page.locator("#history tbody tr").first.inner_text()
    assert page.locator("#history button.revoke").count() == 0
    again = served_first_period(web_url)
    assert again["mean"] == before[3][first]


def test_the_csv_download(watched: Watched, screenshots: Path) -> None:
    page = watched.page
    sign_in(page, ADMIN_KEY, "/web/demand")
    with page.expect_download() as download:
        page.click("#csv-link")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0] == (
        "level,series_id,ds,actual,statistical,adjusted,p10,p90,published_lag1"
    )


def served_first_period(web_url: str) -> dict[str, float]:
    """The first period of SKU-2 at SITE-B as POST /v1/forecasts/demand serves it."""
    answer = httpx.post(
        f"{web_url}/v1/forecasts/demand",
        headers={"X-API-Key": READ_KEY},
        json={"sku": "SKU-2", "site": "SITE-B", "horizon": 1},
        timeout=30,
    ).json()
    return answer["points"][0]


def before_day(columns: list[list[float | None]], index: int) -> str:
    """The ISO date of a chart column's ``index`` (x is in epoch seconds, UTC)."""
    seconds = columns[0][index]
    assert seconds is not None
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%d}"
