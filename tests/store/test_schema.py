"""The migrations build exactly the tables the code uses (store/schema.py)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store.database import OrderStore
from store.schema import metadata


def test_migrations_match_the_schema_the_code_uses(store: OrderStore) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, metadata) == []


def test_opening_again_is_a_no_op(store_url: str, store: OrderStore) -> None:
    OrderStore.open(store_url).dispose()
