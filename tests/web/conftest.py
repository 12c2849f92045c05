"""The planner's pages served by a live uvicorn over a real MLflow registry and an order
store with a history, and a real Chromium (Debian's package) driven by Playwright.

The registry is tests/api's ``real_store`` (the production demand pyfunc, loaded by the
production loader); the order store holds a synthetic history of the same SKUs and sites,
ending the week before the forecasts start, so the pages have actuals, open lines to score
and adjustments to record.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api.main import create_app
from forecasting.synthetic import generate_orders
from ordercast.settings import ApiSettings, DatabaseSettings
from store.database import OrderStore
from store.ingest import ingest_records
from tests.api.conftest import ADMIN_KEY, READ_KEY, live_server, real_store
from tests.api.fakes import SITES, SKUS
from tests.api.registry import RealRegistry

__all__ = ["real_store"]  # tests/api's fixture, reused here (a fixture is found by its name)

WRITE_KEY = "writer-secret-3"
# Debian's chromium: Playwright's own browser download cannot reach the internet here.
CHROMIUM = Path(os.environ.get("ORDERCAST_CHROMIUM", "/usr/bin/chromium"))
HOW_TO_INSTALL = (
    f"no Chromium at {CHROMIUM}: the browser tests need Debian's package. Install it with "
    "`sudo apt-get install -y chromium` (`make test` does this when run as root), or point "
    "ORDERCAST_CHROMIUM at a Chromium binary"
)


def web_settings(registry: RealRegistry, folder: Path, url: str, keys: str) -> Any:
    """``registry``'s settings with the order store at ``url`` and the API ``keys``
    ("key:role,..."), the key file in ``folder``, no polling: how every page test serves."""
    return registry.settings.model_copy(
        update={
            "database": DatabaseSettings(url=url),
            "api": ApiSettings(
                api_keys=keys, keys_file=folder / "api-keys.json", poll_seconds=3600
            ),
        }
    )


def history_records() -> list[dict[str, Any]]:
    """A synthetic history of tests/api's SKUs and sites, ending 2023-12-31: the demand
    pyfunc's forecasts start the next week (2024-01-07)."""
    orders = generate_orders(sites=len(SITES), skus=len(SKUS), days=210, start="2023-06-04", seed=3)
    frame = orders.orders
    frame["sku"] = frame["sku"].map(dict(zip(sorted(frame["sku"].unique()), SKUS, strict=True)))
    frame["site"] = frame["site"].map(dict(zip(sorted(frame["site"].unique()), SITES, strict=True)))
    return as_records(frame)


def as_records(orders: pd.DataFrame) -> list[dict[str, Any]]:
    """Order lines as the ingest takes them: dates as ISO text, missing values None."""
    # pandas-stubs list no overload for None as the replacement, which pandas documents.
    frame = orders.astype(object).where(orders.notna(), None)  # type: ignore[call-overload]
    for column in ("order_date", "promised_date", "ship_date", "delivered_date"):
        frame[column] = [None if v is None else f"{v:%Y-%m-%d}" for v in frame[column]]
    return frame.to_dict("records")


@pytest.fixture(scope="session")
def web_url(real_store: RealRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with read, write and admin keys, served by uvicorn on loopback."""
    folder = tmp_path_factory.mktemp("web-store")
    url = f"sqlite:///{folder / 'orders.db'}"
    ingest_records(OrderStore.open(url), history_records(), source="web tests")
    keys = f"{READ_KEY}:read,{WRITE_KEY}:write,{ADMIN_KEY}:admin"
    settings = web_settings(real_store, folder, url, keys)
    app = create_app(settings, poll=False)
    with live_server(app) as base:
        # The pages' figures are computed in the background from the start; the browser
        # tests check the pages with them (tests/web/test_warm_up.py checks the wait).
        assert app.state.web.wait_ready(300), "the pages' figures were not computed"
        yield base


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Fails (never skips) without the browser: CI must not pass by testing nothing."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(HOW_TO_INSTALL, pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@dataclass
class Watched:
    """A browser page with every console error, page error and failed request kept."""

    page: Any
    problems: list[str] = field(default_factory=list)


@contextlib.contextmanager
def watching(browser: Any, base_url: str) -> Iterator[Watched]:
    """A fresh browser context (no cookies) on ``base_url`` at a laptop's size; any console
    error, page error, failed request or HTTP >= 400 fails the test at the end."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Watched(page)
    page.on(
        "console",
        lambda msg: (
            seen.problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: seen.problems.append(f"page error: {exc}"))
    page.on(
        "requestfailed",
        lambda request: seen.problems.append(f"request failed: {request.url} {request.failure}"),
    )
    page.on(
        "response",
        lambda response: (
            seen.problems.append(f"HTTP {response.status}: {response.url}")
            if response.status >= 400
            else None
        ),
    )
    try:
        yield seen
    finally:
        context.close()
    assert not seen.problems, "\n".join(seen.problems)


@pytest.fixture()
def watched(browser: Any, web_url: str) -> Iterator[Watched]:
    """:func:`watching` the shared app's pages."""
    with watching(browser, web_url) as seen:
        yield seen


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for screenshots of each page, under the run's temp folder. With
    ORDERCAST_README_SCREENSHOTS=docs/img they are copied there at the end, to refresh the
    README's pictures."""
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    target = os.environ.get("ORDERCAST_README_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.glob("*.png")):
            shutil.copy2(path, Path(target) / path.name)
