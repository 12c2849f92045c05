"""Order lines pushed by an order-management system: ``POST /v1/orders`` (write role)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, OperationalError

from api.deps import SettingsDep, WriteRole
from api.errors import documented, error_response
from api.order_store import OrderStoreHandle
from api.routes.orders import EXAMPLE_LINE
from forecasting.mapping import ColumnMapping
from store.database import OrderStore, first_line
from store.ingest import IngestSummary, ingest_records

router = APIRouter(tags=["orders"])

Scalar = str | int | float | bool | None


class OrdersPush(BaseModel):
    """Order lines to add or update, with the order-history contract's field names (other
    fields are kept as attributes); dates as YYYY-MM-DD."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"lines": [EXAMPLE_LINE]}]},
    )
    lines: list[dict[str, Scalar]] = Field(min_length=1)
    invalid_rows: Literal["error", "drop"] = Field(
        "error",
        description="'error': one bad line refuses the whole batch; 'drop': the good lines "
        "land and the bad ones are rejected",
    )


class Rejected(BaseModel):
    line: int | None = Field(description="Record number in `lines`, from 1")
    column: str | None
    message: str


class IngestResult(BaseModel):
    batch_id: int | None
    rows_read: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    first_rejected: list[Rejected]
    refused: bool
    message: str = Field(description="The summary a person reads")


def result_of(summary: IngestSummary) -> dict[str, Any]:
    return IngestResult(
        batch_id=summary.batch_id,
        rows_read=summary.rows_read,
        new=summary.new,
        updated=summary.updated,
        unchanged=summary.unchanged,
        rejected=summary.rejected,
        first_rejected=[
            Rejected(line=line, column=column, message=message)
            for line, column, message in summary.first_rejected
        ],
        refused=summary.refused,
        message=summary.describe(),
    ).model_dump()


async def get_order_store(request: Request) -> OrderStoreHandle:
    return request.app.state.order_store


OrderStoreDep = Annotated[OrderStoreHandle, Depends(get_order_store)]


@router.post(
    "/v1/orders",
    response_model=IngestResult,
    summary="Add or update order lines",
    description="Upserts the lines by `line_id` in one transaction: new lines are added, lines "
    "with other values (a delivered date filled in) are updated, identical ones are left as "
    "they are. A batch with a bad line is refused whole (422, nothing lands) unless "
    "`invalid_rows` is `drop`. At most `api.max_batch_lines` lines (413 beyond). Needs the "
    "`write` or `admin` role.",
    responses=documented(400, 401, 403, 413, 422, 503),
)
def push_orders(
    body: OrdersPush, request: Request, _: WriteRole, settings: SettingsDep, handle: OrderStoreDep
) -> Any:
    limit = settings.api.max_batch_lines
    if len(body.lines) > limit:
        raise HTTPException(
            413, f"{len(body.lines):,} lines; the limit is {limit:,}: send smaller batches"
        )
    store: OrderStore = handle.get()
    try:
        summary = ingest_records(
            store, body.lines, source="api", mapping=ColumnMapping(invalid_rows=body.invalid_rows)
        )
    except OperationalError as exc:  # locked or gone: the caller may retry; nothing landed
        raise HTTPException(
            503, f"the order store at {store.url} did not take the batch: {first_line(exc)}"
        ) from exc
    except DataError as exc:  # a value the database cannot hold (PostgreSQL: a NUL in text)
        raise HTTPException(
            422, f"the order store refused a value, nothing landed: {first_line(exc)}"
        ) from exc
    if summary.refused:
        return error_response(
            request,
            422,
            "batch_refused",
            summary.describe().splitlines()[0],
            result_of(summary),
        )
    return JSONResponse(result_of(summary))
