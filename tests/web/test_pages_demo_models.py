"""Every page in a real browser on real models (#19: "open every page on the demo
models"): a demand model, a capacity forecaster and an at-risk model trained on a demo-like
history, registered as ``ordercast train`` registers them and served by the production
registry loader, with a few publications whose accuracy is known.

The screenshots of these pages are the README's (docs/img/overview.png, demand.png,
capacity.png, at-risk.png, models.png): ORDERCAST_README_SCREENSHOTS=docs/img refreshes
them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api.main import create_app
from forecasting.capacity import CapacityForecaster
from forecasting.demand.serving import DemandServingModel
from forecasting.risk.model import AtRiskModel
from store.database import OrderStore
from store.ingest import ingest_records
from tests.api.conftest import ADMIN_KEY, READ_KEY, live_server
from tests.web.conftest import as_records, watching, web_settings
from tests.web.demo_models import (
    PUBLISHED_ERRORS,
    DemoRegistry,
    demo_orders,
    fit_capacity,
    fit_demand,
    fit_risk,
    publish_known_errors,
)
from tests.web.pages import chart, sign_in

pytestmark = pytest.mark.slow  # two model fits, a live uvicorn and a browser

DEMAND_SERIES = [
    "Period", "Actual", "Statistical", "Adjusted (plan)", "P10", "P90", "Published 1 ahead"
]  # fmt: skip
CAPACITY_SERIES = [
    "Period", "Available P10", "Available P50", "Available P90", "Capacity", "Likely shortfall"
]  # fmt: skip
RISK_SERIES = ["Period", "Overdue", "High risk", "Medium risk", "Low risk"]
ACCURACY_SERIES = ["Period", "WAPE", "Expected WAPE (backtest)", "P10–P90 coverage"]
SITE = "SITE-2"
DAYS = 28  # the capacity page's default horizon


@dataclass(frozen=True)
class Demo:
    url: str
    orders: pd.DataFrame
    demand: DemandServingModel
    capacity: CapacityForecaster
    risk: AtRiskModel
    origins: list[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The app over a registry holding the trained models (every kind's v1 champion) and an
    order store holding their history and five publications."""
    folder = tmp_path_factory.mktemp("demo-models")
    orders = demo_orders()
    registry = DemoRegistry(folder)
    demand = fit_demand(registry.settings, orders)
    capacity, risk = fit_capacity(orders), fit_risk(orders)
    registry.promote("demand", registry.register_demand_model(demand))
    registry.promote("capacity", registry.register_trained("capacity", capacity, orders))
    registry.promote("risk", registry.register_trained("risk", risk, orders))
    url = f"sqlite:///{folder / 'orders.db'}"
    store = OrderStore.open(url)
    ingest_records(store, as_records(orders), source="demo-model tests")
    origins = publish_known_errors(store, orders, registry.settings.demand.freq)
    settings = web_settings(registry, folder, url, f"{READ_KEY}:read,{ADMIN_KEY}:admin")
    app = create_app(settings, poll=False)
    with live_server(app) as base:
        assert app.state.web.wait_ready(300), "the pages' figures were not computed"
        yield Demo(base, orders, demand, capacity, risk, origins)


def test_the_overview_and_the_demand_page_draw_the_trained_forecast(
    browser: Any, demo: Demo, screenshots: Path
) -> None:
    with watching(browser, demo.url) as seen:
        page = seen.page
        sign_in(page, READ_KEY, "/web/")
        page.screenshot(path=screenshots / "overview.png", full_page=True)

        # The busiest SKU at one site: a series with history worth looking at.
        busiest = demo.orders.groupby(["sku", "site"])["quantity"].sum().idxmax()
        sku, site = (str(key) for key in busiest)
        page.goto(f"{demo.url}/web/demand?level=sku,site&series={sku}|{site}")
        drawn = chart(page, "demand")
        assert drawn["labels"] == DEMAND_SERIES
        served = demo.demand.forecast(
            sku=sku, site=site, level="sku,site", horizon=demo.demand.max_horizon
        )
        points = dict(zip(drawn["labels"], drawn["points"], strict=True))
        assert points["Statistical"] == points["P10"] == points["P90"] == len(served)
        assert points["Actual"] >= 40  # a year of weekly history from the order store
        # The chart draws the trained model's own forecast, week by week, and its band.
        columns = dict(zip(drawn["labels"], drawn["data"], strict=True))
        for label, column in (("Statistical", "mean"), ("P10", "q10"), ("P90", "q90")):
            values = [v for v in columns[label] if v is not None]
            assert values == pytest.approx(served[column].tolist(), rel=1e-6), label
        assert all(
            lo <= hi
            for lo, hi in zip(columns["P10"], columns["P90"], strict=True)
            if lo is not None
        )
        page.screenshot(path=screenshots / "demand.png", full_page=True)


