"""Overview: delivery, the open book, risk, capacity, accuracy and the models at a glance."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import CurrentSnapshot
from api.web.figures import LIKELY, SHORTFALL_DAYS
from api.web.session import Reader, sessions_of
from api.web.state import WebStateDep
from api.web.templating import render

router = APIRouter(prefix="/web", tags=["pages"])
logger = logging.getLogger(__name__)


@router.get("/overview")
def overview(
    request: Request, user: Reader, web: WebStateDep, snapshot: CurrentSnapshot
) -> Response:
    # GET /v1/models' and GET /v1/accuracy's own functions, called in-process and kept
    # with the store figures (api/web/state.py).
    models = web.models(snapshot)
    rows, note = web.accuracy_by_lag()
    context: dict[str, Any] = {
        "title": "Overview",
        "user": user,
        "csrf": sessions_of(request).csrf_token(user),
        "book": web.figures.book(),
        "risk": web.figures.risk(snapshot),
        "shortfalls": web.figures.shortfalls(snapshot),
        "shortfall_days": SHORTFALL_DAYS,
        "likely": LIKELY,
        "models": models,
        "waiting": snapshot.waiting_for,
        "drift": next((m.drift for m in models if m.kind == "demand"), None),
        "accuracy": rows,
        "accuracy_note": note,
    }
    return render(request, "overview.html", context)
