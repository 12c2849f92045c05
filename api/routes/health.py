"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import CurrentSnapshot
from api.model_store import SERVED_KINDS

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    models: dict[str, str]
    errors: dict[str, str]
    waiting_for: list[str]


@router.get("/health", response_model=Health, summary="The process is alive")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Ready,
    summary="Every model kind is loaded",
    responses={503: {"model": Ready, "description": "Some model kind is not loaded yet"}},
)
def ready(snapshot: CurrentSnapshot) -> JSONResponse:
    body = Ready(
        ready=snapshot.ready,
        models={kind: m.version for kind, m in snapshot.models.items()},
        errors=snapshot.errors,
        waiting_for=[k for k in SERVED_KINDS if k not in snapshot.models],
    )
    return JSONResponse(body.model_dump(), status_code=200 if snapshot.ready else 503)
