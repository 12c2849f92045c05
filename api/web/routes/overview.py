"""Overview: delivery, the open book, risk, capacity, accuracy and the models at a glance."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from api.accuracy_cache import AccuracyCacheDep
from api.deps import CurrentSnapshot
from api.routes.accuracy import accuracy
from api.routes.models import list_models
from api.web.figures import LIKELY, SHORTFALL_DAYS
from api.web.session import Reader, sessions_of
from api.web.state import WebStateDep
from api.web.templating import render

router = APIRouter(prefix="/web", tags=["pages"])
logger = logging.getLogger(__name__)


@router.get("/overview")
def overview(
    request: Request,
    user: Reader,
    web: WebStateDep,
    snapshot: CurrentSnapshot,
    cache: AccuracyCacheDep,
) -> Response:
    # The same functions as GET /v1/models and GET /v1/accuracy, called in-process.
    models = list_models(snapshot, user.role, cache)
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
        "accuracy": None,
        "accuracy_note": None,
    }
    try:
        answer = accuracy(user.role, cache, since=None, by="lag")
        context["accuracy"] = [row for row in answer.rows if row.lag is not None][:4]
    except HTTPException as exc:  # 404: nothing published and scored yet; 503: store down
        context["accuracy_note"] = str(exc.detail)
    return render(request, "overview.html", context)
