"""Overview: delivery, the open book, risk, capacity, accuracy and the models at a glance."""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import CurrentSnapshot
from api.model_store import is_risk
from api.web.figures import LIKELY, SHORTFALL_DAYS, risk_summary
from api.web.session import Reader, sessions_of
from api.web.state import WebStateDep, pending_page
from api.web.templating import render

router = APIRouter(prefix="/web", tags=["pages"])
logger = logging.getLogger(__name__)


@router.get("/overview")
def overview(
    request: Request, user: Reader, web: WebStateDep, snapshot: CurrentSnapshot
) -> Response:
    # Every figure is computed once in the background (from the app's start) and kept
    # (api/web/figures.py); one still being computed is waited for at most web.grace
    # seconds, then the page says so and reloads itself a few seconds later.
    deadline = time.monotonic() + web.grace  # one grace for the whole page

    def left() -> float:
        return max(0.0, deadline - time.monotonic())

    # GET /v1/models' and GET /v1/accuracy's own functions, called in-process and kept
    # with the store figures (api/web/state.py).
    models = web.models_now(snapshot, left())
    accuracy = web.accuracy_by_lag_now(left())
    rows, note = accuracy if accuracy is not None else ([], None)
    book = web.figures.book(left())
    loaded = snapshot.models.get("risk")
    scored = None
    if loaded is not None and is_risk(loaded):
        scored = web.figures.worklist(loaded, left())  # the at-risk page's own scored book
    shortfalls = web.figures.shortfalls(snapshot, left())
    capacity_loaded = "capacity" in snapshot.models
    pending = {
        "book": book is None,
        "risk": scored is None and loaded is not None,
        "shortfalls": shortfalls is None and capacity_loaded,
        "accuracy": accuracy is None,
        "models": models is None,
    }
    context: dict[str, Any] = {
        "title": "Overview",
        "user": user,
        "csrf": sessions_of(request).csrf_token(user),
        "book": book,
        "risk": None if scored is None else risk_summary(scored),
        "shortfalls": shortfalls,
        "shortfall_days": SHORTFALL_DAYS,
        "likely": LIKELY,
        "models": models or [],
        "waiting": snapshot.waiting_for,
        "drift": next((m.drift for m in models or [] if m.kind == "demand"), None),
        "accuracy": rows,
        "accuracy_note": note,
        "pending": pending,
        "computing": any(pending.values()),
    }
    response = render(request, "overview.html", context)
    return pending_page(response) if context["computing"] else response
