"""The bulk part of an ingest: compare a batch's lines with the stored ones, write the
new and changed ones with one ``INSERT ... ON CONFLICT (line_id) DO UPDATE`` per chunk.

Existing lines are read for the batch's ids only, a chunk at a time, so a batch of a few
thousand lines costs a few thousand index lookups whatever the size of the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from forecasting.errors import ConfigError
from store.lines import Row, comparable
from store.schema import LINE_COLUMNS, order_lines

Progress = Callable[[int, int], None]  # (lines done, lines in the batch)

# Ids per lookup: below SQLite's oldest limit of 999 bound parameters.
LOOKUP_CHUNK = 900
WRITE_CHUNK = 5_000


@dataclass(frozen=True)
class LineCounts:
    new: int
    updated: int
    unchanged: int


def write_lines(
    connection: Connection,
    rows: Sequence[Row],
    batch_id: int,
    now: datetime,
    progress: Progress | None = None,
) -> LineCounts:
    """Upsert ``rows`` (from :func:`store.lines.encode_lines`) inside the caller's
    transaction; lines identical to the stored ones are not written."""
    total = len(rows)
    stored = _stored(connection, [r["line_id"] for r in rows])
    changed: list[Row] = []
    new = 0
    for row in rows:
        before = stored.get(row["line_id"])
        if before is None:
            new += 1
        elif before == comparable(row):
            continue
        changed.append({**row, "batch_id": batch_id, "updated_at": now})
    statement = _upsert(connection)
    done = total - len(changed)
    if progress is not None:
        progress(done, total)
    for start in range(0, len(changed), WRITE_CHUNK):
        chunk = changed[start : start + WRITE_CHUNK]
        connection.execute(statement, chunk)
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return LineCounts(new, len(changed) - new, total - len(changed))


def _stored(connection: Connection, line_ids: list[str]) -> dict[str, tuple]:
    """The comparable values of the stored lines among ``line_ids``."""
    columns = [order_lines.c.line_id, *(order_lines.c[n] for n in LINE_COLUMNS)]
    columns.append(order_lines.c.attributes)
    query = sa.select(*columns).where(
        order_lines.c.line_id.in_(sa.bindparam("ids", expanding=True))
    )
    found: dict[str, tuple] = {}
    for start in range(0, len(line_ids), LOOKUP_CHUNK):
        chunk = line_ids[start : start + LOOKUP_CHUNK]
        for row in connection.execute(query, {"ids": chunk}).mappings():
            found[row["line_id"]] = comparable(dict(row))
    return found


def _upsert(connection: Connection) -> sa.Insert:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(order_lines)
        return statement.on_conflict_do_update(
            index_elements=[order_lines.c.line_id], set_=_replaced(statement.excluded)
        )
    if dialect == "sqlite":
        lite = sqlite.insert(order_lines)
        return lite.on_conflict_do_update(
            index_elements=[order_lines.c.line_id], set_=_replaced(lite.excluded)
        )
    raise ConfigError(
        f"the order store runs on SQLite or PostgreSQL, not {dialect}; point "
        "ORDERCAST_DATABASE_URL at one of them"
    )


def _replaced(excluded: sa.ColumnCollection) -> dict[str, object]:
    return {c.name: excluded[c.name] for c in order_lines.columns if c.name != "line_id"}
