"""The store's tables as SQLAlchemy Core objects, for the code that reads and writes them.

The migrations in ``store/migrations/versions`` create these tables; a change here needs a
new revision there (the test ``tests/store/test_schema.py`` compares the two).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

from forecasting.contract import (
    CANONICAL_COLUMNS,
    DATE_COLUMNS,
    NUMERIC_COLUMNS,
    REQUIRED_COLUMNS,
)

metadata = sa.MetaData()

# Floats kept as 8-byte doubles on PostgreSQL (its REAL is 4 bytes): what a line said comes
# back exactly, so an unchanged line compares equal.
Double = sa.Float().with_variant(DOUBLE_PRECISION(), "postgresql")


def _line_column(name: str) -> sa.Column:
    nullable = name not in REQUIRED_COLUMNS
    if name in DATE_COLUMNS:
        return sa.Column(name, sa.Date, nullable=nullable)
    if name in NUMERIC_COLUMNS:
        return sa.Column(name, Double, nullable=nullable)
    return sa.Column(name, sa.Text, nullable=nullable)


# The contract's columns other than the key, in the contract's order: one typed SQL column
# each (``line_id`` is the primary key, every other column of an export goes to attributes).
LINE_COLUMNS: tuple[str, ...] = tuple(c for c in CANONICAL_COLUMNS if c != "line_id")

ingest_batches = sa.Table(
    "ingest_batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("command", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("line_id", sa.Text, primary_key=True),
    *(_line_column(name) for name in LINE_COLUMNS),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("ingest_batches.id"), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_order_lines_order_date", "order_date"),
)

rejected_rows = sa.Table(
    "rejected_rows",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "batch_id", sa.Integer, sa.ForeignKey("ingest_batches.id"), nullable=False, index=True
    ),
    sa.Column("line", sa.Integer),
    sa.Column("column", sa.Text),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("raw", sa.JSON),
)

publications = sa.Table(
    "publications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("model_name", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("parent_version", sa.Text),
    sa.Column("origin", sa.Date, nullable=False),
    sa.Column("freq", sa.Text, nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
)

published_forecasts = sa.Table(
    "published_forecasts",
    metadata,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publications.id"), primary_key=True),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("series_id", sa.Text, primary_key=True),
    sa.Column("ds", sa.Date, primary_key=True),
    sa.Column("lag", sa.Integer, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("mean", Double, nullable=False),
    sa.Column("p10", Double),
    sa.Column("p50", Double),
    sa.Column("p90", Double),
    sa.Index("ix_published_forecasts_ds", "ds"),
)

forecast_expectations = sa.Table(
    "forecast_expectations",
    metadata,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publications.id"), primary_key=True),
    sa.Column("level", sa.Text, primary_key=True),
    sa.Column("lag", sa.Integer, primary_key=True),
    sa.Column("wape", Double),
    sa.Column("mase", Double),
    sa.Column("coverage80", Double),
)

# Planner adjustments (#18): kept against a series and its periods, not a model version, so
# they outlive refreshes and retrainings; never deleted (a revoke or an expiry is a status
# and an event).
adjustments = sa.Table(
    "adjustments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("series_id", sa.Text, nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", Double, nullable=False),
    sa.Column("split", sa.JSON),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("reason_code", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("closed_by", sa.Text),
    sa.Index("ix_adjustments_series", "level", "series_id"),
)

# The audit trail: who did what to an adjustment, when, and the values before and after.
adjustment_events = sa.Table(
    "adjustment_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "adjustment_id", sa.String(32), sa.ForeignKey("adjustments.id"), nullable=False, index=True
    ),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("before", sa.JSON),
    sa.Column("after", sa.JSON),
)

# What each adjustment did to its own series, per period, as last published before the period
# began: the statistical and the adjusted value that forecast value added compares.
adjustment_values = sa.Table(
    "adjustment_values",
    metadata,
    sa.Column("adjustment_id", sa.String(32), sa.ForeignKey("adjustments.id"), primary_key=True),
    sa.Column("ds", sa.Date, primary_key=True),
    sa.Column("statistical", Double, nullable=False),
    sa.Column("adjusted", Double, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)
