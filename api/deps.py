"""Dependencies: settings, the model snapshot and the caller's role, injected per request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.model_store import LoadedModel, Snapshot
from api.security import KeyRing, allows
from training.settings import Settings

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Your API key (role read, or admin for /v1/admin).",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_snapshot(request: Request) -> Snapshot:
    """One snapshot per request: the whole answer comes from the same model versions."""
    return request.app.state.store.snapshot


def caller_role(request: Request, key: Annotated[str | None, Security(api_key_header)]) -> str:
    ring: KeyRing = request.app.state.keys
    if ring.empty:
        return "admin"  # no keys configured: only allowed on loopback (checked at start-up)
    if not key:
        raise HTTPException(401, "missing API key: send it in the X-API-Key header")
    role = ring.role_of(key)
    if role is None:
        raise HTTPException(401, "unknown API key")
    return role


def require(needed: str):  # type: ignore[no-untyped-def]
    def check(role: Annotated[str, Depends(caller_role)]) -> str:
        if not allows(role, needed):
            raise HTTPException(403, f"this endpoint needs the '{needed}' role")
        return role

    return check


def model_of(kind: str):  # type: ignore[no-untyped-def]
    def pick(snapshot: Annotated[Snapshot, Depends(get_snapshot)]) -> LoadedModel:
        loaded = snapshot.models.get(kind)
        if loaded is None:
            raise HTTPException(503, f"the {kind} model is not loaded yet; see /ready")
        return loaded

    return pick


ReadRole = Annotated[str, Depends(require("read"))]
AdminRole = Annotated[str, Depends(require("admin"))]
CurrentSnapshot = Annotated[Snapshot, Depends(get_snapshot)]
DemandModel = Annotated[LoadedModel, Depends(model_of("demand"))]
