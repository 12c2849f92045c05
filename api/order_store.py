"""The app's one handle on the order store: opened on first use, disposed on shutdown.

Opened lazily so a service that never takes order lines never touches the database, and a
database that is down at start-up does not stop forecasts from being served.
"""

from __future__ import annotations

import threading

from fastapi import HTTPException

from forecasting.errors import ConfigError
from store.database import OrderStore


class OrderStoreHandle:
    """Holds the URL until the first request that needs the store, then the open store."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._store: OrderStore | None = None
        self._lock = threading.Lock()

    def get(self) -> OrderStore:
        """The open store; 503 naming the (masked) address when it cannot be reached."""
        with self._lock:
            if self._store is None:
                try:
                    self._store = OrderStore.open(self._url)
                except ConfigError as exc:
                    raise HTTPException(503, str(exc)) from exc
            return self._store

    def dispose(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.dispose()
                self._store = None