def test_the_capacity_page_draws_the_trained_outlook(
    browser: Any, demo: Demo, screenshots: Path
) -> None:
    with watching(browser, demo.url) as seen:
        page = seen.page
        sign_in(page, READ_KEY, f"/web/capacity?site={SITE}")
        plan = chart(page, "capacity", "#capacity-chart")
        assert plan["labels"] == CAPACITY_SERIES
        points = dict(zip(plan["labels"], plan["points"], strict=True))
        assert points["Period"] == points["Available P50"] == points["Capacity"] == DAYS
        # The page draws the trained model's own outlook, day by day.
        outlook = demo.capacity.predict(DAYS, sites=[SITE])
        for column, drawn in zip(("available_p10", "available_p50", "available_p90", "capacity"),
                                 plan["data"][1:5], strict=True):  # fmt: skip
            assert drawn == pytest.approx(outlook[column].tolist(), rel=1e-6), column
        p10, p50, p90 = (plan["data"][i] for i in (1, 2, 3))
        assert all(lo <= mid <= hi for lo, mid, hi in zip(p10, p50, p90, strict=True))
        assert page.locator("#chart-table tbody tr").count() == DAYS
        assert plan["axes"][0] == "Day (ISO date)"
        # Below it, the backlog left at each day's end: the model's band and median.
        backlog = chart(page, "capacity-backlog", "#capacity-backlog-chart")
        assert backlog["labels"] == ["Period", "Backlog P10", "Backlog P50", "Backlog P90"]
        for column, drawn in zip(("backlog_p10", "backlog_p50", "backlog_p90"),
                                 backlog["data"][1:], strict=True):  # fmt: skip
            assert drawn == pytest.approx(outlook[column].tolist(), rel=1e-6), column

        # A fifth less capacity beside the plan: the scenario's capacity line is 0.8 times it.
        page.fill("#what-if-form input[name=capacity_change_pct]", "-20")
        page.click("#what-if-form button[type=submit]")
        page.wait_for_selector("#what-if-status:has-text('beside the plan')")
        scenario = chart(page, "capacity-whatif", "#capacity-whatif-chart")
        assert scenario["labels"] == CAPACITY_SERIES
        assert scenario["data"][4] == pytest.approx([0.8 * c for c in plan["data"][4]], rel=1e-6)
        # Less capacity can only leave as many shortfall days or more, and as much backlog.
        assert scenario["points"][5] >= plan["points"][5]
        more = chart(page, "capacity-whatif-backlog", "#capacity-whatif-backlog-chart")
        assert all(a >= b - 1e-9 for a, b in zip(more["data"][2], backlog["data"][2], strict=True))
        page.screenshot(path=screenshots / "capacity.png", full_page=True)

        # Staffing instead: 10 % overtime on open days and an 8-hour Saturday shift of 50
        # units an hour (a shift opens a closed day too).
        page.fill("#what-if-form input[name=capacity_change_pct]", "")
        page.fill("#what-if-form input[name=overtime_pct]", "10")
        page.fill("#what-if-form input[name=shift_hours]", "8")
        page.fill("#what-if-form input[name=shift_rate]", "50")
        page.select_option("#what-if-form select[name=shift_weekday]", "Sat")
        page.click("#what-if-form button[type=submit]")
        page.wait_for_selector("#scenario-caption:has-text('overtime_pct')")
        staffed = chart(page, "capacity-whatif", "#capacity-whatif-chart")
        saturdays = [pd.Timestamp(x, unit="s").dayofweek == 5 for x in plan["data"][0]]
        expected = [
            1.1 * c + (400.0 if saturday else 0.0)
            for c, saturday in zip(plan["data"][4], saturdays, strict=True)
        ]
        assert any(saturdays)
        assert staffed["data"][4] == pytest.approx(expected, rel=1e-6)


