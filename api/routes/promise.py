"""Promise dates quoted at a target on-time probability for new order lines (#21)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ReadRole, RiskModel
from api.errors import documented
from api.routes.forecasts import json_response
from api.routes.orders import EXAMPLE_LINE, LIMITS, IsoDate, OrderLine, orders_frame
from forecasting.errors import ContractIssue, DataContractError
from forecasting.queries import first_duplicate
from forecasting.risk.model import AtRiskModel
from forecasting.risk.promise import DEFAULT_MAX_DAYS, MAX_DAYS, quote_promise

router = APIRouter(prefix="/v1/orders", tags=["orders"])

MAX_LINES = 1_000
# Candidate dates scored per request (lines x max_days): 1,000 lines over the default 180
# days; a longer horizon takes fewer lines. Bounds the work and the curves sent back.
MAX_CANDIDATES = 200_000


class NewLine(OrderLine):
    """A new order line to quote: an order line whose promised date is what the quote
    gives (any sent is ignored)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "description": "A new order line, with the order-history contract's field names; "
            "promised_date is not needed (it is what the quote gives). Any other field is an "
            f"attribute the model may use (shipment_mode, carrier ...): {LIMITS}."
        },
    )
    # Optional here, required in OrderLine: pydantic allows a subclass to widen a field.
    promised_date: IsoDate | None = Field(  # type: ignore[assignment]
        None, description="Ignored: the quote gives it"
    )


class PromiseRequest(BaseModel):
    """New lines to quote at a target on-time probability."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "target": 0.9,
                    "lines": [{k: v for k, v in EXAMPLE_LINE.items() if k != "promised_date"}],
                }
            ]
        },
    )
    target: float = Field(ge=0.5, le=0.99, description="On-time probability to reach, e.g. 0.9")
    as_of: IsoDate | None = Field(
        None, description="Quote as of this day; default each line at its order date"
    )
    max_days: int = Field(
        DEFAULT_MAX_DAYS,
        ge=1,
        le=MAX_DAYS,
        description="Latest candidate promise date, in days after the quoting day",
    )
    lines: list[NewLine] = Field(min_length=1, max_length=MAX_LINES)


class CurvePoint(BaseModel):
    date: str = Field(description="Candidate promised date (ISO)")
    p_on_time: float = Field(ge=0, le=1, description="P(delivered by it), non-decreasing")


class LinePromise(BaseModel):
    """One submitted line's quote, or why it has none (``quoted_date`` null, ``note``)."""

    order_id: str
    line_id: str
    quoted_from: str = Field(description="The day the candidates count from (ISO)")
    quoted_date: str | None = Field(
        None, description="Earliest promised date reaching the target; null when none does"
    )
    p_on_time: float | None = Field(None, ge=0, le=1, description="On-time probability then")
    curve: list[CurvePoint] = Field(description="Every candidate date with its probability")
    reasons: list[str] = Field(description="The model's reasons at the quoted (or best) date")
    actions: list[str] = Field(
        description="What would change it: another shipment mode, carrier or site, a later "
        "or earlier date, with the on-time probability",
        examples=[["by Air: 93% on time if promised 2014-03-02"]],
    )
    note: str | None = Field(None, description="Why there is no quote; null with one")


class PromiseResponse(BaseModel):
    model_version: str = Field(description="Registry version of ordercast-risk that answered")
    target: float
    lines: list[LinePromise] = Field(description="Every submitted line, in the order submitted")


def _iso(value: Any) -> str | None:
    return None if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


@router.post(
    "/promise",
    response_model=PromiseResponse,
    summary="Earliest promise date reaching a target on-time probability, per new line",
    description="For each new line (site, order date, quantity, attributes; no promised "
    "date) every candidate promise date from 1 to `max_days` days after its order date (or "
    "`as_of`, if later) is scored by the champion at-risk model in one vectorised call, "
    "from what the model remembers (track records, site load and the backlog projected to "
    "the date), never from the other lines of the request. P(on time) = 1 - p_late, made "
    "non-decreasing in the date by a running maximum (a line in time for a promise is in "
    "time for any later one). Returns the earliest date reaching `target`, the curve, the "
    "model's reasons at that date and actions that would change it. At most "
    f"{MAX_LINES:,} lines and {MAX_CANDIDATES:,} candidate dates (lines x max_days) per "
    "request; line ids unique.",
    responses=documented(400, 401, 403, 413, 422, 503),
)
def promise(request: PromiseRequest, _: ReadRole, loaded: RiskModel) -> Response:
    candidates = len(request.lines) * request.max_days
    if candidates > MAX_CANDIDATES:
        problem = (
            f"{len(request.lines):,} lines x {request.max_days} days = {candidates:,} candidate "
            f"dates; the limit is {MAX_CANDIDATES:,}: send fewer lines or a smaller max_days"
        )
        raise DataContractError([ContractIssue(None, "lines", problem)])
    position = first_duplicate(line.line_id for line in request.lines)
    if position is not None:
        problem = f"duplicate line_id '{request.lines[position].line_id}'"
        raise DataContractError([ContractIssue(None, f"lines.{position}.line_id", problem)])
    model = loaded.core
    if not isinstance(model, AtRiskModel):
        raise HTTPException(
            503, f"the served risk model ({type(model).__name__}) cannot quote promise dates"
        )
    as_of = None if request.as_of is None else pd.Timestamp(request.as_of)
    frame = orders_frame(list(request.lines))
    quotes = quote_promise(model, frame, request.target, as_of=as_of, max_days=request.max_days)
    table, curve = quotes.quotes, quotes.curve
    # One block of candidate days per line with a curve, in the quotes' order (a line at a
    # site the model does not know has none).
    curved = curve["line_id"].drop_duplicates()
    width = max(len(curve) // max(len(curved), 1), 1)  # (-1, 0) cannot shape no curve
    dates = pd.DatetimeIndex(curve["date"]).strftime("%Y-%m-%d").to_numpy().reshape(-1, width)
    probabilities = curve["p_on_time"].to_numpy(float).reshape(-1, width)
    block = {line_id: k for k, line_id in enumerate(curved.tolist())}
    lines = []
    for row in table.to_dict("records"):
        p = row["p_on_time"]
        k = block.get(row["line_id"])
        lines.append(
            {
                "order_id": str(row["order_id"]),
                "line_id": str(row["line_id"]),
                "quoted_from": _iso(row["quoted_from"]),
                "quoted_date": _iso(row["quoted_date"]),
                "p_on_time": None if p is None or not math.isfinite(p) else float(p),
                "curve": []
                if k is None
                else [
                    {"date": d, "p_on_time": float(np.clip(v, 0.0, 1.0))}
                    for d, v in zip(dates[k], probabilities[k], strict=True)
                ],
                "reasons": [
                    str(row[c]) for c in ("reason_1", "reason_2", "reason_3") if _said(row[c])
                ],
                "actions": list(row["actions"]),
                "note": row["note"] or None,
            }
        )
    return json_response(
        {"model_version": loaded.version, "target": request.target, "lines": lines}
    )


def _said(value: Any) -> bool:
    return isinstance(value, str) and value != ""
