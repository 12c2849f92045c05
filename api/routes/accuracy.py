"""How accurate the published forecasts were, once their periods are complete."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from api.accuracy_cache import AccuracyCacheDep
from api.deps import ReadRole
from api.errors import documented
from api.routes.orders import IsoDate
from forecasting.accuracy import DIMENSIONS, NothingPublishedError, check_by
from training.adjustments import fva_report

router = APIRouter(prefix="/v1", tags=["accuracy"])


class AccuracyRow(BaseModel):
    """One group: observed figures next to the backtest's expectation (null: undefined, e.g.
    all actuals zero, or no expectation recorded)."""

    level: str | None = None
    lag: int | None = Field(None, description="Periods ahead of the publication's origin")
    model: str | None = Field(None, description="Model family (the name before any '(')")
    site: str | None = Field(None, description="'(all)' for levels without a site")
    model_version: str | None = None
    origin: date | None = Field(None, description="The publication's last actual period")
    n: int = Field(description="Forecasts scored (their period is complete)")
    wape: float | None = Field(None, description="sum|actual - mean| / sum|actual|")
    expected_wape: float | None = None
    bias: float | None = Field(None, description="sum(mean - actual) / sum|actual|; > 0: over")
    mase: float | None = Field(None, description="Mean |error| / the series' naive scale")
    expected_mase: float | None = None
    coverage80: float | None = Field(None, description="Share of actuals within [q10, q90]")
    expected_coverage80: float | None = None


class DriftFlag(BaseModel):
    """Per lag: the WAPE of the forecasts targeting the last periods against expectation."""

    lag: int
    n: int = Field(description="Forecasts scored in the window at this lag")
    periods: int = Field(description="Target periods in the window with a forecast at this lag")
    window_start: date | None = None
    window_end: date | None = None
    observed_wape: float | None = None
    expected_wape: float | None = None
    threshold: float | None = Field(None, description="expected_wape * (1 + margin)")
    drift: bool
    status: str = Field(examples=["ok"], description="drift, ok, too few rows, no expectation")


class AccuracyAnswer(BaseModel):
    by: list[str]
    since: date | None = None
    published: int = Field(description="Published forecasts at the reported lags")
    scored: int = Field(description="... of which have an actual")
    rows: list[AccuracyRow]
    drift: list[DriftFlag]
    drifting_lags: list[int] = Field(description="Lags whose drift flag is raised")


@router.get(
    "/accuracy",
    response_model=AccuracyAnswer,
    summary="Accuracy of published forecasts, observed vs expected, and drift per lag",
    responses=documented(401, 403, 404, 422, 503),
)
def accuracy(
    _: ReadRole,
    cache: AccuracyCacheDep,
    since: IsoDate | None = Query(None, description="Only target periods on or after this date"),
    by: str = Query(
        "lag", description=f"Comma-separated, any of {', '.join(DIMENSIONS)}", max_length=200
    ),
) -> AccuracyAnswer:
    wanted = tuple(check_by(by.split(",")))  # an unknown dimension is a 422 naming the known
    try:
        report = cache.report(since, wanted)
    except NothingPublishedError as exc:
        raise HTTPException(404, str(exc)) from exc
    return AccuracyAnswer(
        by=list(wanted),
        since=since,
        published=report.published,
        scored=report.scored,
        rows=[AccuracyRow(**_json_record(r)) for r in report.table.to_dict("records")],
        drift=[DriftFlag(**_json_record(r)) for r in report.drift.to_dict("records")],
        drifting_lags=report.drifting_lags,
    )


class FvaAnswer(BaseModel):
    per_adjustment: list[dict[str, Any]] = Field(
        description="One row per adjustment with actuals: adjustment_id, author, reason_code, "
        "level, periods, actual, abs_error_/wape_/bias_ statistical and adjusted, fva (WAPE of "
        "the statistical forecast minus that of the adjusted one: positive means it helped), "
        "helped"
    )
    summary: list[dict[str, Any]] = Field(
        description="By reason_code, author and level (group_by, group) and overall ('all'): "
        "adjustments, helped, share_helped and the pooled errors"
    )


@router.get(
    "/accuracy/fva",
    response_model=FvaAnswer,
    summary="Forecast value added of planners' adjustments",
    responses=documented(401, 403, 404, 503),
)
def forecast_value_added(_: ReadRole, request: Request) -> FvaAnswer:
    try:
        report = fva_report(request.app.state.settings)
    except NothingPublishedError as exc:
        raise HTTPException(404, str(exc)) from exc
    return FvaAnswer(
        per_adjustment=[_json_record(r) for r in report.per_adjustment.to_dict("records")],
        summary=[_json_record(r) for r in report.summary.to_dict("records")],
    )


def _json_record(record: dict[Any, Any]) -> dict[str, Any]:
    """NaN as null, timestamps as dates: what JSON can carry."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, pd.Timestamp):
            value = value.date()
        elif value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
            value = None
        elif hasattr(value, "item"):  # numpy scalars: plain numbers and booleans
            value = value.item()
        out[str(key)] = value
    return out
