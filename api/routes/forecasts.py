"""Forecasts: demand from the champion's precomputed paths, and site capacity outlooks.

Responses are serialised straight to JSON bytes (no response-model round trip); the
declared ``response_model`` documents the shape in OpenAPI and schemathesis checks it.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from api.adjusted_demand import Adjusted
from api.deps import AdjustmentsDep, CapacityModel, DemandModel, ReadRole, ResponseCacheDep
from api.errors import documented
from api.model_store import LoadedModel
from api.response_cache import cached_json
from forecasting.capacity.compare import SHORTFALL_THRESHOLD
from forecasting.capacity.forecaster import OUTPUT_COLUMNS
from forecasting.capacity.scenario import CapacityScenario
from forecasting.cores import CapacityCore, DemandCore
from forecasting.quantiles import quantile_columns
from forecasting.queries import (
    CapacityQuery,
    DemandQuery,
    answer_capacity,
    answer_demand,
    compare_capacity,
    quantile_levels,
)

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])

Key = Annotated[str, Field(min_length=1, max_length=200)]


def _not_a_bool(value: object) -> object:
    # JSON true/false is not a number; pydantic would otherwise read it as 1/0.
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true/false")
    return value


Whole = Annotated[int, BeforeValidator(_not_a_bool)]
# strict: JSON numbers only, not booleans; finite: NaN and Infinity (which Python's JSON
# reader accepts) are refused as "should be a finite number", not compared against bounds.
Real = Annotated[float, Field(strict=True, allow_inf_nan=False)]
ERRORS = documented(400, 401, 403, 404, 413, 422, 503)


def dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def json_response(body: dict[str, Any]) -> Response:
    return Response(dumps(body), media_type="application/json")


# ----------------------------------------------------------------------------- demand


class DemandRequest(BaseModel):
    """Which series to forecast: by keys (sku and/or site, channel) or a roll-up level."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sku": "SKU-00001", "site": "SITE-1", "horizon": 8, "quantiles": [0.1, 0.5, 0.9]},
                {"site": "SITE-1", "horizon": 4},
                {"level": "total", "horizon": 13, "quantiles": [0.05, 0.95]},
            ]
        },
    )
    sku: Key | None = Field(None, description="SKU; omit for site or total roll-ups")
    site: Key | None = Field(None, description="Fulfilling site; omit for SKU or total roll-ups")
    channel: Key | None = Field(
        None,
        description="Channel, only when the serving model has a level by channel (the demo "
        "model does not): GET /v1/models lists the demand model's `levels`; a key no level "
        "has is a 422 naming them",
    )
    level: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None,
        description="Roll-up level by name, e.g. 'total' (instead of keys); one of the "
        "demand model's `levels` in GET /v1/models",
    )
    horizon: Whole = Field(ge=1, le=520, description="Periods ahead (the model's frequency)")
    quantiles: list[Annotated[Real, Field(gt=0, lt=1)]] = Field(
        default=[0.1, 0.5, 0.9],
        min_length=1,
        max_length=19,
        description="Quantile levels within the model's trained grid (`quantile_grid` in GET "
        "/v1/models; 0.05 to 0.95 by default): levels between grid points are interpolated "
        "linearly between the two nearest grid quantiles; a level outside the grid is a 422 "
        "naming it",
    )

    @field_validator("quantiles")
    @classmethod
    def _sorted_unique(cls, value: list[float]) -> list[float]:
        # As the model answers them (ascending, unique, 4 decimals): the labels match.
        return list(quantile_levels(value))


class DemandPoint(BaseModel):
    ds: str = Field(description="Period (ISO date: the period's end for weekly buckets)")
    mean: float = Field(
        description="Expected demand, units: the plan, after planners' adjustments if any"
    )
    quantiles: dict[str, float] = Field(
        description="Quantile level (as requested, e.g. '0.1') -> units; non-decreasing"
    )
    statistical: float | None = Field(
        None,
        description="The model's own expected demand before adjustments (equal to mean when "
        "no adjustment changes this point)",
    )
    adjustments: list[str] = Field(
        default_factory=list,
        description="Ids of the planner adjustments that change this point "
        "(GET /v1/forecasts/demand/adjustments lists them)",
    )


