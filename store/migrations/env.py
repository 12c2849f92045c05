"""Alembic's entry point for the order store, run programmatically by ``OrderStore.open``.

The caller hands over an open connection (``config.attributes["connection"]``), so the
migration runs inside the caller's transaction and on its engine; nothing here reads a
configuration file or the environment.
"""

from __future__ import annotations

from alembic import context

from store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "store migrations run through store.database.OrderStore.open(url), which passes the "
        "connection; the alembic command line is not wired up"
    )
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
