"""What the service is serving, and what the registry holds beside it."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.accuracy_cache import AccuracyCache, AccuracyCacheDep
from api.deps import CurrentSnapshot, ReadRole
from api.errors import documented
from forecasting.cores import CapacityCore, DemandCore
from training.serving import VersionInfo

router = APIRouter(prefix="/v1", tags=["models"])
logger = logging.getLogger(__name__)


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


class Drift(BaseModel):
    """Whether the published demand forecasts' recent WAPE drifted beyond the backtest's
    expectation (see GET /v1/accuracy for the figures)."""

    flag: bool = Field(description="True when any lag drifted: time to retrain")
    lags: list[int] = Field(default_factory=list, description="The lags that drifted")
    note: str | None = Field(None, description="Why there is no verdict, when there is none")


class KindModels(BaseModel):
    kind: str = Field(examples=["demand"])
    serving: str = Field(description="Version answering requests now")
    loaded_at: str
    max_horizon: int | None = Field(None, description="Longest horizon served (periods)")
    levels: list[str] | None = Field(
        None,
        description="Demand only: the roll-up levels the serving model answers (e.g. "
        "'sku,site', 'site', 'total'); a request by keys no level has is a 422",
    )
    quantile_grid: list[float] | None = Field(
        None,
        description="Demand only: the quantile levels trained; requests may ask for any level "
        "in their span (interpolated between them), not outside it",
    )
    champion: Version | None = None
    challenger: Version | None = None
    drift: Drift | None = Field(
        None, description="Demand only: accuracy drift of what was published"
    )


def _version(info: VersionInfo | None) -> Version | None:
    # A version without the gate's decision is being registered, or was left by a killed
    # training (the next one archives it): not shown as a champion or challenger.
    if info is None or "gate.decision" not in info.gate:
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
def list_models(
    snapshot: CurrentSnapshot, _: ReadRole, accuracy: AccuracyCacheDep
) -> list[KindModels]:
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
                levels=list(core.level_names) if isinstance(core, DemandCore) else None,
                quantile_grid=list(core.grid) if isinstance(core, DemandCore) else None,
                champion=_version(loaded.champion),
                challenger=_version(loaded.challenger),
                drift=_drift(accuracy) if kind == "demand" else None,
            )
        )
    return out


def _drift(accuracy: AccuracyCache) -> Drift:
    """The drift verdict; a note instead when it cannot be given, so /v1/models itself never
    fails on the order store."""
    try:
        flags = accuracy.drift()
    except HTTPException as exc:  # the order store cannot be reached (503 from its handle)
        return Drift(flag=False, note=str(exc.detail))
    except Exception:  # an order store that cannot be read must not take /v1/models down
        logger.exception("drift check failed")
        return Drift(flag=False, note="the drift check failed; see the service log")
    if flags is None:
        return Drift(
            flag=False,
            note="no published forecast targets a complete period in the drift window yet",
        )
    lags = [int(lag) for lag in flags.loc[flags["drift"], "lag"]]
    return Drift(flag=bool(lags), lags=lags)
