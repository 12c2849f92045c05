"""Operations: reload the champions now (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import AdminRole
from api.errors import documented
from api.routes.health import Ready, ready_body

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=Ready,
    summary="Load changed champions now",
    description="Checks the registry's `champion` aliases and loads any new version, off the "
    "request path of other callers; a failed load keeps the old version serving and is listed "
    "in `errors`. Needs the `admin` role.",
    responses=documented(401, 403),
)
async def reload(request: Request, _: AdminRole) -> Ready:
    snapshot = await run_in_threadpool(request.app.state.store.refresh)
    return ready_body(snapshot)
