"""Demand: pick a series, see its history, forecast band and adjustments, adjust it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.adjusted_demand import AdjustmentsView
from api.deps import AdjustmentsDep, DemandModel
from api.model_store import LoadedModel
from api.order_store import OrderStoreHandle
from api.routes import adjustments as adjustments_api
from api.routes.adjustments import AdjustmentRequest
from api.routes.forecasts import Real
from api.security import allows
from api.web.demand_view import SeriesRef, chart_csv, chart_data, period_unit
from api.web.session import CsrfChecked, Reader, Writer, sessions_of
from api.web.state import WebState, WebStateDep
from api.web.templating import render
from forecasting.cores import DemandCore
from store.adjustments import read_adjustments

router = APIRouter(prefix="/web/demand", tags=["pages"])
Level = Annotated[str | None, Query(max_length=100)]
SeriesId = Annotated[str | None, Query(alias="series", max_length=400)]


@router.get("")
def demand_page(
    request: Request,
    user: Reader,
    web: WebStateDep,
    loaded: DemandModel,
    adjustments: AdjustmentsDep,
    level: Level = None,
    series_id: SeriesId = None,
) -> Response:
    index = web.series_index(loaded)
    ref, data = _chart(web, loaded, adjustments, level, series_id)
    writer = allows(user.role, "write")
    context: dict[str, Any] = {
        "title": f"Demand: {ref.label}",
        "user": user,
        "csrf": sessions_of(request).csrf_token(user),
        "ref": ref,
        "data": data,
        "history": _history(request, ref, web),
        "series_count": len(index),
        "unit": period_unit(data["freq"]),
        "can_adjust": writer,
        "reason_codes": web.settings.adjustments.reason_codes,
        # The form offers the forecast's periods (ISO, as served): an adjustment must start
        # on a served period, and one of history is refused.
        "periods": [d for d, v in zip(data["ds"], data["adjusted"], strict=True) if v is not None],
    }
    return render(request, "demand.html", context)


@router.get("/series")
def search_series(
    _: Reader,
    web: WebStateDep,
    loaded: DemandModel,
    q: Annotated[str, Query(max_length=200)] = "",
) -> JSONResponse:
    """At most 50 series whose level, SKU or site contain every word of ``q``."""
    found = web.series_index(loaded).search(q)
    return JSONResponse(
        {"matches": [{"level": r.level, "series": r.series_id, "label": r.label} for r in found]}
    )


@router.get("/data")
def series_data(
    request: Request,
    _: Reader,
    web: WebStateDep,
    loaded: DemandModel,
    adjustments: AdjustmentsDep,
    level: Level = None,
    series_id: SeriesId = None,
) -> JSONResponse:
    """The chart's columns and the adjustment history: what the page redraws from."""
    ref, data = _chart(web, loaded, adjustments, level, series_id)
    return JSONResponse({"chart": data, "history": _history(request, ref, web)})


@router.get("/data.csv")
def series_csv(
    _: Reader,
    web: WebStateDep,
    loaded: DemandModel,
    adjustments: AdjustmentsDep,
    level: Level = None,
    series_id: SeriesId = None,
) -> Response:
    ref, data = _chart(web, loaded, adjustments, level, series_id)
    name = f"demand-{ref.level}-{ref.series_id}".replace("|", "_").replace(",", "_")
    return Response(
        chart_csv(data),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


class PageAdjustment(BaseModel):
    """The page's adjustment form: the series by level and id, then the API's fields."""

    model_config = ConfigDict(extra="forbid")
    level: Annotated[str, Field(min_length=1, max_length=100)]
    series: Annotated[str, Field(min_length=1, max_length=400)]
    start: dt.date
    end: dt.date | None = None
    kind: Literal["set", "add", "percent"]
    value: Real
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    reason_code: Annotated[str, Field(max_length=100)] | None = None


@router.post("/adjustments", status_code=201)
def adjust(
    body: PageAdjustment,
    request: Request,
    user: Writer,
    _: CsrfChecked,
    web: WebStateDep,
    loaded: DemandModel,
) -> Any:
    """POST /v1/forecasts/demand/adjustments' own function, for the signed-in writer; the
    CSRF token comes in the X-CSRF-Token header."""
    ref = _chosen(web, loaded, body.level, body.series)
    try:
        api_body = AdjustmentRequest(
            **ref.request_keys(),
            start=body.start,
            end=body.end,
            kind=body.kind,
            value=body.value,
            reason=body.reason,
            reason_code=body.reason_code or None,
        )
    except ValidationError as exc:  # the same 422 the API gives for these fields
        raise RequestValidationError(exc.errors()) from exc
    answer = adjustments_api.create(api_body, user.role, loaded, request)
    return JSONResponse(answer.model_dump(mode="json"), status_code=201)


@router.post("/adjustments/{adjustment_id}/revoke")
def revoke(
    adjustment_id: Annotated[str, Path(max_length=64)],
    request: Request,
    user: Writer,
    _: CsrfChecked,
) -> JSONResponse:
    """DELETE /v1/forecasts/demand/adjustments/{id}'s own function (audited, not erased),
    for the signed-in writer; the CSRF token comes in the X-CSRF-Token header."""
    record = adjustments_api.revoke(adjustment_id, user.role, request)
    return JSONResponse(record.model_dump(mode="json"))


def _chosen(
    web: WebState, loaded: LoadedModel[DemandCore], level: str | None, series_id: str | None
) -> SeriesRef:
    """The series asked for, or the first served (the total) when none is named; 404 for
    one the model does not serve."""
    index = web.series_index(loaded)
    if level is None and series_id is None:
        first = index.first()
        if first is None:
            raise HTTPException(409, "the serving demand model lists no series to show")
        return first
    found = index.find(level or "", series_id or "")
    if found is None:
        raise HTTPException(404, f"no served demand series {series_id!r} at level {level!r}")
    return found


def _chart(
    web: WebState,
    loaded: LoadedModel[DemandCore],
    adjustments: AdjustmentsView,
    level: str | None,
    series_id: str | None,
) -> tuple[SeriesRef, dict[str, Any]]:
    """The series asked for (as ``_chosen`` picks it) and its chart's columns: actuals,
    the statistical and adjusted forecasts, the band and the published forecast."""
    ref = _chosen(web, loaded, level, series_id)
    data = chart_data(loaded, ref, adjustments.current(loaded), web.actuals(), web.published())
    return ref, data


def _history(request: Request, ref: SeriesRef, web: WebState) -> list[dict[str, Any]]:
    """Every adjustment of the series, newest first, with its status and forecast value
    added (``fva``: None until one of its periods is complete; ``fva_known`` false while
    the report is still being computed)."""
    handle: OrderStoreHandle = request.app.state.order_store
    frame = read_adjustments(handle.get(), level=ref.level, series_id=ref.series_id)
    fva = web.fva()
    rows = []
    for record in frame.sort_values("created_at", ascending=False).to_dict("records"):
        rows.append(
            {
                "id": str(record["id"]),
                "created_at": f"{pd.Timestamp(record['created_at']):%Y-%m-%d %H:%M}",
                "author": str(record["author"]),
                "kind": str(record["kind"]),
                "value": float(record["value"]),
                "start": f"{pd.Timestamp(record['start']):%Y-%m-%d}",
                "end": f"{pd.Timestamp(record['end']):%Y-%m-%d}",
                "reason": str(record["reason"]),
                "reason_code": None
                if pd.isna(record["reason_code"])
                else str(record["reason_code"]),
                "status": str(record["status"]),
                "fva": None if fva is None else fva.get(str(record["id"])),
                "fva_known": fva is not None,
            }
        )
    return rows
