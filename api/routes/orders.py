"""At-risk scoring of open order lines, a whole batch in one vectorised call."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from api.deps import ReadRole, RiskModel, SettingsDep
from api.errors import documented
from api.routes.forecasts import Real, json_response
from forecasting.errors import ContractIssue, DataContractError
from forecasting.queries import answer_risk, first_duplicate
from forecasting.risk.line_status import STATUSES

router = APIRouter(prefix="/v1/orders", tags=["orders"])

Text = Annotated[str, Field(min_length=1, max_length=200)]
HARD_MAX_LINES = 10_000


def _iso_text(value: object) -> object:
    # Dates travel as "YYYY-MM-DD" text; pydantic would also read numbers as epoch seconds.
    if not isinstance(value, str | date):
        raise ValueError("expected a date as text, YYYY-MM-DD")
    return value


EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)


def _in_range(value: date) -> date:
    # pandas holds dates as datetime64[ns], which ends in 2262.
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"date outside {EARLIEST} to {LATEST}")
    return value


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_text),
    AfterValidator(_in_range),
    Field(json_schema_extra={"pattern": r"^(19|20|21)\d{2}-\d{2}-\d{2}$"}),
]


class OrderLine(BaseModel):
    """One open order line, with the order-history contract's field names."""

    model_config = ConfigDict(extra="forbid")
    order_id: Text
    line_id: Text
    sku: Text
    site: Text
    channel: Text | None = None
    customer: Text | None = None
    region: Text | None = None
    order_date: IsoDate
    promised_date: IsoDate
    ship_date: IsoDate | None = None
    delivered_date: IsoDate | None = Field(None, description="Leave empty for an open line")
    quantity: Real = Field(gt=0, le=1e9, description="Units")
    unit_price: Real | None = Field(None, ge=0, le=1e9)


EXAMPLE_LINE: dict[str, Any] = {
    "order_id": "O-000123",
    "line_id": "O-000123-1",
    "sku": "SKU-00001",
    "site": "SITE-1",
    "channel": "web",
    "order_date": "2024-03-01",
    "promised_date": "2024-03-06",
    "quantity": 4,
}


class AtRiskRequest(BaseModel):
    """Open order lines to score as of a date (up to ``max_batch_lines``, 10,000)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"as_of": "2024-03-04", "orders": [EXAMPLE_LINE]}]},
    )
    as_of: IsoDate = Field(description="Score as of this day (YYYY-MM-DD)")
    orders: list[OrderLine] = Field(min_length=1, max_length=HARD_MAX_LINES)


class LineRisk(BaseModel):
    """One submitted line: its score, or why it has none (``scored`` false)."""

    order_id: str
    line_id: str
    promised_date: str = Field(description="ISO date")
    scored: bool = Field(
        description="True when the line was open at as_of and scored; false for a line "
        "already delivered before as_of, ordered after it, or whose dates break the "
        "order-history contract (see status and unscored_reason)"
    )
    status: Literal[STATUSES] = Field(  # type: ignore[valid-type]
        description="'scored', or why not: 'delivered_before_as_of', 'ordered_after_as_of', "
        "'invalid_dates' (e.g. promised before ordered), 'no_score' (the model gave none)",
        examples=["scored", "delivered_before_as_of"],
    )
    unscored_reason: str | None = Field(
        None,
        description="Why the line was not scored, for a person; null when scored",
        examples=["already delivered on 2025-03-02, before as_of 2025-03-10"],
    )
    p_late: float | None = Field(
        None, ge=0, le=1, description="Probability the line ships after promise; null unscored"
    )
    risk_band: str | None = Field(None, examples=["high"], description="null when unscored")
    expected_delay_days: float | None = Field(None, description="null when unscored")
    reason_1: str | None = Field(None, description="Strongest reason for the score")
    reason_2: str | None = None
    reason_3: str | None = None


class AtRiskResponse(BaseModel):
    model_version: str = Field(description="Registry version of ordercast-risk that answered")
    as_of: str
    lines: list[LineRisk] = Field(
        description="Every submitted line, in the order submitted, scored or not"
    )


FIELDS = tuple(OrderLine.model_fields)
DATE_FIELDS = ("order_date", "promised_date", "ship_date", "delivered_date")


def orders_frame(lines: list[OrderLine]) -> pd.DataFrame:
    """The request's lines as an orders frame (contract columns, datetime64 dates)."""
    columns: dict[str, Any] = {name: [getattr(line, name) for line in lines] for name in FIELDS}
    for name in DATE_FIELDS:
        columns[name] = pd.to_datetime(pd.Series(columns[name], dtype=object))
    columns["quantity"] = np.asarray(columns["quantity"], dtype=float)
    columns["unit_price"] = pd.to_numeric(pd.Series(columns["unit_price"], dtype=object))
    # Optional contract columns stay even when every line leaves them empty: a model that
    # uses one as a feature then sees missing values, as in any history, not a missing column.
    return pd.DataFrame(columns)


