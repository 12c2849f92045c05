"""At-risk scoring of open order lines, a whole batch in one vectorised call."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
    model_validator,
)

from api.deps import ReadRole, ResponseCacheDep, RiskModel, SettingsDep
from api.errors import documented
from api.model_store import LoadedModel
from api.response_cache import cached_json
from api.routes.forecasts import Real, dumps
from forecasting.cores import RiskCore
from forecasting.errors import ContractIssue, DataContractError
from forecasting.queries import answer_risk, first_duplicate
from forecasting.risk.line_status import STATUSES
from forecasting.risk.validation import stale_memory_note

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


# Attributes: any field beyond the contract's, kept as a column the model may use (as
# `ordercast risk score` keeps a file's other columns). Bounded so that one request cannot
# make a frame of thousands of columns or megabyte cells.
CONTRACT_FIELDS = 13  # OrderLine's declared fields
MAX_LINE_FIELDS = 45  # the 13 contract fields and at least 32 attributes
MAX_ATTRIBUTE_NAME = 64
MAX_ATTRIBUTE_TEXT = 256
MAX_ATTRIBUTE_NUMBER = 1e15
NUMBER_TEXT = "1e15"
ATTRIBUTE_NAME = re.compile(rf"[^\x00-\x1f\x7f]{{1,{MAX_ATTRIBUTE_NAME}}}")
LIMITS = (
    f"at most {MAX_LINE_FIELDS} fields per line (the {CONTRACT_FIELDS} order-history fields "
    f"and at least {MAX_LINE_FIELDS - CONTRACT_FIELDS} attributes), attribute names of 1 to "
    f"{MAX_ATTRIBUTE_NAME} characters without control characters, values text of at most "
    f"{MAX_ATTRIBUTE_TEXT} characters, a number from -{NUMBER_TEXT} to {NUMBER_TEXT}, "
    "true/false or null"
)


def _attribute_value(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if not (math.isfinite(value) and abs(value) <= MAX_ATTRIBUTE_NUMBER):
            raise ValueError(
                f"attribute number {value!r} is outside -{NUMBER_TEXT} to {NUMBER_TEXT}; send "
                "it as text if it is an identifier"
            )
        return value
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_TEXT:
            raise ValueError(
                f"attribute text of {len(value):,} characters; the limit is {MAX_ATTRIBUTE_TEXT}"
            )
        return value
    raise ValueError(
        f"an attribute is text, a number, true/false or null, not {type(value).__name__}"
    )


AttributeValue = Annotated[
    str | int | float | bool | None,
    PlainValidator(_attribute_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "maxLength": MAX_ATTRIBUTE_TEXT},
                {
                    "type": "number",
                    "minimum": -MAX_ATTRIBUTE_NUMBER,
                    "maximum": MAX_ATTRIBUTE_NUMBER,
                },
                {"type": "boolean"},
                {"type": "null"},
            ],
            "description": "An attribute: any field beyond the order-history contract's, "
            "kept as a column the model may use (carrier, product_family, promotion ...)",
        }
    ),
]


class OrderLine(BaseModel):
    """One open order line, with the order-history contract's field names; any other field
    is an attribute the model may use, as ``ordercast risk score`` keeps a file's other
    columns (e.g. ``carrier``, ``product_family``, ``promotion``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "description": "One open order line, with the order-history contract's field "
            "names. Any other field is an attribute the model may use, as `ordercast risk "
            "score` keeps a file's other columns (e.g. carrier, product_family, promotion): "
            f"{LIMITS}.",
            "maxProperties": MAX_LINE_FIELDS,
            "propertyNames": {
                "minLength": 1,
                "maxLength": MAX_ATTRIBUTE_NAME,
                "pattern": r"^[^\x00-\x1f\x7f]*$",
            },
        },
    )
    __pydantic_extra__: dict[str, AttributeValue] = Field(init=False)

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

    @model_validator(mode="before")
    @classmethod
    def _bounded_attributes(cls, data: Any) -> Any:
        # Before the values are read: an oversized line is refused without building it.
        if not isinstance(data, dict):
            return data
        if len(data) > MAX_LINE_FIELDS:
            first_over = str(list(data)[MAX_LINE_FIELDS])[:80]
            raise ValueError(
                f"{len(data)} fields, from '{first_over}' on over the limit: a line holds at "
                f"most {MAX_LINE_FIELDS} fields; {LIMITS}"
            )
        for name in data:
            if not isinstance(name, str) or not ATTRIBUTE_NAME.fullmatch(name):
                shown = repr(name)[:80]
                raise ValueError(
                    f"attribute name {shown} is not 1 to {MAX_ATTRIBUTE_NAME} characters "
                    "without control characters"
                )
        return data

    @property
    def attributes(self) -> dict[str, str | int | float | bool | None]:
        """The fields beyond the contract's, by name, as sent."""
        return dict(self.model_extra or {})


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
    # Strict: 0, 1 or "yes" are refused (422), as the schema's boolean says they are.
    actions: StrictBool = Field(
        False,
        description="Also say, for each high-risk line, what would lower its risk (a later "
        "promise, another shipment mode, carrier or site) in `action`. Each such line is "
        "rescored a few times over: on the demo model this roughly doubles the time of a "
        "1,000-line batch, so it is asked for, not given by default",
    )


