"""Planner adjustments in the order store: saved with their audit event in one transaction,
revoked or expired by status (never deleted), and the statistical and adjusted values each
one set, kept per period as last published before the period began (what forecast value
added compares once the actuals arrive).

Frames out are long, dates as ``datetime64[ns]``; the adjustment itself is the domain's
:class:`forecasting.demand.adjustments.Adjustment`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from forecasting.errors import ConfigError
from store.database import OrderStore
from store.frames import datetimes, read_frame
from store.schema import adjustment_events, adjustment_values, adjustments

if TYPE_CHECKING:
    from forecasting.demand.adjustments import Adjustment

STATUSES = ("active", "revoked", "expired")
ADJUSTMENT_COLUMNS = (
    "id",
    "level",
    "series_id",
    "start",
    "end",
    "kind",
    "value",
    "split",
    "author",
    "reason",
    "reason_code",
    "created_at",
    "status",
    "closed_at",
    "closed_by",
)
VALUE_COLUMNS = ("ds", "statistical", "adjusted")


def save_adjustment(store: OrderStore, adjustment: Adjustment, values: pd.DataFrame) -> None:
    """Keep a new adjustment, its ``create`` event (the series' values before and after) and
    its per-period ``values`` (``ds, statistical, adjusted``), all or nothing."""
    _require(values, VALUE_COLUMNS)
    now = datetime.now(UTC)
    row = {
        "id": adjustment.id,
        "level": adjustment.level,
        "series_id": adjustment.series_id,
        "period_start": pd.Timestamp(adjustment.start).date(),
        "period_end": pd.Timestamp(adjustment.end).date(),
        "kind": adjustment.kind,
        "value": float(adjustment.value),
        "split": dict(adjustment.split) if adjustment.split else None,
        "author": adjustment.author,
        "reason": adjustment.reason,
        "reason_code": adjustment.reason_code,
        "created_at": pd.Timestamp(adjustment.created_at).to_pydatetime(),
        "status": "active",
    }
    with store.writing() as connection:
        connection.execute(adjustments.insert().values(**row))
        _event(connection, adjustment.id, "create", adjustment.author, now, values)
        _upsert_values(connection, adjustment.id, values, now)


def close_adjustment(
    store: OrderStore, adjustment_id: str, status: str, author: str, values: pd.DataFrame
) -> None:
    """Revoke or expire an active adjustment: its status changes, an event records who and
    the values before (adjusted) and after (statistical); nothing is deleted.

    Raises :class:`ConfigError` for an unknown id or one that is no longer active."""
    if status not in ("revoked", "expired"):
        raise ConfigError(f"an adjustment is closed as revoked or expired, not {status}")
    now = datetime.now(UTC)
    a = adjustments.c
    with store.writing() as connection:
        found = connection.execute(sa.select(a.status).where(a.id == adjustment_id)).first()
        if found is None:
            raise ConfigError(f"no adjustment with id {adjustment_id}")
        if found[0] != "active":
            raise ConfigError(f"adjustment {adjustment_id} is already {found[0]}")
        connection.execute(
            adjustments.update()
            .where(a.id == adjustment_id)
            .values(status=status, closed_at=now, closed_by=author)
        )
        event = "revoke" if status == "revoked" else "expire"
        _event(connection, adjustment_id, event, author, now, values, reverse=True)


def record_values(store: OrderStore, applied: pd.DataFrame, origin: pd.Timestamp) -> int:
    """Update the kept values of adjustments from a new publication: ``applied`` holds
    ``adjustment_id, ds, statistical, adjusted``; only periods after ``origin`` (not begun)
    change, so a period keeps the values last published before it began. Returns rows."""
    _require(applied, ("adjustment_id", *VALUE_COLUMNS))
    pending = applied[pd.to_datetime(applied["ds"]) > pd.Timestamp(origin)]
    if pending.empty:
        return 0
    now = datetime.now(UTC)
    with store.writing() as connection:
        for adjustment_id, values in pending.groupby("adjustment_id", sort=False):
            _upsert_values(connection, str(adjustment_id), values, now)
    return len(pending)


def read_adjustments(
    store: OrderStore,
    *,
    level: str | None = None,
    series_id: str | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """Adjustments, oldest first: ``id, level, series_id, start, end, kind, value, split,
    author, reason, reason_code, created_at, status, closed_at, closed_by``."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status '{status}' is not one of {', '.join(STATUSES)}")
    a = adjustments.c
    query = sa.select(
        a.id,
        a.level,
        a.series_id,
        a.period_start,
        a.period_end,
        a.kind,
        a.value,
        a.split,
        a.author,
        a.reason,
        a.reason_code,
        a.created_at,
        a.status,
        a.closed_at,
        a.closed_by,
    )
    for field, wanted in ((a.level, level), (a.series_id, series_id), (a.status, status)):
        if wanted is not None:
            query = query.where(field == wanted)
    frame = read_frame(store, query.order_by(a.created_at, a.id), list(ADJUSTMENT_COLUMNS))
    for column in ("start", "end"):
        frame[column] = datetimes(frame[column])
    for column in ("created_at", "closed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"value": "float64"})


def read_events(store: OrderStore, adjustment_id: str | None = None) -> pd.DataFrame:
    """The audit trail, oldest first: ``id, adjustment_id, event, author, at, before,
    after`` (before/after: lists of ``{ds, value}``)."""
    e = adjustment_events.c
    query = sa.select(adjustment_events)
    if adjustment_id is not None:
        query = query.where(e.adjustment_id == adjustment_id)
    frame = read_frame(store, query.order_by(e.id), [c.name for c in adjustment_events.columns])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def read_values(store: OrderStore) -> pd.DataFrame:
    """Kept values with their adjustment's facts: ``adjustment_id, level, series_id, ds,
    statistical, adjusted, author, reason_code, status``."""
    v, a = adjustment_values.c, adjustments.c
    query = (
        sa.select(
            v.adjustment_id,
            a.level,
            a.series_id,
            v.ds,
            v.statistical,
            v.adjusted,
            a.author,
            a.reason_code,
            a.status,
        )
        .join(adjustments, v.adjustment_id == a.id)
        .order_by(v.adjustment_id, v.ds)
    )
    names = [
        "adjustment_id",
        "level",
        "series_id",
        "ds",
        "statistical",
        "adjusted",
        "author",
        "reason_code",
        "status",
    ]
    frame = read_frame(store, query, names)
    frame["ds"] = datetimes(frame["ds"])
    return frame.astype({"statistical": "float64", "adjusted": "float64"})


def _event(
    connection: Connection,
    adjustment_id: str,
    event: str,
    author: str,
    at: datetime,
    values: pd.DataFrame,
    reverse: bool = False,
) -> None:
    statistical = _series(values, "statistical")
    adjusted = _series(values, "adjusted")
    before, after = (adjusted, statistical) if reverse else (statistical, adjusted)
    connection.execute(
        adjustment_events.insert().values(
            adjustment_id=adjustment_id,
            event=event,
            author=author,
            at=at,
            before=before,
            after=after,
        )
    )


def _series(values: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    return [
        {"ds": f"{pd.Timestamp(ds):%Y-%m-%d}", "value": _number(value)}
        for ds, value in zip(values["ds"], values[column], strict=True)
    ]


def _upsert_values(
    connection: Connection, adjustment_id: str, values: pd.DataFrame, now: datetime
) -> None:
    rows = [
        {
            "adjustment_id": adjustment_id,
            "ds": pd.Timestamp(ds).date(),
            "statistical": _number(statistical),
            "adjusted": _number(adjusted),
            "recorded_at": now,
        }
        for ds, statistical, adjusted in zip(
            values["ds"], values["statistical"], values["adjusted"], strict=True
        )
    ]
    if not rows:
        return
    insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(
        adjustment_values
    )
    statement = insert.on_conflict_do_update(
        index_elements=["adjustment_id", "ds"],
        set_={
            "statistical": insert.excluded.statistical,
            "adjusted": insert.excluded.adjusted,
            "recorded_at": insert.excluded.recorded_at,
        },
    )
    connection.execute(statement, rows)


def _require(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"adjustment values lack column(s) {', '.join(missing)}")


def _number(value: object) -> float:
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise ConfigError(f"an adjustment value must be a finite number, not {value}")
    return number
