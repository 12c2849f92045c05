"""Capacity: one site's band of work available against its capacity by day, the likely shortfall
days, backlog and expected delay; a what-if scenario drawn beside the plan."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import CapacityModel, ResponseCacheDep
from api.model_store import LoadedModel
from api.response_cache import ResponseCache
from api.routes.forecasts import CAPACITY_COLUMNS, CapacityRequest, Real, capacity_body
from api.web.figures import LIKELY
from api.web.session import CsrfChecked, Reader, sessions_of
from api.web.templating import render
from forecasting.capacity.scenario import CapacityScenario, ExtraShift, ScenarioDay
from forecasting.cores import CapacityCore

router = APIRouter(prefix="/web/capacity", tags=["pages"])
DEFAULT_DAYS = 28  # four weeks: what a scheduler plans shifts over
Site = Annotated[str | None, Query(max_length=200)]
Days = Annotated[int | None, Query(ge=1, le=730)]


@router.get("")
async def capacity_page(
    request: Request,
    user: Reader,
    loaded: CapacityModel,
    cache: ResponseCacheDep,
    site: Site = None,
    horizon: Days = None,
) -> Response:
    chosen, days, plan = await _plan(loaded, cache, site, horizon)
    context: dict[str, Any] = {
        "title": f"Capacity: {chosen}",
        "user": user,
        "csrf": sessions_of(request).csrf_token(user),
        "sites": list(loaded.core.sites_),
        "site": chosen,
        "horizon": days,
        "max_horizon": loaded.core.max_horizon,
        "likely": LIKELY,
        "plan": plan,
        "summary": summary(plan),
        "first_day": plan["days"][0]["ds"] if plan["days"] else None,
    }
    return render(request, "capacity.html", context)


@router.get("/data.csv")
async def capacity_csv(
    _: Reader,
    loaded: CapacityModel,
    cache: ResponseCacheDep,
    site: Site = None,
    horizon: Days = None,
) -> Response:
    """The chart's days as CSV: the JSON route's columns, one row per day."""
    chosen, days, plan = await _plan(loaded, cache, site, horizon)
    out = io.StringIO()
    writer = csv.DictWriter(out, ["site", "ds", *CAPACITY_COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(plan["days"])
    name = f"capacity-{chosen}-{days}d".replace('"', "_")
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


class WhatIf(BaseModel):
    """The page's what-if form: one site and horizon, then the scenario's fields."""

    model_config = ConfigDict(extra="forbid")
    site: Annotated[str, Field(min_length=1, max_length=200)]
    horizon: Annotated[int, Field(ge=1, le=730)]
    capacity_change_pct: Annotated[Real, Field(ge=-100, le=900)] | None = None
    extra_units: dict[ScenarioDay, Annotated[Real, Field(ge=-1e9, le=1e9)]] = Field(
        default_factory=dict, max_length=730
    )
    closures: list[ScenarioDay] = Field(default_factory=list, max_length=730)
    overtime_pct: Annotated[Real, Field(ge=0, le=100)] | None = None
    extra_shift: ExtraShift | None = None


@router.post("/what-if")
async def what_if(
    body: WhatIf,
    _: Reader,
    __: CsrfChecked,
    loaded: CapacityModel,
    cache: ResponseCacheDep,
) -> JSONResponse:
    """The plan and the scenario's outlook for one site, from POST /v1/forecasts/capacity's
    own function (a read key may ask, as in the API; the CSRF token comes in X-CSRF-Token)."""
    chosen, days = _chosen(loaded, body.site, body.horizon)
    # A change in % is sent as the equivalent factor (the scenario documents them as one
    # thing): every capacity model reads capacity_factor.
    factor = None if body.capacity_change_pct is None else 1 + body.capacity_change_pct / 100
    scenario = CapacityScenario(
        capacity_factor=factor,
        overtime_pct=body.overtime_pct,
        extra_units=body.extra_units,
        extra_shift=[] if body.extra_shift is None else [body.extra_shift],
        closures=body.closures,
    )
    plan = await outlook(loaded, cache, chosen, days, None)
    changed = await outlook(loaded, cache, chosen, days, scenario)
    return JSONResponse(
        {
            "plan": plan,
            "scenario": changed,
            "scenario_fields": scenario.as_mapping(),
            "summary": {"plan": summary(plan), "scenario": summary(changed)},
        }
    )


async def outlook(
    loaded: LoadedModel[CapacityCore],
    cache: ResponseCache,
    site: str,
    horizon: int,
    scenario: CapacityScenario | None,
) -> dict[str, Any]:
    """``{"model_version", "days": [...]}`` as POST /v1/forecasts/capacity answers it, kept in
    the API's own response cache under the JSON route's key (one simulation serves both)."""
    request = CapacityRequest(sites=[site], horizon=horizon, scenario=scenario)
    key = (
        "capacity",
        loaded.version,
        loaded.loaded_at,
        (site,),
        horizon,
        None if scenario is None else scenario.model_dump_json(),
    )
    body = cache.get(key)
    if body is None:
        body = await run_in_threadpool(capacity_body, loaded, request)
        cache.put(key, body)
    answer: dict[str, Any] = json.loads(body)
    return answer


def summary(answer: dict[str, Any]) -> dict[str, Any]:
    """Likely shortfall days, the backlog at the end and the worst expected delay."""
    days = answer["days"]
    short = [d["ds"] for d in days if d["p_shortfall"] >= LIKELY]
    return {
        "days": len(days),
        "shortfall_days": short,
        "backlog_end": days[-1]["backlog_p50"] if days else None,
        "max_delay": max(
            (d["expected_delay_days"] for d in days if d["expected_delay_days"] is not None),
            default=None,
        ),
        "arrivals": sum(d["arrivals_p50"] for d in days),
        "capacity": sum(d["capacity"] for d in days),
    }


async def _plan(
    loaded: LoadedModel[CapacityCore],
    cache: ResponseCache,
    site: str | None,
    horizon: int | None,
) -> tuple[str, int, dict[str, Any]]:
    """The site and horizon asked for (as ``_chosen`` picks them) and the plan's outlook
    for them (no scenario): what the page and its CSV show."""
    chosen, days = _chosen(loaded, site, horizon)
    return chosen, days, await outlook(loaded, cache, chosen, days, None)


def _chosen(
    loaded: LoadedModel[CapacityCore], site: str | None, horizon: int | None
) -> tuple[str, int]:
    """The site asked for (the model's first when none is) and the horizon (four weeks, or
    the model's longest if shorter); 404 for a site the model does not know."""
    sites = list(loaded.core.sites_)
    if not sites:
        raise HTTPException(409, "the serving capacity model lists no site")
    if site is None:
        site = sites[0]
    elif site not in sites:
        raise HTTPException(404, f"the capacity model knows no site {site!r}")
    limit = int(loaded.core.max_horizon)
    days = min(horizon or DEFAULT_DAYS, limit)
    return site, days
