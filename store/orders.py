"""Order lines out of the store: the canonical frame the models learn from, and what the
latest ingest batch did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from store.database import OrderStore
from store.lines import decode_columns
from store.schema import LINE_COLUMNS, ingest_batches, order_lines


@dataclass(frozen=True)
class BatchInfo:
    """An ingest batch that changed the store."""

    id: int
    finished_at: datetime | None
    source: str
    new: int
    updated: int


def read_orders(store: OrderStore, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Every stored line (ordered on or before ``as_of`` when given) as the canonical
    validated frame, with the columns and types :func:`forecasting.loaders.load_orders`
    gives for the same lines, sorted by ``order_date`` then ``line_id``. Empty (no rows)
    when the store holds no lines."""
    if as_of is None:
        return _read(store)
    return _read(store, order_lines.c.order_date <= pd.Timestamp(as_of).date())


def read_open_or_promised_after(
    store: OrderStore, as_of: pd.Timestamp, promised_after: pd.Timestamp
) -> pd.DataFrame:
    """The lines ordered on or before ``as_of`` that are open at ``as_of`` (no delivery
    date, or one after it) or promised after ``promised_after``, as :func:`read_orders`
    gives them: the open book and the recent on-time windows without the whole history
    (on the demo: 55,759 of 323,833 lines, in 1.2 s instead of 5.8 s)."""
    c = order_lines.c
    as_of_date = pd.Timestamp(as_of).date()
    return _read(
        store,
        c.order_date <= as_of_date,
        sa.or_(
            c.delivered_date.is_(None),
            c.delivered_date > as_of_date,
            c.promised_date > pd.Timestamp(promised_after).date(),
        ),
    )


def last_order_date(store: OrderStore) -> pd.Timestamp | None:
    """The latest ``order_date`` in the store, or None when it holds no lines."""
    with store.engine.connect() as connection:
        value = connection.execute(sa.select(sa.func.max(order_lines.c.order_date))).scalar()
    return None if value is None else pd.Timestamp(value)


def _read(store: OrderStore, *conditions: sa.ColumnElement[bool]) -> pd.DataFrame:
    names = ["line_id", *LINE_COLUMNS, "attributes"]
    # Raw values, decoded column by column below: SQLAlchemy's per-row result objects and
    # per-value date and JSON processing took most of the time on a history of 300k lines.
    columns = [sa.type_coerce(order_lines.c[name], sa.Text).label(name) for name in names]
    query = sa.select(*columns)
    if conditions:
        query = query.where(*conditions)
    query = query.order_by(order_lines.c.order_date, order_lines.c.line_id)
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return decode_columns(dict(zip(names, values, strict=True)))


def count_lines(store: OrderStore) -> int:
    """How many order lines the store holds."""
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(order_lines)).one()[0])


def latest_batch(store: OrderStore) -> BatchInfo | None:
    """The newest finished batch that added or changed lines, or None."""
    b = ingest_batches.c
    query = (
        sa.select(b.id, b.finished_at, b.source, b.new, b.updated)
        .where(b.status == "done", (b.new + b.updated) > 0)
        .order_by(b.id.desc())
        .limit(1)
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    if row is None:
        return None
    return BatchInfo(row["id"], row["finished_at"], row["source"], row["new"], row["updated"])
