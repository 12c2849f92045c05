"""The demand page's published line: what was published one period ahead, beside what
happened (#19: "past published forecasts against actuals")."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ordercast.settings import DatabaseSettings, Settings
from store.database import OrderStore
from store.ingest import ingest_records
from store.publications import publish_forecasts
from tests.api.conftest import settings_with
from tests.api.fakes import FakeLoader
from tests.web.conftest import history_records
from tests.web.test_warm_up import signed_in

SERIES = "sku,site:SKU-2|SITE-B"
QUERY = "level=sku,site&series=SKU-2|SITE-B"


def publish(url: str, origin: str, forecasts: list[tuple[str, int, float]]) -> int:
    """One publication of SKU-2 at SITE-B: (period, lag, mean) rows."""
    frame = pd.DataFrame(
        [
            {"level": "sku,site", "series_id": SERIES, "ds": pd.Timestamp(ds), "lag": lag,
             "model": "ets", "mean": mean}
            for ds, lag, mean in forecasts
        ]
    )  # fmt: skip
    expectations = pd.DataFrame(
        [{"level": "sku,site", "lag": 1, "wape": 0.3, "mase": 0.9, "coverage80": 0.8}]
    )
    return publish_forecasts(
        OrderStore.open(url),
        kind="refresh",
        model_name="ordercast-demand",
        model_version="1",
        parent_version=None,
        origin=pd.Timestamp(origin),
        freq="W-SUN",
        forecasts=frame,
        expectations=expectations,
    )


@pytest.fixture()
def settings(tmp_path) -> Settings:
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    ingest_records(OrderStore.open(url), history_records(), source="published-line tests")
    # Two publications forecast 2023-12-10; the later one (a refresh) is what was said last.
    publish(url, "2023-11-26", [("2023-12-03", 1, 11.0), ("2023-12-10", 2, 99.0)])
    publish(url, "2023-12-03", [("2023-12-10", 1, 12.5), ("2023-12-17", 2, 77.0)])
    return settings_with().model_copy(update={"database": DatabaseSettings(url=url)})


def test_the_chart_carries_the_lag_1_forecast_of_each_past_period(settings: Settings) -> None:
    with TestClient(create_app(settings, loader=FakeLoader("1"), poll=False)) as client:
        signed_in(client)
        chart = client.get(f"/web/demand/data?{QUERY}").json()["chart"]
        said = dict(zip(chart["ds"], chart["published"], strict=True))
        assert said["2023-12-03"] == 11.0
        assert said["2023-12-10"] == 12.5  # lag 1 only: the lag-2 99.0 is not what was said
        assert "2023-12-17" not in said or said["2023-12-17"] is None
        actual = dict(zip(chart["ds"], chart["actual"], strict=True))
        assert actual["2023-12-03"] is not None  # held against what happened that week

        csv = client.get(f"/web/demand/data.csv?{QUERY}").text.splitlines()
        assert csv[0].endswith(",published_lag1")
        row = next(line for line in csv if ",2023-12-10," in line)
        assert row.endswith(",12.5000")


def test_a_new_publication_is_read_again(settings: Settings) -> None:
    # Figures older than api.poll_seconds are refreshed in the background: with 0 every
    # read queues a refresh, which reads the store again only when a publication was added.
    fresh = settings.model_copy(update={"api": settings.api.model_copy(update={"poll_seconds": 0})})
    with TestClient(create_app(fresh, loader=FakeLoader("1"), poll=False)) as client:
        web = client.app.state.web  # type: ignore[attr-defined]
        assert len(web.published()) == 2
        publish(str(settings.database.url), "2023-12-10", [("2023-12-17", 1, 15.0)])
        deadline = time.monotonic() + 60
        while len(web.published()) == 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        again = web.published()
        assert len(again) == 3 and again["mean"].iloc[-1] == 15.0
