"""Killing ``ordercast ingest`` mid-batch (SIGKILL) leaves the store exactly as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from forecasting.synthetic import generate_orders
from store.database import OrderStore
from store.ingest import ingest_source
from store.orders import read_orders
from store.schema import ingest_batches
from tests.store.conftest import PG_DSN, pg_url

# Not a timing assertion: how long to wait for the writer to reach its writes before giving
# up with a message, instead of hanging the suite.
DEADLINE_SECONDS = 300


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 200,000 order lines: big enough that writing them takes a while."""
    path = tmp_path_factory.mktemp("big") / "orders.csv"
    generate_orders(sites=3, skus=200, days=580, seed=11).orders.to_csv(path, index=False)
    return path


def _state(store: OrderStore) -> tuple[pd.DataFrame, list[tuple]]:
    with store.engine.connect() as connection:
        batches = [tuple(r) for r in connection.execute(sa.select(ingest_batches))]
    return read_orders(store), sorted(batches)


def _kill_mid_batch(url: str, source: Path, writing: Callable[[], bool]) -> None:
    command = [sys.executable, "-m", "ordercast.cli", "ingest", str(source)]
    env = {**os.environ, "ORDERCAST_DATABASE_URL": url}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while not writing():
            if process.poll() is not None:
                err = process.communicate()[1].decode(errors="replace")
                pytest.fail(f"ingest ended (exit {process.returncode}) before the kill:\n{err}")
            if time.monotonic() > deadline:
                pytest.fail("ingest never reached its writes")
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL


def test_sqlite_store_is_as_before_after_a_killed_ingest(
    tmp_path: Path, history_csv: Path, big_csv: Path
) -> None:
    database = tmp_path / "ordercast.db"
    url = f"sqlite:///{database}"
    store = OrderStore.open(url)
    ingest_source(store, history_csv)
    before = _state(store)
    store.dispose()
    size = database.stat().st_size
    journal = Path(f"{database}-journal")

    def writing() -> bool:
        # The batch has begun writing lines: the journal is there and pages spilled past the
        # file's committed end.
        return journal.exists() and database.stat().st_size > size + 1_000_000

    _kill_mid_batch(url, big_csv, writing)

    store = OrderStore.open(url)
    try:
        after = _state(store)
        pd.testing.assert_frame_equal(after[0], before[0])
        assert after[1] == before[1]
        assert ingest_source(store, history_csv).changed is False
    finally:
        store.dispose()


def test_postgresql_store_is_as_before_after_a_killed_ingest(
    pg_schema: str, history_csv: Path, big_csv: Path
) -> None:
    url = pg_url(pg_schema)
    store = OrderStore.open(url)
    ingest_source(store, history_csv)
    before = _state(store)

    def writing() -> bool:
        with psycopg.connect(PG_DSN) as watcher:
            row = watcher.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "AND c.relname = 'order_lines' AND l.mode = 'RowExclusiveLock' AND l.granted",
                (pg_schema,),
            ).fetchone()
        return bool(row and row[0])

    try:
        _kill_mid_batch(url, big_csv, writing)
        after = _state(store)
        pd.testing.assert_frame_equal(after[0], before[0])
        assert after[1] == before[1]
    finally:
        store.dispose()