class LineRisk(BaseModel):
    """One submitted line: its score, or why it has none (``scored`` false)."""

    order_id: str
    line_id: str
    promised_date: str = Field(description="ISO date")
    scored: bool = Field(
        description="True when the line was open at as_of and scored; false for a line "
        "already delivered before as_of, ordered after it, whose dates break the "
        "order-history contract, or at a site the model has no history of (see status and "
        "unscored_reason)"
    )
    status: Literal[STATUSES] = Field(  # type: ignore[valid-type]
        description="'scored', or why not: 'delivered_before_as_of', 'ordered_after_as_of', "
        "'invalid_dates' (e.g. promised before ordered), 'unknown_site' (a site the "
        "model has no history of: neither its load nor its record is known), 'no_score' "
        "(the model gave none)",
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
    risk_band: str | None = Field(
        None,
        examples=["high"],
        description="low, medium, high (p_late thresholds), or overdue: past its promised "
        "date and undelivered at as_of, late for certain (p_late 1); null when unscored",
    )
    expected_delay_days: float | None = Field(
        None,
        description="Days late expected: p_late x the delay if late; for an overdue line "
        "the mean total delay. null when unscored",
    )
    delay_p50_days: float | None = Field(
        None,
        description="Overdue lines only: median total days late at delivery, from past "
        "lines already as late at the site (or every site); null otherwise",
    )
    delay_p90_days: float | None = Field(
        None, description="Overdue lines only: 90th percentile of total days late; null otherwise"
    )
    reason_1: str | None = Field(None, description="Strongest reason for the score")
    reason_2: str | None = None
    reason_3: str | None = None
    action: str | None = Field(
        None,
        description="Asked for with `actions: true`; high-band lines only: the change that "
        "lowers p_late most where the model can compute it (a promise 7 days later, another "
        "shipment mode, carrier or site), with the p_late it would have; null otherwise",
        examples=["promised 7 days later, on 2026-01-06: p_late 0.09 instead of 0.74"],
    )


class AtRiskResponse(BaseModel):
    model_version: str = Field(description="Registry version of ordercast-risk that answered")
    as_of: str
    memory_as_of: str | None = Field(
        default=None,
        description="The day the model's memory (track records, site load, open work) "
        "knows the order book as of: its training or last refresh; null for a model "
        "without one",
        examples=["2024-03-01"],
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What to know about the whole answer, e.g. an as_of more than 7 days "
        "after memory_as_of (the records it scores from are that old)",
    )
    lines: list[LineRisk] = Field(
        description="Every submitted line, in the order submitted, scored or not"
    )


FIELDS = tuple(OrderLine.model_fields)
DATE_FIELDS = ("order_date", "promised_date", "ship_date", "delivered_date")


def orders_frame(lines: list[OrderLine]) -> pd.DataFrame:
    """The request's lines as an orders frame (contract columns, datetime64 dates, then
    one column per attribute named by any line, in the order first named)."""
    columns: dict[str, Any] = {name: [getattr(line, name) for line in lines] for name in FIELDS}
    for name in DATE_FIELDS:
        columns[name] = pd.to_datetime(pd.Series(columns[name], dtype=object))
    columns["quantity"] = np.asarray(columns["quantity"], dtype=float)
    columns["unit_price"] = pd.to_numeric(pd.Series(columns["unit_price"], dtype=object))
    # Optional contract columns stay even when every line leaves them empty: a model that
    # uses one as a feature then sees missing values, as in any history, not a missing column.
    frame = pd.DataFrame(columns)
    attributes = [line.attributes for line in lines]
    names = list(dict.fromkeys(name for fields in attributes for name in fields))
    for name in names:
        # As sent (text, number, true/false), as a file's column keeps its values; a null or
        # a field a line leaves out is missing (NaN), as an empty cell of a CSV export.
        values = [fields.get(name) for fields in attributes]
        frame[name] = pd.Series(
            [np.nan if v is None else v for v in values], index=frame.index, dtype=object
        )
    return frame


@router.post(
    "/at-risk",
    response_model=AtRiskResponse,
    summary="Probability, band, expected delay and reasons per open order line",
    description="Scores the whole batch in one vectorised call of the champion at-risk model. "
    "Send the lines open at `as_of`: the model remembers the order book as of its last "
    "refresh (on-time records, site throughput, open work), and every line is scored from "
    "that memory alone, so its score does not depend on the other lines of the request. "
    "A line past its promised date and undelivered is `overdue` (p_late 1) with how late "
    "it is expected to be (`delay_p50_days`, `delay_p90_days`). "
    "Line ids must be unique within a batch. Fields beyond the order-history contract "
    f"(carrier, product_family, promotion ...) are attributes the model may use, as `ordercast "
    f"risk score` keeps a file's other columns: {LIMITS}. "
    "Every line sent comes back, in the order sent: "
    "a line already delivered before `as_of`, ordered after it, or whose dates break the "
    "order-history contract (promised or delivered before ordered) has `scored: false`, a "
    "`status` code and an `unscored_reason` instead of a score.",
    responses=documented(400, 401, 403, 413, 422, 503),
)
async def at_risk(
    request: AtRiskRequest,
    _: ReadRole,
    loaded: RiskModel,
    settings: SettingsDep,
    cache: ResponseCacheDep,
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
    # A line's score depends on the line, as_of and the loaded version alone (its memory is
    # fixed while it is loaded), so the same request has the same answer: scored once, in
    # a thread, then served as stored bytes. A planner's page asks for the same open book
    # all day; the key is a digest of the request as validated (not of its raw bytes).
    digest = hashlib.blake2b(request.model_dump_json().encode(), digest_size=16).digest()
    key = ("risk", loaded.version, loaded.loaded_at, digest)
    return await cached_json(cache, key, functools.partial(at_risk_body, loaded, request))


def at_risk_body(loaded: LoadedModel[RiskCore], request: AtRiskRequest) -> bytes:
    """The JSON answer to ``request`` from ``loaded`` (raises the core's domain errors)."""
    answer = answer_risk(
        loaded.core,
        orders_frame(request.orders),
        pd.Timestamp(request.as_of),
        batch_history=False,
        actions=request.actions,
    )
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
    for column in ("delay_p50_days", "delay_p90_days"):
        values = np.asarray(answer[column], float).tolist()
        out[column] = [
            v if ok and math.isfinite(v) else None for ok, v in zip(scored, values, strict=True)
        ]
    for column in ("reason_1", "reason_2", "reason_3", "action"):
        out[column] = [None if pd.isna(v) or v == "" else str(v) for v in answer[column]]
    lines = [dict(zip(out, row, strict=True)) for row in zip(*out.values(), strict=True)]
    memory = getattr(loaded.core, "memory_", None)
    known_until = getattr(memory, "as_of", None)
    note = stale_memory_note(known_until, pd.Timestamp(request.as_of))
    return dumps(
        {
            "model_version": loaded.version,
            "as_of": request.as_of.isoformat(),
            "memory_as_of": (
                None if known_until is None else f"{pd.Timestamp(known_until):%Y-%m-%d}"
            ),
            "notes": [] if note is None else [note],
            "lines": lines,
        }
    )


def _probability(value: float) -> float:
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