class DemandResponse(BaseModel):
    series_id: str = Field(examples=["SKU-00001|SITE-1"])
    level: str = Field(description="Roll-up level answered, e.g. 'sku,site' or 'total'")
    keys: dict[str, str] = Field(description="The key values of the series")
    model: str = Field(
        description="Model chosen for this series by backtest (or its rule-based fallback); "
        "'ets (mint_shrink)' when reconciliation across levels moved its forecast",
        examples=["ets", "ets (mint_shrink)"],
    )
    fallback: str | None = Field(
        None,
        description="Why this series' model is a rule-based fallback instead of one chosen by "
        "backtest (e.g. too short to backtest the horizon); null when the backtest chose it",
    )
    alive: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Chance the item is still ordered at all, where its model weighs the "
        "forecast by it (intermittent series, models named '<model>_alive<prior %>': the "
        "model's mean is this share of the item's rate before reconciliation across levels "
        "moves it); null where the forecast is not weighed",
    )
    model_version: str = Field(description="Registry version of ordercast-demand that answered")
    freq: str = Field(examples=["W-SUN"])
    warnings: list[str] = Field(
        default_factory=list,
        description="What to know before using the numbers, e.g. a rule-based fallback",
    )
    points: list[DemandPoint]


@router.post(
    "/demand",
    response_model=DemandResponse,
    summary="Demand forecast with intervals for one series",
    description="Select a series by `sku`/`site`/`channel` or a roll-up `level`. Answered from "
    "forecasts the champion precomputed at training time. 404 names the unknown SKU or site; "
    "a horizon beyond the model's gets 422 with the limit in `details.max_horizon`; a quantile "
    "outside the trained grid, or a level (or key such as channel) the model lacks, gets 422 "
    "naming the grid or the levels served (GET /v1/models lists both). A series whose model "
    "is a rule-based fallback says so in `fallback` and `warnings`; one weighed by the chance "
    "its item is still ordered gives that chance in `alive` (and a warning below 80%).",
    responses=ERRORS,
)
async def demand(
    request: DemandRequest,
    _: ReadRole,
    loaded: DemandModel,
    cache: ResponseCacheDep,
    adjustments: AdjustmentsDep,
) -> Response:
    # async: a cache hit is a few microseconds, not worth a trip to the thread pool; a
    # miss is ~1 ms of numpy/pandas on precomputed paths, short enough for the event loop.
    # The store is read (and the plan rebuilt) at most once a second, in a thread: never on
    # the event loop, where a slow order store would hold up every request.
    adjusted = adjustments.fresh(loaded)
    if adjusted is None:
        adjusted = await run_in_threadpool(adjustments.current, loaded)
    key = (
        "demand",
        loaded.version,
        loaded.loaded_at,
        adjusted.revision,
        request.sku,
        request.site,
        request.channel,
        request.level,
        request.horizon,
        tuple(request.quantiles),
    )
    body = cache.get(key)
    if body is None:
        body = demand_body(loaded, request, adjusted)
        cache.put(key, body)
    return Response(body, media_type="application/json")


def demand_body(
    loaded: LoadedModel[DemandCore], request: DemandRequest, adjusted: Adjusted | None = None
) -> bytes:
    """The JSON answer to ``request`` from ``loaded`` with the planners' adjustments in
    ``adjusted`` applied (raises the core's domain errors)."""
    query = DemandQuery(
        sku=request.sku,
        site=request.site,
        channel=request.channel,
        level=request.level,
        horizon=request.horizon,
        quantiles=tuple(request.quantiles),
    )
    answer = answer_demand(loaded.core, query)
    level, frame = answer.level, answer.frame
    notes = [adjusted.warning] if adjusted is not None and adjusted.warning else []
    statistical = frame["mean"].to_numpy(float).tolist()
    series_id = str(frame["series_id"].iloc[0])
    applying: list[list[str]] = [[] for _ in statistical]
    ids = adjusted.ids(level, series_id) if adjusted is not None else []
    if ids and adjusted is not None and adjusted.forecast is not None:
        frame = answer_demand(adjusted.forecast.model, query).frame  # the adjusted paths
        applying = ids[: len(statistical)]
    columns = quantile_columns(frame.columns)
    labels = [f"{q:g}" for q in answer.quantiles]
    # The core returns quantile columns in level order; requested levels are sorted too.
    values = frame[columns].to_numpy(float).tolist()
    dates = pd.DatetimeIndex(frame["ds"]).strftime("%Y-%m-%d").tolist()
    means = frame["mean"].to_numpy(float).tolist()
    points = [
        {
            "ds": ds,
            "mean": mean,
            "quantiles": dict(zip(labels, row, strict=True)),
            "statistical": before,
            "adjustments": ids,
        }
        for ds, mean, row, before, ids in zip(
            dates, means, values, statistical, applying, strict=True
        )
    ]
    key_values = {k: str(frame[k].iloc[0]) for k in ("sku", "site", "channel") if k in frame}
    return dumps(
        {
            "series_id": str(frame["series_id"].iloc[0]),
            "level": level,
            "keys": key_values,
            "model": str(frame["model"].iloc[0]),
            "fallback": answer.fallback,
            "alive": answer.alive,
            "model_version": loaded.version,
            "freq": str(loaded.core.freq),
            "warnings": [*answer.warnings, *notes],
            "points": points,
        }
    )


