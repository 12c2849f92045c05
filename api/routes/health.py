"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.deps import CurrentSnapshot, api_key_header
from api.key_file import ServedKeys
from api.model_store import Snapshot
from forecasting.redaction import redact

# What a caller without a key learns of a load failure: that it failed, not where or why
# (the text names store paths, hosts and library internals).
UNDISCLOSED = "failed to load; the reason is shown to callers with an API key and in the log"

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


def ready_body(snapshot: Snapshot, disclose: bool = True) -> Ready:
    """The readiness report; ``disclose=False`` keeps each load error's text back."""
    return Ready(
        ready=snapshot.ready,
        models={kind: m.version for kind, m in snapshot.models.items()},
        errors={k: redact(v) if disclose else UNDISCLOSED for k, v in snapshot.errors.items()},
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
    "serving and the last load errors (their reasons only for a caller with an API key).",
    responses={503: {"model": Ready, "description": "Some model kind is not loaded yet"}},
)
def ready(snapshot: CurrentSnapshot, request: Request) -> JSONResponse:
    # Open to probes without a key; the reasons behind a failure only with a valid one. The
    # header is read here, not through the security scheme, so the documented endpoint stays
    # open (a declared scheme would tell clients and schema checkers a key is required).
    ring: ServedKeys = request.app.state.keys
    key = request.headers.get(api_key_header.model.name)
    disclose = ring.empty or (key is not None and ring.role_of(key) is not None)
    body = ready_body(snapshot, disclose=disclose)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
