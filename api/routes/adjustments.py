"""Planner adjustments of the served demand forecast: make, list, revoke (#18).

An adjustment names a series (by keys or level, as the demand endpoint does), a range of
periods and one change: ``set`` the value, ``add`` units, or change by ``percent``. It is
spread to the series below and re-added above, so every level still adds up; it is kept
against the series and periods (not a model version), audited, and re-applied to every
new statistical forecast. The key's name is recorded as the author.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.adjusted_demand import AdjustmentsView
from api.deps import DemandModel, ReadRole, WriteRole
from api.errors import documented
from api.order_store import OrderStoreHandle
from api.routes.forecasts import Key, Real
from api.routes.orders import IsoDate
from forecasting.demand.adjustments import (
    AdjustedForecast,
    Adjustment,
    active,
    check_adjustment,
)
from forecasting.demand.serving import DemandServingModel
from forecasting.errors import ConfigError
from forecasting.queries import DemandQuery, answer_demand
from store.adjustments import (
    close_adjustment,
    read_adjustments,
    read_values,
    record_values,
    save_adjustment,
)
from store.database import OrderStore
from training.adjustments import first_period, stored_adjustments

router = APIRouter(prefix="/v1/forecasts/demand", tags=["adjustments"])
ERRORS = documented(400, 401, 403, 404, 409, 413, 422, 503)
MAX_SPLIT = 10_000
LIST_PARAMETERS = {"series", "level", "active"}


class AdjustmentRequest(BaseModel):
    """One change to the served demand forecast of a series over a range of periods."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "site": "SITE-1",
                    "start": "2026-01-04",
                    "end": "2026-01-18",
                    "kind": "percent",
                    "value": 20,
                    "reason": "spring promotion in the north region",
                    "reason_code": "promotion",
                },
                {
                    "sku": "SKU-00001",
                    "site": "SITE-1",
                    "start": "2026-01-11",
                    "kind": "set",
                    "value": 1200,
                    "reason": "ACME confirmed a 1,200-unit call-off",
                    "reason_code": "customer commitment",
                },
            ]
        },
    )
    sku: Key | None = Field(None, description="SKU; omit for site or total roll-ups")
    site: Key | None = Field(None, description="Site; omit for SKU or total roll-ups")
    channel: Key | None = Field(None, description="Channel, when the model has a channel level")
    level: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="Roll-up level by name, e.g. 'total' (instead of keys)"
    )
    start: IsoDate = Field(description="First period adjusted (a served period's date)")
    end: IsoDate | None = Field(None, description="Last period adjusted; default: start")
    kind: Literal["set", "add", "percent"] = Field(
        description="set: each period becomes value units; add: value units are added to "
        "each period (negative removes); percent: each period changes by value % (-100 or more)"
    )
    value: Real = Field(ge=-1e12, le=1e12, description="Units, or a percentage for percent")
    reason: Annotated[str, Field(min_length=1, max_length=1000)] = Field(
        description="Why, in words (required)"
    )
    reason_code: Annotated[str, Field(max_length=100)] | None = Field(
        None, description="One of the configured reason codes (adjustments.reason_codes)"
    )
    split: dict[Key, Annotated[Real, Field(ge=0, le=1)]] | None = Field(
        None,
        max_length=MAX_SPLIT,
        description="How an aggregate's change goes to the bottom series under it (bottom "
        "series id -> share, summing to 1); default: in proportion to their forecast",
    )


class AdjustmentRecord(BaseModel):
    id: str
    level: str
    series_id: str
    start: date
    end: date
    kind: str = Field(description="set, add or percent")
    value: float
    author: str = Field(description="The name of the key that made it")
    reason: str
    reason_code: str | None
    split: dict[str, float] | None
    created_at: str
    status: str = Field(description="active, revoked or expired")
    closed_at: str | None = None
    closed_by: str | None = None


class AdjustedPoint(BaseModel):
    ds: str
    statistical: float = Field(description="The model's forecast, units")
    adjusted: float = Field(description="After every active adjustment, units")
    adjustments: list[str] = Field(description="Ids of the adjustments that change this point")


class AdjustmentAnswer(BaseModel):
    adjustment: AdjustmentRecord
    level: str
    series_id: str
    points: list[AdjustedPoint] = Field(description="The adjusted series over the horizon")


@router.post(
    "/adjustments",
    response_model=AdjustmentAnswer,
    status_code=201,
    summary="Adjust the demand forecast of a series (write role)",
    responses=ERRORS,
)
def create(
    body: AdjustmentRequest, _: WriteRole, loaded: DemandModel, request: Request
) -> AdjustmentAnswer:
    core = _adjustable(loaded.core)
    level, series_id = _series(core, body)
    adjustment = Adjustment(
        id=uuid.uuid4().hex,
        level=level,
        series_id=series_id,
        start=pd.Timestamp(body.start),
        end=pd.Timestamp(body.end or body.start),
        kind=body.kind,
        value=float(body.value),
        author=str(getattr(request.state, "caller", "local")),
        reason=body.reason.strip(),
        reason_code=body.reason_code,
        split=body.split,
        created_at=pd.Timestamp(datetime.now(UTC)),
    )
    store = _store(request)
    cut = first_period(core)
    existing = active(stored_adjustments(store), cut)
    codes = request.app.state.settings.adjustments.reason_codes
    result = check_adjustment(core, adjustment, existing, reason_codes=codes)
    own = result.applied[result.applied["adjustment_id"] == adjustment.id]
    save_adjustment(store, adjustment, own)
    # The others whose series this one changes now set other values: keep those (the rest
    # are unchanged; every publication re-records them all).
    touched = set(result.touching(level, series_id)) - {adjustment.id}
    others = result.applied[result.applied["adjustment_id"].isin(touched)]
    record_values(store, others, cut - pd.Timedelta(days=1))
    _view(request).changed()
    record = _record(read_adjustments(store).set_index("id").loc[adjustment.id], adjustment.id)
    return _answer(record, result)


