"""The overview's figures, from the order store and the served models, kept for a while.

Reading every order line and scoring the open book takes a second or more on the demo
history, far beyond a page's budget; the figures change only when lines are ingested or a
model is swapped, so they are kept for ``api.poll_seconds`` (the staleness the service
already accepts for its models and accuracy reports) and recomputed when the models change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from api.model_store import Snapshot, is_capacity, is_risk
from api.order_store import OrderStoreHandle
from forecasting.queries import CapacityQuery, answer_capacity, answer_risk
from store.orders import latest_batch, read_orders

logger = logging.getLogger(__name__)
T = TypeVar("T")

RECENT_WEEKS, BEFORE_WEEKS = 4, 13  # on-time rate: the last 4 weeks against the 13 before
SHORTFALL_DAYS = 14  # sites with a likely shortfall over the next two weeks
LIKELY = 0.5  # a day's shortfall is likely when its probability is at least this


@dataclass(frozen=True)
class OnTime:
    """Share of lines promised in a window that arrived by their promised date (a line
    still open after its promised date counts as late); None without lines promised."""

    start: pd.Timestamp
    end: pd.Timestamp
    lines: int
    rate: float | None


@dataclass(frozen=True)
class OrderBook:
    as_of: pd.Timestamp | None
    recent: OnTime | None
    before: OnTime | None
    open_lines: int
    open_units: float
    overdue_lines: int


@dataclass(frozen=True)
class RiskSummary:
    as_of: pd.Timestamp
    scored: int
    high: int
    medium: int


@dataclass(frozen=True)
class Shortfall:
    site: str
    days: int  # days of the next SHORTFALL_DAYS with p_shortfall >= LIKELY
    worst_day: str
    worst_p: float
    backlog_end: float  # median backlog at the end of the window, units


def order_book(orders: pd.DataFrame) -> OrderBook:
    """On-time rates, open lines and overdue lines as of the last order date in ``orders``
    (the demo's history is historical: 'today' is where it ends)."""
    if orders.empty:
        return OrderBook(None, None, None, 0, 0.0, 0)
    as_of = pd.Timestamp(orders["order_date"].max()).normalize()
    delivered = pd.to_datetime(orders["delivered_date"])
    promised = pd.to_datetime(orders["promised_date"])
    is_open = delivered.isna() | (delivered > as_of)
    recent_start = as_of - pd.Timedelta(weeks=RECENT_WEEKS)
    before_start = recent_start - pd.Timedelta(weeks=BEFORE_WEEKS)
    return OrderBook(
        as_of=as_of,
        recent=_on_time(promised, delivered, recent_start, as_of),
        before=_on_time(promised, delivered, before_start, recent_start),
        open_lines=int(is_open.sum()),
        open_units=float(orders.loc[is_open, "quantity"].sum()),
        overdue_lines=int((is_open & (promised < as_of)).sum()),
    )


def _on_time(
    promised: pd.Series, delivered: pd.Series, start: pd.Timestamp, end: pd.Timestamp
) -> OnTime:
    # (start, end]: the two windows meet without sharing a day.
    window = (promised > start) & (promised <= end)
    lines = int(window.sum())
    if not lines:
        return OnTime(start, end, 0, None)
    arrived = delivered[window]
    on_time = arrived.notna() & (arrived <= end) & (arrived <= promised[window])
    return OnTime(start, end, lines, float(on_time.mean()))


def open_lines(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines ordered by ``as_of`` and not delivered by then: what the at-risk model
    scores (it remembers the delivered history from its training)."""
    delivered = pd.to_datetime(orders["delivered_date"])
    keep = (pd.to_datetime(orders["order_date"]) <= as_of) & (
        delivered.isna() | (delivered > as_of)
    )
    return orders[keep].reset_index(drop=True)


def risk_summary(answer: pd.DataFrame, as_of: pd.Timestamp) -> RiskSummary:
    scored = answer[answer["scored"].astype(bool)]
    bands = scored["risk_band"].astype(str)
    return RiskSummary(
        as_of, len(scored), int((bands == "high").sum()), int((bands == "medium").sum())
    )


def shortfalls(outlook: pd.DataFrame) -> list[Shortfall]:
    """Sites whose outlook has at least one likely shortfall day, most days first."""
    out = []
    for site, days in outlook.groupby("site", sort=True):
        likely = days[days["p_shortfall"].to_numpy(float) >= LIKELY]
        if likely.empty:
            continue
        chances = days["p_shortfall"].to_numpy(float)
        worst = int(np.argmax(chances))
        out.append(
            Shortfall(
                site=str(site),
                days=len(likely),
                worst_day=f"{pd.DatetimeIndex(days['ds'])[worst]:%Y-%m-%d}",
                worst_p=float(chances[worst]),
                backlog_end=float(np.nan_to_num(days["backlog_p50"].to_numpy(float)[-1])),
            )
        )
    return sorted(out, key=lambda s: (-s.days, s.site))


class OverviewFigures:
    """The figures above, kept per model version; thread-safe.

    A figure older than ``ttl`` seconds is still answered at once while one worker thread
    recomputes it (the overview must not wait seconds for a fresh read of the store every
    ``ttl``); the first computation of a figure is done once, however many requests ask.
    """

    def __init__(self, handle: OrderStoreHandle, ttl: float) -> None:
        self._handle = handle
        self._ttl = ttl
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._first: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._orders: tuple[int | None, pd.DataFrame] | None = None  # (batch id, lines)
        # One worker: refreshes queue behind each other instead of competing for the cores
        # that serve requests.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-figures")

    def orders(self) -> pd.DataFrame:
        """Every stored line; read again only after an ingest batch changed the store (a
        read of the demo's 320,000 lines takes seconds)."""
        return self.kept(("orders",), self._read_orders)

    def _read_orders(self) -> pd.DataFrame:
        store = self._handle.get()
        batch = latest_batch(store)
        stamp = None if batch is None else batch.id
        last = self._orders
        if last is not None and last[0] == stamp:
            return last[1]
        frame = read_orders(store)
        self._orders = (stamp, frame)
        return frame

    def book(self) -> OrderBook:
        return self.kept(("book",), lambda: order_book(self.orders()))

    def risk(self, snapshot: Snapshot) -> RiskSummary | None:
        """High- and medium-risk open lines as of the store's last order date; None when
        the risk model is not loaded or the store is empty."""
        loaded = snapshot.models.get("risk")
        as_of = self.book().as_of
        if loaded is None or not is_risk(loaded) or as_of is None:
            return None

        def compute() -> RiskSummary:
            lines = open_lines(self.orders(), as_of)
            return risk_summary(answer_risk(loaded.core, lines, as_of), as_of)

        return self.kept(("risk", loaded.version, loaded.loaded_at), compute)

    def shortfalls(self, snapshot: Snapshot) -> list[Shortfall] | None:
        loaded = snapshot.models.get("capacity")
        if loaded is None or not is_capacity(loaded):
            return None
        core = loaded.core
        horizon = min(SHORTFALL_DAYS, core.max_horizon)

        def compute() -> list[Shortfall]:
            return shortfalls(answer_capacity(core, CapacityQuery(horizon, sites=core.sites_)))

        return self.kept(("capacity", loaded.version, loaded.loaded_at), compute)

    def warm(self, snapshot: Snapshot) -> None:
        """Compute the overview's figures now (called while a planner signs in)."""
        try:
            self.book()
            self.risk(snapshot)
            self.shortfalls(snapshot)
        except Exception:  # the overview will show the error; a warm-up must not
            logger.exception("computing the overview's figures failed")

    def peek(self, key: Hashable, compute: Callable[[], T]) -> T | None:
        """Like :meth:`kept`, but never waits: None (and the computation started in the
        background) when there is no value yet. For figures a page can show later."""
        with self._lock:
            known = key in self._kept
        if known:
            return self.kept(key, compute)
        with self._lock:
            if key in self._refreshing:
                return None
            self._refreshing.add(key)
        try:
            self._worker.submit(self._refresh, key, compute)
        except RuntimeError:  # the interpreter is exiting
            with self._lock:
                self._refreshing.discard(key)
        return None

    def kept(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s value kept under ``key``: computed on first use, recomputed in
        the background once older than ``ttl`` seconds (the older value answers
        meanwhile)."""
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                if now - kept[0] >= self._ttl and key not in self._refreshing:
                    self._refreshing.add(key)
                    try:
                        self._worker.submit(self._refresh, key, compute)
                    except RuntimeError:  # the interpreter is exiting: no refresh is needed
                        self._refreshing.discard(key)
                return kept[1]
            first = self._first.setdefault(key, threading.Lock())
        with first:  # concurrent first askers wait for one computation, not start their own
            with self._lock:
                kept = self._kept.get(key)
            if kept is not None:
                return kept[1]
            value = compute()
            self._keep(key, value)
            return value

    def _refresh(self, key: Hashable, compute: Callable[[], Any]) -> None:
        try:
            self._keep(key, compute())
        except Exception:  # the older figure stays; the next request after ttl tries again
            logger.exception("recomputing the overview's %s failed", key)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _keep(self, key: Hashable, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            # Figures nobody asked for in 4 ttl (those of replaced models) are dropped.
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < 4 * self._ttl}
            self._kept[key] = (now, value)
