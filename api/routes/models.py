"""What the service is serving, and what the registry holds."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentSnapshot, ReadRole

router = APIRouter(prefix="/v1", tags=["models"])


class ServedModel(BaseModel):
    kind: str
    version: str
    loaded_at: str
    trained_until: str | None = None
    max_horizon: int | None = None


@router.get("/models", response_model=list[ServedModel], summary="Models being served")
def models(snapshot: CurrentSnapshot, _: ReadRole) -> list[ServedModel]:
    out = []
    for kind, loaded in sorted(snapshot.models.items()):
        core = loaded.core
        until = getattr(core, "trained_until", None)
        out.append(
            ServedModel(
                kind=kind,
                version=loaded.version,
                loaded_at=loaded.loaded_at.isoformat(),
                trained_until=None if until is None else str(until.date()),
                max_horizon=getattr(core, "max_horizon", None),
            )
        )
    return out
