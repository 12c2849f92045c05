"""Planner adjustments: the adjustments, their audit events, and the values each one set.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen here on purpose: a migration describes the schema as it was at this revision.
Double = sa.Float().with_variant(DOUBLE_PRECISION(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "adjustments",
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
    )
    op.create_index("ix_adjustments_series", "adjustments", ["level", "series_id"])
    op.create_table(
        "adjustment_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("adjustment_id", sa.String(32), sa.ForeignKey("adjustments.id"), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    op.create_index("ix_adjustment_events_adjustment_id", "adjustment_events", ["adjustment_id"])
    op.create_table(
        "adjustment_values",
        sa.Column(
            "adjustment_id", sa.String(32), sa.ForeignKey("adjustments.id"), primary_key=True
        ),
        sa.Column("ds", sa.Date, primary_key=True),
        sa.Column("statistical", Double, nullable=False),
        sa.Column("adjusted", Double, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("adjustment_values")
    op.drop_index("ix_adjustment_events_adjustment_id", "adjustment_events")
    op.drop_table("adjustment_events")
    op.drop_index("ix_adjustments_series", "adjustments")
    op.drop_table("adjustments")
