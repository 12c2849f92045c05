"""Jinja2 templates for the pages, with the filters that keep numbers and dates readable:
thousands separators, ISO dates, percentages."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

TEMPLATES = Path(__file__).parent / "templates"
# Nothing from elsewhere: scripts, styles and images come from this app only (the pages
# embed their data as JSON in <script type="application/json">, which never runs).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show a signed-in planner's data: not kept by shared caches or the back button.
    "Cache-Control": "no-store",
}
# The nav every page shows, in order: (path under /web, title).
NAV = (
    ("/web/overview", "Overview"),
    ("/web/demand", "Demand"),
    ("/web/capacity", "Capacity"),
    ("/web/at-risk", "At-risk"),
    ("/web/models", "Models"),
)


def number(value: Any, decimals: int = 0) -> str:
    """1234567.8 -> '1,234,568' (or with ``decimals``); '–' for nothing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value):,.{decimals}f}"


def percent(value: Any, decimals: int = 1) -> str:
    """0.873 -> '87.3 %'; '–' for nothing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{100 * float(value):,.{decimals}f} %"


def iso_date(value: Any) -> str:
    """Any date or timestamp (or ISO text) -> 'YYYY-MM-DD'; '–' for nothing."""
    if value is None or value == "":
        return "–"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:10]


def iso_time(value: Any) -> str:
    """A timestamp -> 'YYYY-MM-DD HH:MM' (UTC as stored); '–' for nothing."""
    if value is None or value == "":
        return "–"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:16].replace("T", " ")


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters.update(number=number, percent=percent, iso_date=iso_date)
    templates.env.filters["iso_time"] = iso_time
    templates.env.globals["nav"] = NAV
    return templates


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """The template ``name`` with ``context``, the signed-in user's CSRF token and the
    pages' security headers."""
    templates: Jinja2Templates = request.app.state.web.templates
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(PAGE_HEADERS)
    return response
