"""Accuracy reports and drift flags from the order store, kept for ``api.poll_seconds``.

Scoring reads every published forecast and every order line; /v1/models shows the drift flag
on each call, so the answers are kept as long as the registry poll interval, the staleness
the service already accepts for its models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from datetime import date
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import Depends, Request

from api.order_store import OrderStoreHandle
from forecasting.accuracy import (
    AccuracyReport,
    accuracy_report,
    drift_flags,
    drift_window_start,
    series_actuals,
)
from ordercast.settings import Settings
from store.orders import read_orders
from store.publications import read_expectations, read_published_forecasts

T = TypeVar("T")
MAX_ENTRIES = 64  # distinct (since, by) answers kept; a caller cycling dates cannot grow it


class AccuracyCache:
    """Reports over the order store behind ``handle``, each recomputed after ``ttl`` seconds."""

    def __init__(self, settings: Settings, handle: OrderStoreHandle, ttl: float) -> None:
        self._settings = settings
        self._handle = handle
        self._ttl = ttl
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}

    def report(self, since: date | None, by: tuple[str, ...]) -> AccuracyReport:
        """The observed-vs-expected table by ``by`` over periods from ``since``, and the drift
        flags; raises ``NothingPublishedError`` / ``ConfigError`` as
        :func:`forecasting.accuracy.accuracy_report` does."""
        return self._kept_or(("report", since, by), lambda: self._report(since, by))

    def drift(self) -> pd.DataFrame | None:
        """The drift flags per lag (:func:`forecasting.accuracy.drift_flags`), reading only
        the forecasts that target the drift window; None when nothing was published there."""
        return self._kept_or(("drift",), self._drift)

    def _report(self, since: date | None, by: tuple[str, ...]) -> AccuracyReport:
        store = self._handle.get()
        published = read_published_forecasts(
            store, since=None if since is None else pd.Timestamp(since)
        )
        ids = sorted(published["publication_id"].unique().tolist())
        acc = self._settings.accuracy
        return accuracy_report(
            published,
            read_expectations(store, publication_ids=ids),
            self._actuals(),
            by=by,
            lags=acc.lags,
            periods=acc.drift_periods,
            margin=acc.drift_margin,
            min_rows=acc.drift_min_rows,
        )

    def _drift(self) -> pd.DataFrame | None:
        acc = self._settings.accuracy
        actuals = self._actuals()
        start = drift_window_start(actuals, acc.drift_periods)
        if start is None:
            return None
        store = self._handle.get()
        published = read_published_forecasts(store, since=start)
        if published.empty:
            return None
        ids = sorted(published["publication_id"].unique().tolist())
        expectations = read_expectations(store, publication_ids=ids)
        return drift_flags(
            published,
            actuals,
            expectations,
            acc.lags,
            acc.drift_periods,
            acc.drift_margin,
            acc.drift_min_rows,
        )

    def _actuals(self) -> pd.DataFrame:
        return self._kept_or(("actuals",), self._read_actuals)

    def _read_actuals(self) -> pd.DataFrame:
        demand = self._settings.demand
        return series_actuals(
            read_orders(self._handle.get()),
            levels=demand.levels,
            freq=demand.freq,
            date_col=demand.date_column,
        )

    def _kept_or(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self._ttl:
            return kept[1]
        # Computed outside the lock: two callers may both compute, neither waits on the other.
        value = compute()
        with self._lock:
            if len(self._kept) >= MAX_ENTRIES:
                self._kept.pop(min(self._kept, key=lambda k: self._kept[k][0]))
            self._kept[key] = (now, value)
        return value


async def get_accuracy_cache(request: Request) -> AccuracyCache:
    return request.app.state.accuracy


AccuracyCacheDep = Annotated[AccuracyCache, Depends(get_accuracy_cache)]
