"""The capacity recommendation: the least extra capacity that keeps shortfall risk low.

``POST /v1/forecasts/capacity/plan`` asks the served capacity model, per site, for the
smallest units per open day (and the equivalent in shifts of a given size) that bring
``p_shortfall`` under a target on every open day of the next ``days`` days
(:mod:`forecasting.capacity.plan`). Same role, errors and caching as the outlook.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CapacityModel, ReadRole, ResponseCacheDep
from api.model_store import LoadedModel
from api.response_cache import cached_json
from api.routes.forecasts import ERRORS, Key, Real, Whole, dumps
from forecasting.capacity.plan import DEFAULT_TARGET, Recommendation, ShiftSize, recommend_capacity
from forecasting.cores import CapacityCore

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])


class ShiftRequest(BaseModel):
    """The size of one extra shift, to express the recommendation in shifts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hours: Annotated[Real, Field(gt=0, le=24)] = Field(description="Hours of one shift")
    units_per_hour: Annotated[Real, Field(gt=0, le=1e7)] = Field(
        description="Work the shift handles per hour, in the model's measure"
    )


class CapacityPlanRequest(BaseModel):
    """Sites, the days to plan for and the shortfall risk to stay under."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sites": ["SITE-1"], "days": 14},
                {
                    "sites": ["SITE-1", "SITE-3"],
                    "days": 28,
                    "target": 0.2,
                    "grace_days": 3,
                    "shift": {"hours": 8, "units_per_hour": 60},
                },
            ]
        },
    )
    sites: list[Key] = Field(min_length=1, max_length=50, description="Sites to plan for")
    days: Whole = Field(
        ge=1,
        le=730,
        description="Days ahead to plan for, up to the model's horizon (`max_horizon` in GET "
        "/v1/models; beyond it 422 with the limit in `details.max_horizon`)",
    )
    target: Annotated[Real, Field(gt=0, lt=1)] = Field(
        DEFAULT_TARGET,
        description="The p_shortfall to stay under on every open day, strictly between 0 and 1",
    )
    grace_days: Whole = Field(
        0,
        ge=0,
        description="First days not judged: the backlog waiting today cannot all ship "
        "tomorrow, and with 0 a large backlog makes the first day decide the answer. Fewer "
        "than `days`",
    )
    shift: ShiftRequest | None = Field(
        None, description="Shift size, to give the recommendation in shifts as well"
    )


class SiteRecommendation(BaseModel):
    site: str
    extra_units_per_day: float | None = Field(
        description="The least capacity to add on every open day (planned capacity above 0), "
        "in the model's measure per day, for p_shortfall < target on every judged open day; "
        "0 when the plan already meets it; null when no amount up to 1e9 would"
    )
    shifts_per_day: float | None = Field(
        description="extra_units_per_day in shifts of the size given (hours x units_per_hour; "
        "fractional); null without a shift"
    )
    tolerance: float = Field(
        description="How close the search came: extra_units_per_day - tolerance does not "
        "meet the target"
    )
    open_days: int = Field(description="Open days judged (after grace_days)")
    max_p_shortfall_plan: float = Field(
        description="Highest p_shortfall on a judged open day under the plan"
    )
    max_p_shortfall: float = Field(
        description="Highest p_shortfall on a judged open day with the extra capacity"
    )
    first_shortfall_plan: str | None = Field(
        description="First judged open day with p_shortfall >= target under the plan (ISO "
        "date); null when there is none"
    )
    binding_days: list[str] = Field(
        description="The judged open days (ISO dates) a tolerance less would leave at or "
        "above the target: the days that set the amount"
    )
    scenario: dict[str, Any] | None = Field(
        description="The what-if that re-runs this in POST /v1/forecasts/capacity (with "
        "horizon = days and only this site)"
    )


class CapacityPlanResponse(BaseModel):
    model_version: str = Field(description="Registry version of ordercast-capacity")
    days: int
    target: float
    grace_days: int
    recommendations: list[SiteRecommendation]


@router.post(
    "/capacity/plan",
    response_model=CapacityPlanResponse,
    summary="The least extra capacity per site that keeps shortfall risk under a target",
    description="For each site, the smallest units per open day to add over the next `days` "
    "days so that p_shortfall (P(work available > capacity)) stays under `target` on every "
    "open day, found by bisection on the model's own outlook under that scenario; 0 for a "
    "site already under it. 404 names an unknown site; a target outside (0, 1) or days "
    "beyond the model's horizon are 422.",
    responses=ERRORS,
)
async def capacity_plan(
    request: CapacityPlanRequest, _: ReadRole, loaded: CapacityModel, cache: ResponseCacheDep
) -> Response:
    # A search is a few dozen outlooks: computed once per question and model version.
    key = ("capacity-plan", loaded.version, loaded.loaded_at, request.model_dump_json())
    return await cached_json(cache, key, functools.partial(plan_body, loaded, request))


def plan_body(loaded: LoadedModel[CapacityCore], request: CapacityPlanRequest) -> bytes:
    """The JSON answer to ``request`` (raises the domain errors of the recommendation)."""
    shift = None
    if request.shift is not None:
        shift = ShiftSize(request.shift.hours, request.shift.units_per_hour)
    advice = recommend_capacity(
        loaded.core,
        request.sites,
        request.days,
        target=request.target,
        shift=shift,
        grace_days=request.grace_days,
    )
    return dumps(
        {
            "model_version": loaded.version,
            "days": request.days,
            "target": request.target,
            "grace_days": request.grace_days,
            "recommendations": [recommendation_row(r) for r in advice],
        }
    )


def recommendation_row(advice: Recommendation) -> dict[str, Any]:
    """One :class:`Recommendation` as a JSON-able :class:`SiteRecommendation`."""
    first = advice.first_shortfall_plan
    return {
        "site": advice.site,
        "extra_units_per_day": advice.extra_units_per_day,
        "shifts_per_day": advice.shifts_per_day,
        "tolerance": advice.tolerance,
        "open_days": advice.open_days,
        "max_p_shortfall_plan": advice.max_p_shortfall_plan,
        "max_p_shortfall": advice.max_p_shortfall,
        "first_shortfall_plan": None if first is None else f"{first:%Y-%m-%d}",
        "binding_days": [f"{day:%Y-%m-%d}" for day in advice.binding_days],
        "scenario": advice.scenario,
    }