def percent_cells(page: Any) -> list[int]:
    cells = page.locator("#worklist tbody tr td:first-child").all_inner_texts()
    return [int(c.replace("%", "").strip()) for c in cells]


def test_the_at_risk_page_lists_the_trained_models_scores(
    browser: Any, demo: Demo, screenshots: Path
) -> None:
    with watching(browser, demo.url) as seen:
        page = seen.page
        sign_in(page, READ_KEY, "/web/at-risk")
        drawn = chart(page, "at-risk", "#at-risk-chart")
        assert drawn["labels"] == RISK_SERIES
        count = re.match(r"([\d,]+) lines in this view", page.locator("#view-count").inner_text())
        assert count is not None
        matching = int(count.group(1).replace(",", ""))
        # Every line of the view is in one week and one band of the chart.
        assert sum(sum(v for v in column if v) for column in drawn["data"][1:]) == matching
        scores = percent_cells(page)
        assert 10 < len(scores) <= matching and scores == sorted(scores, reverse=True)

        # Each line says what the trained model says of it alone, as of the page's date.
        as_of = re.search(r"Open lines as of (\d{4}-\d{2}-\d{2})", page.inner_text("main"))
        assert as_of is not None
        rows = page.locator("#worklist tbody tr")
        for i in (0, len(scores) // 2, len(scores) - 1):
            line_id = rows.nth(i).get_attribute("data-line")
            line = demo.orders[demo.orders["line_id"] == line_id]
            alone = demo.risk.score_lines(line, pd.Timestamp(as_of.group(1)), batch_history=False)
            assert abs(100 * float(alone["p_late"].iloc[0]) - scores[i]) <= 0.5, line_id
            band = rows.nth(i).locator("td:nth-child(2)").inner_text()
            assert band == alone["risk_band"].iloc[0]
            assert rows.nth(i).locator("ol.reasons li").count() >= 1
        # The laptop's screen, not the whole page: 250 rows make a picture nobody reads
        # (and take Chromium seconds to paint).
        page.screenshot(path=screenshots / "at-risk.png")


def test_the_models_page_shows_the_registry_and_accuracy_over_time(
    browser: Any, demo: Demo, screenshots: Path
) -> None:
    with watching(browser, demo.url) as seen:
        page = seen.page
        sign_in(page, ADMIN_KEY, "/web/models")
        for kind in ("demand", "capacity", "risk"):
            section = page.locator(f"#kind-{kind}")
            assert section.locator(".serving").inner_text() == "v1"
            assert "promoted" in section.locator("table.versions tbody tr").first.inner_text()

        # Five lag-1 publications, each off by a known share: WAPE 5 %, 10 % ... 25 %, every
        # actual inside its interval, against the backtest's 12 %.
        drawn = chart(page, "accuracy", "#accuracy-chart")
        assert drawn["labels"] == ACCURACY_SERIES
        assert drawn["points"] == [len(PUBLISHED_ERRORS)] * len(ACCURACY_SERIES)
        assert drawn["data"][1] == pytest.approx([100 * e for e in PUBLISHED_ERRORS])
        assert drawn["data"][2] == pytest.approx([12.0] * len(PUBLISHED_ERRORS))
        assert drawn["data"][3] == pytest.approx([100.0] * len(PUBLISHED_ERRORS))
        origins = page.locator("#accuracy-table tbody tr td:first-child").all_text_contents()
        assert origins == demo.origins
        page.screenshot(path=screenshots / "models.png", full_page=True)