# --------------------------------------------------------------------------- capacity


class CapacityRequest(BaseModel):
    """Sites and horizon (days), with an optional what-if capacity scenario."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sites": ["SITE-1", "SITE-2"], "horizon": 14},
                {"sites": ["SITE-1"], "horizon": 28, "scenario": {"capacity_factor": 1.2}},
                {
                    "sites": ["SITE-1", "SITE-2"],
                    "horizon": 14,
                    "scenario": {
                        "capacity_change_pct": -25,
                        "sites": "SITE-2",
                        "closures": ["2025-02-10"],
                    },
                },
            ]
        },
    )
    sites: list[Key] = Field(min_length=1, max_length=500, description="Sites to forecast")
    horizon: Whole = Field(ge=1, le=730, description="Days ahead")
    scenario: CapacityScenario | None = Field(
        None,
        description="What-if capacity scenario (a capacity factor or percentage change, "
        "extra units and closures by date, limited to some sites); omit for the planned "
        "capacity. A site it names must be one of `sites` (404 for a site the model lacks).",
    )


class CapacityDay(BaseModel):
    """One site and day of the capacity outlook. Work is in the model's measure (units
    unless trained on lines or orders); quantiles are over the simulated futures."""

    site: str
    ds: str = Field(description="Day (ISO date)")
    arrivals_p10: float = Field(
        description="New work arriving that day (released to the site to ship), 10th "
        "percentile, units"
    )
    arrivals_p50: float = Field(description="New work arriving that day, median, units")
    arrivals_p90: float = Field(description="New work arriving that day, 90th percentile, units")
    load_ratio: float | None = Field(
        description="arrivals_p50 / capacity: new work against the day's capacity (1 = the "
        "day's new work fills it). Null on a closed day (capacity 0)"
    )
    available_p10: float = Field(
        description="Work available to ship that day: the backlog carried in plus that "
        "day's arrivals, 10th percentile, units"
    )
    available_p50: float = Field(description="Work available to ship that day, median, units")
    available_p90: float = Field(
        description="Work available to ship that day, 90th percentile, units"
    )
    capacity: float = Field(
        description="Planned (or scenario) capacity, units per day; 0 on a closed day"
    )
    p_shortfall: float = Field(
        ge=0,
        le=1,
        description="P(work available > capacity): the probability some work is carried "
        "to the next day. On a closed day, the probability any work waits",
    )
    backlog_p10: float = Field(
        description="Work still waiting at the end of the day, 10th percentile, units"
    )
    backlog_p50: float = Field(description="Work still waiting at the end of the day, median")
    backlog_p90: float = Field(
        description="Work still waiting at the end of the day, 90th percentile, units"
    )
    backlog_days: float | None = Field(
        description="backlog_p50 in days of capacity: divided by the mean capacity of the "
        "open days among the next seven. Null when none of them is open"
    )
    expected_delay_days: float | None = Field(
        description="Mean days until the work available that day has all shipped, first in "
        "first out (0 = it all ships that day). Null when the site never opens"
    )


class SiteComparison(BaseModel):
    """What the scenario changes at one site against the plan (same simulated arrivals)."""

    site: str
    backlog_end_plan: float = Field(
        description="Median backlog at the end of the last day under the plan, units"
    )
    backlog_end_scenario: float = Field(
        description="Median backlog at the end of the last day under the scenario, units"
    )
    backlog_cleared: float = Field(
        description="backlog_end_plan - backlog_end_scenario, units (negative: the scenario "
        "leaves more work waiting)"
    )
    delay_days_saved: float | None = Field(
        description="Mean over the days of the plan's expected_delay_days minus the "
        "scenario's: how many days sooner the work available each day has all shipped"
    )
    shortfall_days_plan: int = Field(
        description=f"Open days with p_shortfall >= {SHORTFALL_THRESHOLD} under the plan"
    )
    shortfall_days_scenario: int = Field(
        description=f"Open days with p_shortfall >= {SHORTFALL_THRESHOLD} under the scenario"
    )
    first_shortfall_free_plan: str | None = Field(
        description=f"First open day (ISO date) from which p_shortfall stays below "
        f"{SHORTFALL_THRESHOLD} on every open day to the end of the outlook, under the plan; "
        "null when the last open day is still short. Closed days are not judged (any work "
        "waiting on them counts as a shortfall)"
    )
    first_shortfall_free_scenario: str | None = Field(description="The same under the scenario")


class CapacityResponse(BaseModel):
    model_version: str = Field(description="Registry version of ordercast-capacity")
    days: list[CapacityDay] = Field(
        description="The outlook: under the scenario when one is given, else the plan"
    )
    plan_days: list[CapacityDay] | None = Field(
        None,
        description="Only with a scenario: the same sites and days under the planned "
        "capacity, simulated on the same arrivals as `days`",
    )
    comparison: list[SiteComparison] | None = Field(
        None, description="Only with a scenario: per site, what it changes against the plan"
    )


# The outlook's value columns, as the capacity model defines them.
CAPACITY_COLUMNS = tuple(c for c in OUTPUT_COLUMNS if c not in ("site", "ds"))


@router.post(
    "/capacity",
    response_model=CapacityResponse,
    summary="Arrivals, work available, capacity, shortfall risk and backlog per site and day",
    responses=ERRORS,
)
async def capacity(
    request: CapacityRequest, _: ReadRole, loaded: CapacityModel, cache: ResponseCacheDep
) -> Response:
    # The outlook is a seeded simulation of the loaded version, so the same question to the
    # same version has the same answer: simulate it once (in a thread, a few to tens of ms
    # per site), then serve the stored bytes on the event loop. Planners and dashboards ask
    # the same few sites and horizons all day; without this, a few capacity requests a
    # second held the single worker and queued every other request behind them.
    scenario = None if request.scenario is None else request.scenario.model_dump_json()
    key = (
        "capacity",
        loaded.version,
        loaded.loaded_at,
        tuple(request.sites),
        request.horizon,
        scenario,
    )
    return await cached_json(cache, key, functools.partial(capacity_body, loaded, request))


def capacity_body(loaded: LoadedModel[CapacityCore], request: CapacityRequest) -> bytes:
    """The JSON answer to ``request`` from ``loaded`` (raises the core's domain errors)."""
    query = CapacityQuery(request.horizon, sites=request.sites, scenario=request.scenario)
    if request.scenario is None:
        rows = outlook_rows(answer_capacity(loaded.core, query))
        return dumps({"model_version": loaded.version, "days": rows})
    both = compare_capacity(loaded.core, query)
    return dumps(
        {
            "model_version": loaded.version,
            "days": outlook_rows(both.scenario),
            "plan_days": outlook_rows(both.plan),
            "comparison": comparison_rows(both.sites),
        }
    )


def outlook_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The outlook frame as JSON-able rows (CapacityDay)."""
    days: dict[str, list[Any]] = {
        "site": frame["site"].astype(str).tolist(),
        "ds": pd.DatetimeIndex(frame["ds"]).strftime("%Y-%m-%d").tolist(),
    }
    for column in CAPACITY_COLUMNS:
        days[column] = [_finite(v) for v in np.asarray(frame[column], dtype=float).tolist()]
    return [dict(zip(days, values, strict=True)) for values in zip(*days.values(), strict=True)]


def comparison_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A :func:`~forecasting.capacity.compare.compare_outlooks` table as JSON-able rows."""
    rows = []
    for record in table.to_dict("records"):
        row: dict[str, Any] = {"site": str(record["site"])}
        for key, value in record.items():
            name = str(key)
            if name.startswith("first_shortfall_free"):
                row[name] = None if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"
            elif name.startswith("shortfall_days"):
                row[name] = int(value)
            elif name != "site":
                row[name] = _finite(float(value))
        rows.append(row)
    return rows


def _finite(value: float) -> float | None:
    # Undefined measures (a ratio on a closed day) are NaN in the outlook: null in JSON,
    # never 0 (which reads as "idle"); JSON has no infinity, so cap at a large number.
    if math.isnan(value):
        return None
    return max(min(value, 1e12), -1e12)
