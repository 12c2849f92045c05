"""Operations: reload the champions now (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
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
    "in `errors`. 503 when the service is not ready after it (a kind without a champion, or "
    "a registry that cannot be read), with the same body. Needs the `admin` role.",
    responses={
        **documented(401, 403),
        503: {"model": Ready, "description": "Not ready after the reload; `errors` say why"},
    },
)
async def reload(request: Request, _: AdminRole) -> JSONResponse:
    snapshot = await run_in_threadpool(request.app.state.store.refresh)
    # A reload that leaves the service unready fails as /ready does: an operator script
    # checking the status code must not take a vanished store for a successful reload.
    body = ready_body(snapshot)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)
