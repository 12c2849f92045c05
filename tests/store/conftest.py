"""The order store on both backends: a temp SQLite file, and the real PostgreSQL server at
127.0.0.1:5432 with a fresh schema per test (dropped afterwards), so tests never collide."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from forecasting.synthetic import generate_orders
from store.database import OrderStore

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_or_skip() -> None:
    """Fail in CI, skip elsewhere, when the PostgreSQL server cannot be reached."""
    try:
        psycopg.connect(PG_DSN, connect_timeout=5).close()
    except psycopg.Error as exc:
        reason = f"PostgreSQL at 127.0.0.1:5432 is required in CI ({str(exc).strip()})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture()
def pg_schema() -> Iterator[str]:
    """A fresh, uniquely named schema on the real server; dropped with all it holds after."""
    postgres_or_skip()
    schema = f"ordercast_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    yield schema
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pg_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'ordercast.db'}"
    return pg_url(request.getfixturevalue("pg_schema"))


@pytest.fixture()
def store(store_url: str) -> Iterator[OrderStore]:
    opened = OrderStore.open(store_url)
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def history() -> pd.DataFrame:
    """A small generated history: 2 sites x 5 SKUs x 60 days (about 1,300 lines)."""
    return generate_orders(sites=2, skus=5, days=60, seed=3).orders


@pytest.fixture(scope="session")
def history_csv(history: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "orders.csv"
    history.to_csv(path, index=False)
    return path
