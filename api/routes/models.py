"""What the service is serving, and what the registry holds beside it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentSnapshot, ReadRole
from api.errors import documented
from forecasting.cores import CapacityCore, DemandCore
from training.serving import VersionInfo

router = APIRouter(prefix="/v1", tags=["models"])


class Version(BaseModel):
    """One registry version: when it was trained, on what data, how it scored."""

    version: str
    trained_at: str | None = Field(None, description="When the version was registered (UTC)")
    run_id: str | None = Field(None, description="MLflow run that trained it")
    data: dict[str, str] = Field(
        default_factory=dict,
        description="Data fingerprint tags: rows, series, first/last date, hash",
    )
    scores: dict[str, float] = Field(
        default_factory=dict, description="Backtest metrics of the training run"
    )
    gate: dict[str, str] = Field(default_factory=dict, description="Promotion gate decision")


class KindModels(BaseModel):
    kind: str = Field(examples=["demand"])
    serving: str = Field(description="Version answering requests now")
    loaded_at: str
    max_horizon: int | None = Field(None, description="Longest horizon served (periods)")
    champion: Version | None = None
    challenger: Version | None = None


def _version(info: VersionInfo | None) -> Version | None:
    if info is None:
        return None
    return Version(
        version=info.version,
        trained_at=info.created_at,
        run_id=info.run_id,
        data=dict(info.data),
        scores={k: float(v) for k, v in info.scores.items()},
        gate=dict(info.gate),
    )


@router.get(
    "/models",
    response_model=list[KindModels],
    summary="Champion and challenger of each model kind",
    responses=documented(401, 403),
)
def list_models(snapshot: CurrentSnapshot, _: ReadRole) -> list[KindModels]:
    out = []
    for kind, loaded in sorted(snapshot.models.items()):
        core = loaded.core
        horizon = core.max_horizon if isinstance(core, DemandCore | CapacityCore) else None
        out.append(
            KindModels(
                kind=kind,
                serving=loaded.version,
                loaded_at=loaded.loaded_at.isoformat(),
                max_horizon=horizon if isinstance(horizon, int) else None,
                champion=_version(loaded.champion),
                challenger=_version(loaded.challenger),
            )
        )
    return out
