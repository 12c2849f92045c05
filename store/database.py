"""Opening the order store: one SQLAlchemy engine, the schema migrated to the latest revision.

SQLite (the embedded default) and PostgreSQL are both first-class. On SQLite every
transaction is a real ``BEGIN`` (pysqlite's own handling would leave DDL and reads outside
it), and a writing transaction starts with ``BEGIN IMMEDIATE`` so two writers queue for the
lock instead of one failing half-way. On PostgreSQL writing transactions take one advisory
lock, so ingest batches are applied one after another and each one's counts are exact.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from forecasting.errors import ConfigError
from forecasting.redaction import redact

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Seconds a writer waits for another writer's lock (SQLite) or for a connection (PostgreSQL).
LOCK_WAIT_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 10
# Fixed advisory-lock keys for "writing to the order store" and "migrating it" (any 64-bit
# numbers would do, as long as nothing else in the database uses them).
_WRITE_LOCK_KEY = 0x0DE5_CA57
_MIGRATE_LOCK_KEY = 0x0DE5_CA58
# Alembic keeps the running migration in module-level state (``alembic.context``): two
# threads of one process upgrading at once (a server's background figures opening a store
# while a command opens another) take each other's context ("KeyError: 'script'").
_UPGRADING = threading.Lock()
_WRITE_OPTION = "ordercast_write"


@dataclass(frozen=True)
class OrderStore:
    """The order store's engine; ``url`` is the address with any password masked."""

    engine: Engine
    url: str

    @classmethod
    def open(cls, url: str) -> OrderStore:
        """Connect to ``url`` (a SQLAlchemy URL), creating a SQLite file's folder, and bring
        the schema to the latest migration.

        Raises :class:`ConfigError` naming the (password-masked) address when the URL is not
        usable or the database cannot be reached.
        """
        shown = redact(url)
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(
                f"'{shown}' is not a database URL; write e.g. sqlite:///data/ordercast.db or "
                "postgresql+psycopg://user@host:5432/db in ORDERCAST_DATABASE_URL"
            ) from exc
        try:
            engine = _create_engine(parsed)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise ConfigError(
                f"cannot use the order store at {shown}: {redact(exc)}; check "
                "ORDERCAST_DATABASE_URL (sqlite:///... or postgresql+psycopg://...)"
            ) from exc
        store = cls(engine, shown)
        try:
            store.migrate()
        except SQLAlchemyError as exc:
            engine.dispose()
            raise ConfigError(
                f"cannot reach the order store at {shown}: {first_line(exc)}; check "
                "ORDERCAST_DATABASE_URL"
            ) from exc
        return store

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision in ``store/migrations`` (a no-op when
        it is there already, so opening an up-to-date store logs nothing)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes opening a new database at once: one migrates, one waits.
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK_KEY}
                )
            current = MigrationContext.configure(connection).get_current_revision()
            if current == head:
                return
            config.attributes["connection"] = connection
            with _UPGRADING:
                command.upgrade(config, "head")

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """One writing transaction: committed when the block ends, rolled back on any error."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY}
                    )
                yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _create_engine(url: sa.URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql":
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": LOCK_WAIT_SECONDS})
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    # Hand transactions to the "begin" hook below (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    writing = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def inserted_id(connection: Connection, statement: sa.Insert) -> int:
    """Run a one-row insert and return the id the database gave the new row."""
    key = connection.execute(statement).inserted_primary_key
    if not key or key[0] is None:
        raise RuntimeError(f"the database returned no id for the new {statement.table} row")
    return int(key[0])


def first_line(exc: BaseException) -> str:
    """A driver's message without SQLAlchemy's appended statement and help link, masked."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return redact(text[0] if text else type(exc).__name__)
