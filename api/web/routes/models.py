"""Models: every registered version of the three kinds, champion and challenger, the gate's
decisions and scores (with their direction), demand accuracy over time; promote and roll
back for admin keys."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from mlflow.tracking import MlflowClient
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.accuracy_cache import AccuracyCache
from api.deps import CurrentSnapshot
from api.model_store import Snapshot
from api.routes.accuracy import accuracy
from api.routes.models import KindModels, list_models
from api.security import allows
from api.web.session import CsrfChecked, Reader, WebUser, needs, sessions_of
from api.web.state import WebState, WebStateDep
from api.web.templating import render
from training import registry, tracking
from training.serving import KINDS, sqlite_file

router = APIRouter(prefix="/web/models", tags=["pages"])
logger = logging.getLogger(__name__)
Admin = Annotated[WebUser, Depends(needs("admin"))]
Kind = Literal["demand", "capacity", "risk"]


@router.get("")
def models_page(
    request: Request, user: Reader, web: WebStateDep, snapshot: CurrentSnapshot
) -> Response:
    served = _served(snapshot)
    cache: AccuracyCache = request.app.state.accuracy
    kinds = _kinds(web, snapshot, cache, served)
    versions, registry_note = _versions(web, served)
    history, history_note = _accuracy_over_time(web, cache)
    context: dict[str, Any] = {
        "title": "Models",
        "user": user,
        "csrf": sessions_of(request).csrf_token(user),
        "kinds": {k.kind: k for k in kinds},
        "kind_names": KINDS,
        "versions": versions,
        "registry_note": registry_note,
        "metrics": registry.METRICS,
        "direction": registry.DIRECTION,
        "history": history,
        "history_note": history_note,
        "can_promote": allows(user.role, "admin"),
        "waiting": snapshot.waiting_for,
    }
    return render(request, "models.html", context)


class Promotion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    version: Annotated[str, Field(pattern=r"^[0-9]{1,9}$")]


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    to: Annotated[str, Field(pattern=r"^[0-9]{1,9}$")] | None = None


@router.post("/promote")
async def promote(
    body: Promotion, request: Request, user: Admin, _: CsrfChecked, web: WebStateDep
) -> JSONResponse:
    """``ordercast models promote KIND VERSION`` (training.registry.promote), then the
    service loads the new champion at once instead of at its next poll."""
    client = _client(web)
    name = registry.model_name(body.kind)
    await run_in_threadpool(registry.promote, client, name, body.version)
    logger.warning(
        "%s promoted %s v%s to champion from the models page", user.name, name, body.version
    )
    return await _reloaded(request, body.kind, f"{name} v{body.version} is now champion")


@router.post("/rollback")
async def rollback(
    body: Rollback, request: Request, user: Admin, _: CsrfChecked, web: WebStateDep
) -> JSONResponse:
    """``ordercast models rollback KIND [--to VERSION]`` (training.registry.rollback)."""
    client = _client(web)
    name = registry.model_name(body.kind)
    version = await run_in_threadpool(registry.rollback, client, name, body.to)
    logger.warning("%s rolled %s back to v%s from the models page", user.name, name, version)
    return await _reloaded(request, body.kind, f"{name} champion rolled back to v{version}")


def _client(web: WebState) -> MlflowClient:
    """A client of the configured registry; 409 when its SQLite file does not exist (a page
    must not create an empty registry where the service serves from another loader)."""
    uri = web.settings.mlflow.tracking_uri
    path = sqlite_file(uri)
    if path is not None and not path.is_file():
        raise HTTPException(409, f"no model registry at {path}: run `ordercast train all`")
    return tracking.connect(web.settings)


async def _reloaded(request: Request, kind: str, message: str) -> JSONResponse:
    snapshot: Snapshot = await run_in_threadpool(request.app.state.store.refresh)
    loaded = snapshot.models.get(kind)
    return JSONResponse(
        {
            "message": message,
            "kind": kind,
            "serving": None if loaded is None else loaded.version,
            "error": snapshot.errors.get(kind),
        }
    )


def _served(snapshot: Snapshot) -> tuple[Any, ...]:
    """What the pages' kept figures depend on: each kind's served version, when it was
    loaded, and the registry's champion and challenger (re-read on every refresh)."""
    return tuple(
        sorted(
            (
                kind,
                m.version,
                m.loaded_at,
                None if m.champion is None else m.champion.version,
                None if m.challenger is None else m.challenger.version,
            )
            for kind, m in snapshot.models.items()
        )
    )


def _kinds(
    web: WebState, snapshot: Snapshot, cache: AccuracyCache, served: tuple[Any, ...]
) -> list[KindModels]:
    # GET /v1/models' own answer; its drift flag reads the store (seconds on the demo).
    return web.figures.kept(("models", served), lambda: list_models(snapshot, "read", cache))


def _versions(
    web: WebState, served: tuple[Any, ...]
) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Every registered version by kind, newest first (``ordercast models list``); a note
    instead when the registry cannot be read."""

    def compute() -> tuple[dict[str, list[dict[str, Any]]], str | None]:
        try:
            frame = registry.list_versions(_client(web))
        except HTTPException as exc:
            return {}, str(exc.detail)
        except Exception as exc:  # a registry that cannot be read must not take the page down
            logger.exception("listing the registry's versions failed")
            return {}, f"the registry could not be read ({type(exc).__name__}: {exc})"
        out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        for row in frame.sort_values(["kind", "version"], ascending=[True, False]).to_dict(
            "records"
        ):
            aliases = [a for a in str(row["aliases"]).split(",") if a]
            out.setdefault(str(row["kind"]), []).append(
                {
                    "version": str(row["version"]),
                    "aliases": aliases,
                    "created": str(row["created"]),
                    "score": str(row["score"]),
                    "decision": str(row["decision"]),
                    "reason": str(row["reason"]),
                    "promotable": "champion" not in aliases
                    and row["decision"] in ("promoted", "rejected"),
                }
            )
        return out, None

    return web.figures.kept(("registry versions", served), compute)


def _accuracy_over_time(
    web: WebState, cache: AccuracyCache
) -> tuple[dict[str, list[Any]], str | None]:
    """Demand accuracy of the published forecasts by origin (GET /v1/accuracy?by=origin):
    WAPE and 80% interval coverage per publication, with what the backtest expected."""

    def compute() -> tuple[dict[str, list[Any]], str | None]:
        try:
            answer = accuracy("read", cache, since=None, by="origin")
        except HTTPException as exc:  # 404: nothing published and scored yet; 503: store down
            return {}, str(exc.detail)
        dated = sorted(
            ((r.origin, r) for r in answer.rows if r.origin is not None), key=lambda p: p[0]
        )
        rows = [r for _, r in dated]
        return {
            "origin": [f"{day:%Y-%m-%d}" for day, _ in dated],
            "wape": [r.wape for r in rows],
            "expected_wape": [r.expected_wape for r in rows],
            "coverage80": [r.coverage80 for r in rows],
            "n": [r.n for r in rows],
        }, None

    return web.figures.kept(("accuracy by origin",), compute)