@router.post(
    "/at-risk",
    response_model=AtRiskResponse,
    summary="Probability, band, expected delay and reasons per open order line",
    description="Scores the whole batch in one vectorised call of the champion at-risk model. "
    "Send the lines open at `as_of`: the model remembers the lines delivered before its "
    "training date (on-time records, site throughput), so a batch needs no history of its "
    "own; lines delivered since then count only if the batch carries them. "
    "Line ids must be unique within a batch. Every line sent comes back, in the order sent: "
    "a line already delivered before `as_of`, ordered after it, or whose dates break the "
    "order-history contract (promised or delivered before ordered) has `scored: false`, a "
    "`status` code and an `unscored_reason` instead of a score.",
    responses=documented(400, 401, 403, 413, 422, 503),
)
def at_risk(
    request: AtRiskRequest, _: ReadRole, loaded: RiskModel, settings: SettingsDep
) -> Response:
    limit = min(settings.api.max_batch_lines, HARD_MAX_LINES)
    if len(request.orders) > limit:
        problem = f"{len(request.orders):,} lines; the limit is {limit:,}: send smaller batches"
        raise DataContractError([ContractIssue(None, "orders", problem)])
    # The model's own check (answer_risk) names a row; a JSON caller wants the field path.
    position = first_duplicate(line.line_id for line in request.orders)
    if position is not None:
        line_id = request.orders[position].line_id
        problem = f"duplicate line_id '{line_id}'"
        raise DataContractError([ContractIssue(None, f"orders.{position}.line_id", problem)])
    answer = answer_risk(loaded.core, orders_frame(request.orders), pd.Timestamp(request.as_of))
    scored = answer["scored"].to_numpy(bool).tolist()
    out: dict[str, list[Any]] = {
        "order_id": answer["order_id"].astype(str).tolist(),
        "line_id": answer["line_id"].astype(str).tolist(),
        "promised_date": pd.DatetimeIndex(answer["promised_date"]).strftime("%Y-%m-%d").tolist(),
        "scored": scored,
        "status": answer["status"].astype(str).tolist(),
        "unscored_reason": [
            None if ok else str(v) for ok, v in zip(scored, answer["unscored_reason"], strict=True)
        ],
        "p_late": [
            _probability(v) if ok else None
            for ok, v in zip(scored, np.asarray(answer["p_late"], float).tolist(), strict=True)
        ],
        "risk_band": [
            str(v) if ok else None for ok, v in zip(scored, answer["risk_band"], strict=True)
        ],
        "expected_delay_days": [
            (v if math.isfinite(v) else 0.0) if ok else None
            for ok, v in zip(
                scored, np.asarray(answer["expected_delay_days"], float).tolist(), strict=True
            )
        ],
    }
    for column in ("reason_1", "reason_2", "reason_3"):
        out[column] = [None if pd.isna(v) or v == "" else str(v) for v in answer[column]]
    lines = [dict(zip(out, row, strict=True)) for row in zip(*out.values(), strict=True)]
    return json_response(
        {"model_version": loaded.version, "as_of": request.as_of.isoformat(), "lines": lines}
    )


def _probability(value: float) -> float:
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
