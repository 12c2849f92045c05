"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import CurrentSnapshot
from api.model_store import Snapshot

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    """Which champion versions are serving and what failed to load."""

    ready: bool = Field(description="True when every model kind is loaded")
    models: dict[str, str] = Field(
        description="Kind -> registry version serving now", examples=[{"demand": "3"}]
    )
    errors: dict[str, str] = Field(
        description="Kind -> the last load error (the old version keeps serving)"
    )
    waiting_for: list[str] = Field(description="Kinds not loaded yet")
    checked_at: str | None = Field(None, description="When the registry was last checked (UTC)")


def ready_body(snapshot: Snapshot) -> Ready:
    return Ready(
        ready=snapshot.ready,
        models={kind: m.version for kind, m in snapshot.models.items()},
        errors=dict(snapshot.errors),
        waiting_for=snapshot.waiting_for,
        checked_at=snapshot.checked_at.isoformat() if snapshot.checked_at else None,
    )


@router.get("/health", response_model=Health, summary="The process is alive")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="Every model kind is loaded",
    description="200 when every kind has a champion loaded, else 503; both list the versions "
    "serving and the last load errors.",
    responses={503: {"model": Ready, "description": "Some model kind is not loaded yet"}},
)
def ready(snapshot: CurrentSnapshot) -> JSONResponse:
    body = ready_body(snapshot)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