@router.get(
    "/adjustments",
    response_model=list[AdjustmentRecord],
    summary="Planner adjustments, newest last",
    responses=documented(401, 403, 422, 503),
)
def list_adjustments(
    _: ReadRole,
    loaded: DemandModel,
    request: Request,
    series: Annotated[str | None, Query(max_length=400)] = None,
    level: Annotated[str | None, Query(max_length=100)] = None,
    active: bool = Query(True, description="Only those still applied (not revoked, not past)"),
) -> list[AdjustmentRecord]:
    unknown = sorted(set(request.query_params) - LIST_PARAMETERS)
    if unknown:  # a misspelt filter must not silently list everything
        raise HTTPException(
            422,
            f"unknown query parameter(s) {', '.join(map(repr, unknown))}; use "
            f"{', '.join(sorted(LIST_PARAMETERS))}",
        )
    frame = read_adjustments(_store(request), level=level, series_id=series)
    if active:
        frame = frame[frame["status"] == "active"]
        if isinstance(loaded.core, DemandServingModel):
            frame = frame[frame["end"] >= first_period(loaded.core)]
    return [_record(row, str(row["id"])) for _, row in frame.iterrows()]


@router.delete(
    "/adjustments/{adjustment_id}",
    response_model=AdjustmentRecord,
    summary="Revoke an adjustment (audited, not erased; write role)",
    responses=ERRORS,
)
def revoke(
    adjustment_id: Annotated[str, Field(max_length=64)], _: WriteRole, request: Request
) -> AdjustmentRecord:
    store = _store(request)
    values = read_values(store)
    own = values[values["adjustment_id"] == adjustment_id]
    author = str(getattr(request.state, "caller", "local"))
    try:
        close_adjustment(store, adjustment_id, "revoked", author, own)
    except ConfigError as exc:
        status = 404 if "no adjustment" in str(exc) else 409
        raise HTTPException(status, str(exc)) from exc
    _view(request).changed()
    return _record(read_adjustments(store).set_index("id").loc[adjustment_id], adjustment_id)


def _adjustable(core: object) -> DemandServingModel:
    if not isinstance(core, DemandServingModel):
        raise HTTPException(409, "the serving demand model cannot be adjusted")
    return core


def _series(core: DemandServingModel, body: AdjustmentRequest) -> tuple[str, str]:
    """The level and series the body names, checked as the demand endpoint checks them."""
    query = DemandQuery(
        sku=body.sku, site=body.site, channel=body.channel, level=body.level, horizon=1
    )
    answer = answer_demand(core, query)
    return answer.level, str(answer.frame["series_id"].iloc[0])


def _store(request: Request) -> OrderStore:
    handle: OrderStoreHandle = request.app.state.order_store
    return handle.get()


def _view(request: Request) -> AdjustmentsView:
    return request.app.state.adjustments


def _record(row: Any, adjustment_id: str) -> AdjustmentRecord:
    def text(value: Any) -> str | None:
        return None if value is None or pd.isna(value) else str(value)

    return AdjustmentRecord(
        id=adjustment_id,
        level=str(row["level"]),
        series_id=str(row["series_id"]),
        start=pd.Timestamp(row["start"]).date(),
        end=pd.Timestamp(row["end"]).date(),
        kind=str(row["kind"]),
        value=float(row["value"]),
        author=str(row["author"]),
        reason=str(row["reason"]),
        reason_code=text(row["reason_code"]),
        split=row["split"] if isinstance(row["split"], dict) else None,
        created_at=pd.Timestamp(row["created_at"]).isoformat(),
        status=str(row["status"]),
        closed_at=None if pd.isna(row["closed_at"]) else pd.Timestamp(row["closed_at"]).isoformat(),
        closed_by=text(row["closed_by"]),
    )


def _answer(record: AdjustmentRecord, result: AdjustedForecast) -> AdjustmentAnswer:
    points: list[dict[Any, Any]] = result.points(record.level, record.series_id).to_dict("records")
    return AdjustmentAnswer(
        adjustment=record,
        level=record.level,
        series_id=record.series_id,
        points=[
            AdjustedPoint(
                ds=f"{pd.Timestamp(p['ds']):%Y-%m-%d}",
                statistical=float(p["statistical"]),
                adjusted=float(p["adjusted"]),
                adjustments=list(p["adjustments"]),
            )
            for p in points
        ],
    )
