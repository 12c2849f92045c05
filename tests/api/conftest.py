"""Fixtures: the real app with fake-core loaders, a real MLflow registry, a live uvicorn."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from ordercast.settings import ApiSettings, DatabaseSettings, Settings
from tests.api.fakes import FakeLoader
from tests.api.registry import RealRegistry

READ_KEY, ADMIN_KEY = "reader-secret-1", "admin-secret-2"

# Lines pushed by the API tests (POST /v1/orders) land in a throw-away order store, never in
# the project's data/ordercast.db.
_ORDER_STORE_DIR = Path(tempfile.mkdtemp(prefix="ordercast-api-tests-"))
atexit.register(shutil.rmtree, _ORDER_STORE_DIR, ignore_errors=True)


def settings_with(**api: object) -> Settings:
    database = DatabaseSettings(url=f"sqlite:///{_ORDER_STORE_DIR / 'orders.db'}")
    return Settings(api=ApiSettings(**api), database=database)


@pytest.fixture()
def loader() -> FakeLoader:
    return FakeLoader("1")


@pytest.fixture()
def client(loader: FakeLoader) -> Iterator[TestClient]:
    """The app on loopback without keys (every caller is admin), fake cores at version 1."""
    with TestClient(create_app(settings_with(), loader=loader, poll=False)) as test_client:
        yield test_client


@pytest.fixture()
def keyed_client(loader: FakeLoader) -> Iterator[TestClient]:
    settings = settings_with(api_keys=f"{READ_KEY}:read,{ADMIN_KEY}:admin")
    with TestClient(create_app(settings, loader=loader, poll=False)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> RealRegistry:
    """A real store, read-only for tests: every kind's v1 champion (demand offset 1) and a
    demand v2 challenger (offset 2)."""
    store = RealRegistry(tmp_path_factory.mktemp("registry"))
    for kind in ("capacity", "risk"):
        store.promote(kind, store.register(kind))
    store.promote("demand", store.register_demand(1.0))
    store.challenger("demand", store.register_demand(2.0))
    return store


@pytest.fixture()
def demand_store(tmp_path: Path) -> RealRegistry:
    """A fresh real store a test may change: demand v1 (offset 1) as champion."""
    store = RealRegistry(tmp_path)
    store.promote("demand", store.register_demand(1.0))
    return store


@pytest.fixture(scope="session")
def real_client(real_store: RealRegistry) -> Iterator[TestClient]:
    """The app over the real registry with the default MLflow loader."""
    with TestClient(create_app(real_store.settings, poll=False)) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def live_server(app: FastAPI, **options: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL.
    ``options`` go to ``uvicorn.Config`` (e.g. the ``http`` protocol ``serve`` uses)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
