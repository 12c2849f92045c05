"""Dependencies: settings, the model snapshot and the caller's role, injected per request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeGuard, TypeVar

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.adjusted_demand import AdjustmentsView
from api.key_file import ServedKeys
from api.model_store import LoadedModel, Served, Snapshot, is_capacity, is_demand, is_risk
from api.response_cache import ResponseCache
from api.security import allows
from forecasting.cores import AnyCore, CapacityCore, DemandCore, RiskCore
from ordercast.settings import Settings

CoreT = TypeVar("CoreT", bound=AnyCore)

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Your API key: role 'read' for forecasts and scores, 'write' to push order "
    "lines (POST /v1/orders), 'admin' for everything including /v1/admin.",
)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_snapshot(request: Request) -> Snapshot:
    """One snapshot per request: the whole answer comes from the same model versions."""
    return request.app.state.store.snapshot


async def caller_role(
    request: Request, key: Annotated[str | None, Security(api_key_header)]
) -> str:
    """The role the presented key grants; 401 without a key or with an unknown one."""
    ring: ServedKeys = request.app.state.keys
    if ring.empty:
        request.state.caller = "local"
        return "admin"  # no keys configured: allowed on loopback only (checked at start-up)
    if not key:
        raise HTTPException(
            401,
            "missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    holder = ring.holder_of(key)
    if holder is None:
        raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": "APIKey"})
    request.state.caller, role = holder  # the key's name: who did it, for audit records
    return role


def require(needed: str) -> Callable[[str], Awaitable[str]]:
    """A dependency that lets through callers whose role grants ``needed``; else 403."""

    async def check(role: Annotated[str, Depends(caller_role)]) -> str:
        if not allows(role, needed):
            raise HTTPException(403, f"this endpoint needs the '{needed}' role; yours is '{role}'")
        return role

    return check


def model_of(
    kind: str, is_kind: Callable[[Served], TypeGuard[LoadedModel[CoreT]]]
) -> Callable[[Snapshot], Awaitable[LoadedModel[CoreT]]]:
    """A dependency giving the request's snapshot's model of ``kind`` (typed by its guard
    ``is_kind``); 503 if not loaded."""

    async def pick(snapshot: Annotated[Snapshot, Depends(get_snapshot)]) -> LoadedModel[CoreT]:
        loaded = snapshot.models.get(kind)
        if loaded is None or not is_kind(loaded):
            reason = snapshot.errors.get(kind, "not loaded yet")
            raise HTTPException(503, f"the {kind} model is not available ({reason}); see /ready")
        return loaded

    return pick


async def get_response_cache(request: Request) -> ResponseCache:
    return request.app.state.responses


SettingsDep = Annotated[Settings, Depends(get_settings)]
ReadRole = Annotated[str, Depends(require("read"))]
WriteRole = Annotated[str, Depends(require("write"))]
AdminRole = Annotated[str, Depends(require("admin"))]
CurrentSnapshot = Annotated[Snapshot, Depends(get_snapshot)]
DemandModel = Annotated[LoadedModel[DemandCore], Depends(model_of("demand", is_demand))]
CapacityModel = Annotated[LoadedModel[CapacityCore], Depends(model_of("capacity", is_capacity))]
RiskModel = Annotated[LoadedModel[RiskCore], Depends(model_of("risk", is_risk))]
ResponseCacheDep = Annotated[ResponseCache, Depends(get_response_cache)]


async def get_adjustments(request: Request) -> AdjustmentsView:
    return request.app.state.adjustments


AdjustmentsDep = Annotated[AdjustmentsView, Depends(get_adjustments)]
