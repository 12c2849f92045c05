"""Demand forecasts served from the champion's precomputed paths."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import DemandModel, ReadRole
from api.errors import ErrorBody

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])


class DemandRequest(BaseModel):
    """Which series to forecast: by keys (sku and/or site, channel) or a roll-up level."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sku": "SKU-00001", "site": "SITE-1", "horizon": 8, "quantiles": [0.1, 0.5, 0.9]}
            ]
        },
    )
    sku: Annotated[str | None, Field(max_length=200, description="SKU, or omit for roll-ups")] = (
        None
    )
    site: Annotated[str | None, Field(max_length=200, description="Fulfilling site")] = None
    channel: Annotated[str | None, Field(max_length=200)] = None
    level: Annotated[
        str | None,
        Field(max_length=100, description="Roll-up level, e.g. 'site', 'sku', 'total'"),
    ] = None
    horizon: Annotated[int, Field(ge=1, le=10_000, description="Periods ahead")]
    quantiles: Annotated[
        list[Annotated[float, Field(gt=0, lt=1)]],
        Field(min_length=1, max_length=19, description="Quantile levels, each in (0, 1)"),
    ] = [0.1, 0.5, 0.9]

    @field_validator("quantiles")
    @classmethod
    def _sorted_unique(cls, value: list[float]) -> list[float]:
        return sorted(set(value))


class ForecastPoint(BaseModel):
    ds: date
    mean: float
    quantiles: dict[str, float] = Field(description="Quantile level (e.g. '0.1') -> value")


class DemandResponse(BaseModel):
    series_id: str
    level: str
    model: str = Field(description="Model family chosen for this series by backtest")
    model_version: str = Field(description="Registry version of ordercast-demand that answered")
    freq: str
    points: list[ForecastPoint]


@router.post(
    "/demand",
    response_model=DemandResponse,
    summary="Demand forecast with intervals",
    responses={
        404: {"model": ErrorBody, "description": "Unknown SKU, site or level"},
        422: {"model": ErrorBody, "description": "Invalid field or horizon too long"},
    },
)
def demand(request: DemandRequest, _: ReadRole, loaded: DemandModel) -> DemandResponse:
    core = loaded.core
    level, _keys = core.level_for(request.sku, request.site, request.channel, request.level)
    frame = core.forecast(
        sku=request.sku,
        site=request.site,
        channel=request.channel,
        level=request.level,
        horizon=request.horizon,
        quantiles=request.quantiles,
    )
    columns = [c for c in frame.columns if c.startswith("q") and c[1:2].isdigit()]
    values = frame[columns].to_numpy(float)
    labels = [f"{q:g}" for q in request.quantiles]
    points = [
        ForecastPoint(
            ds=ds, mean=float(mean), quantiles=dict(zip(labels, row.tolist(), strict=True))
        )
        for ds, mean, row in zip(
            frame["ds"].dt.date, frame["mean"].to_numpy(float), np.atleast_2d(values), strict=True
        )
    ]
    return DemandResponse(
        series_id=str(frame["series_id"].iloc[0]),
        level=level,
        model=str(frame["model"].iloc[0]),
        model_version=loaded.version,
        freq=core.freq,
        points=points,
    )
