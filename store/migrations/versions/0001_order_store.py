"""The order store: order lines, ingest batches, rejected rows, publications, published
forecasts and their backtest expectations.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here on purpose: a migration describes the schema as it was at this revision.
Double = sa.Float().with_variant(DOUBLE_PRECISION(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ingest_batches",
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
    op.create_table(
        "order_lines",
        sa.Column("line_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("order_date", sa.Date, nullable=False),
        sa.Column("promised_date", sa.Date, nullable=False),
        sa.Column("quantity", Double, nullable=False),
        sa.Column("channel", sa.Text),
        sa.Column("customer", sa.Text),
        sa.Column("region", sa.Text),
        sa.Column("ship_date", sa.Date),
        sa.Column("delivered_date", sa.Date),
        sa.Column("unit_price", Double),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("ingest_batches.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_order_lines_order_date", "order_lines", ["order_date"])
    op.create_table(
        "rejected_rows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("ingest_batches.id"), nullable=False),
        sa.Column("line", sa.Integer),
        sa.Column("column", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raw", sa.JSON),
    )
    op.create_index("ix_rejected_rows_batch_id", "rejected_rows", ["batch_id"])
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_name", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("parent_version", sa.Text),
        sa.Column("origin", sa.Date, nullable=False),
        sa.Column("freq", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "published_forecasts",
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
    )
    op.create_index("ix_published_forecasts_ds", "published_forecasts", ["ds"])
    op.create_table(
        "forecast_expectations",
        sa.Column("publication_id", sa.Integer, sa.ForeignKey("publications.id"), primary_key=True),
        sa.Column("level", sa.Text, primary_key=True),
        sa.Column("lag", sa.Integer, primary_key=True),
        sa.Column("wape", Double),
        sa.Column("mase", Double),
        sa.Column("coverage80", Double),
    )


def downgrade() -> None:
    for table in (
        "forecast_expectations",
        "published_forecasts",
        "publications",
        "rejected_rows",
        "order_lines",
        "ingest_batches",
    ):
        op.drop_table(table)
