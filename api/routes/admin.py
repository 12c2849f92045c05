"""Operations: reload the champions now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import AdminRole
from api.routes.health import Ready

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/reload", response_model=Ready, summary="Load changed champions now (admin)")
async def reload(request: Request, _: AdminRole) -> Ready:
    snapshot = await run_in_threadpool(request.app.state.store.refresh)
    return Ready(
        ready=snapshot.ready,
        models={k: m.version for k, m in snapshot.models.items()},
        errors=snapshot.errors,
        waiting_for=[k for k in ("demand",) if k not in snapshot.models],
    )
