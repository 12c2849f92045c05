"""The pages on a tablet (768 x 1024, portrait): nothing wider than the screen, the chart
drawn to fit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import ADMIN_KEY
from tests.web.conftest import Watched
from tests.web.pages import chart, sign_in

pytestmark = pytest.mark.slow  # a live uvicorn and a browser

TABLET = {"width": 768, "height": 1024}


@pytest.fixture()
def tablet(watched: Watched) -> Iterator[Any]:
    watched.page.set_viewport_size(TABLET)
    yield watched.page


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_overview_and_demand_fit_a_tablet(tablet: Any, screenshots: Path) -> None:
    sign_in(tablet, ADMIN_KEY, "/web/overview")
    assert overflow(tablet) <= 0
    tablet.goto("/web/demand?level=site&series=SITE-A")
    drawn = chart(tablet, "demand")
    assert drawn["width"] <= TABLET["width"]
    assert overflow(tablet) <= 0
    tablet.screenshot(path=screenshots / "demand-tablet.png", full_page=True)
