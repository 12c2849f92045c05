"""The overview's figures, from the order store and the served models, kept for a while.

Reading every order line and scoring the open book takes a second or more on the demo
history, far beyond a page's budget; the figures change only when lines are ingested or a
model is swapped, so they are kept for ``api.poll_seconds`` (the staleness the service
already accepts for its models and accuracy reports) and recomputed when the models change.

The app computes them in a background thread as soon as it starts (``WebState.start_warming``);
pages ask with a short ``wait`` and show a note for what is still being computed rather than
wait seconds. The open book is scored once per risk model version and store state
(:meth:`OverviewFigures.worklist`) for both the overview's risk tile and the at-risk page.
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

from api.model_store import LoadedModel, Snapshot, is_capacity, is_risk
from api.order_store import OrderStoreHandle
from forecasting.cores import RiskCore
from forecasting.queries import CapacityQuery, answer_capacity, answer_risk
from store.database import OrderStore
from store.orders import (
    last_order_date,
    latest_batch,
    read_open_or_promised_after,
    read_orders,
)
from store.publications import read_publications, read_published_forecasts

logger = logging.getLogger(__name__)
T = TypeVar("T")

RECENT_WEEKS, BEFORE_WEEKS = 4, 13  # on-time rate: the last 4 weeks against the 13 before
SHORTFALL_DAYS = 14  # sites with a likely shortfall over the next two weeks
LIKELY = 0.5  # a day's shortfall is likely when its probability is at least this
CUSTOMERS_LISTED = 300  # customers offered in the at-risk filter: those with the most risk
FIRST_LOCKS_KEPT = 256  # per-key first-computation locks kept before idle ones are dropped
COLUMNS = [
    "order_id",
    "line_id",
    "site",
    "customer",
    "sku",
    "quantity",
    "promised_date",
    "promised_week",
    "p_late",
    "risk_band",
    "expected_delay_days",
    "reason_1",
    "reason_2",
    "reason_3",
    "action",
]


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


@dataclass(frozen=True)
class Worklist:
    """The scored open book as of ``as_of`` (None: the store holds no lines), worst first."""

    as_of: pd.Timestamp | None
    model_version: str
    lines: pd.DataFrame  # COLUMNS and week_start, sorted by p_late descending
    unscored: int  # open lines the model gave no score (its reasons are in the JSON API)
    sites: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()  # the filter's suggestions (any customer may be typed)
    weeks: tuple[str, ...] = ()


def score_book(orders: pd.DataFrame, core: RiskCore, version: str) -> Worklist:
    """Every line open at the store's last order date, scored by ``core``: what the
    planning loop scores (``open_lines``, then ``answer_risk``); the at-risk page's
    worklist and the overview's risk tile."""
    if orders.empty:
        return Worklist(None, version, pd.DataFrame(columns=[*COLUMNS, "week_start"]), 0)
    as_of = pd.Timestamp(orders["order_date"].max()).normalize()
    lines = open_lines(orders, as_of)
    if lines.empty:
        return Worklist(as_of, version, pd.DataFrame(columns=[*COLUMNS, "week_start"]), 0)
    # One row per line, in the lines' order, each from the memory alone (as the API scores).
    answer = answer_risk(core, lines, as_of, batch_history=False)
    scored = answer["scored"].to_numpy(bool)
    promised = pd.to_datetime(lines["promised_date"])
    customer = lines["customer"] if "customer" in lines else pd.Series("", index=lines.index)
    out = pd.DataFrame(
        {
            "order_id": lines["order_id"].astype(str),
            "line_id": lines["line_id"].astype(str),
            "site": lines["site"].astype(str),
            "customer": customer.fillna("").astype(str),
            "sku": lines["sku"].astype(str),
            "quantity": pd.to_numeric(lines["quantity"]).to_numpy(float),
            "promised_date": promised.dt.strftime("%Y-%m-%d"),
            # ISO week, e.g. 2024-W02: the week a scheduler chases in.
            "promised_week": promised.dt.strftime("%G-W%V"),
            # The week's Monday: where the chart puts the week's lines.
            "week_start": (promised - pd.to_timedelta(promised.dt.weekday, unit="D")).dt.strftime(
                "%Y-%m-%d"
            ),
            "p_late": answer["p_late"].to_numpy(float),
            "risk_band": answer["risk_band"].astype(str).to_numpy(),
            "expected_delay_days": answer["expected_delay_days"].to_numpy(float),
            "reason_1": answer["reason_1"].fillna("").astype(str).to_numpy(),
            "reason_2": answer["reason_2"].fillna("").astype(str).to_numpy(),
            "reason_3": answer["reason_3"].fillna("").astype(str).to_numpy(),
            "action": answer["action"].fillna("").astype(str).to_numpy(),
        }
    )[scored]
    ordered = out.sort_values(["p_late", "promised_date", "line_id"], ascending=[False, True, True])
    named = ordered[ordered["customer"] != ""]
    # The customers whose open lines add up to the most lateness risk, up to CUSTOMERS_LISTED.
    risk = named.groupby("customer")["p_late"].sum().sort_values(ascending=False)
    return Worklist(
        as_of,
        version,
        ordered.reset_index(drop=True),
        int((~scored).sum()),
        sites=tuple(sorted(ordered["site"].unique())),
        customers=tuple(sorted(risk.index[:CUSTOMERS_LISTED])),
        weeks=tuple(sorted(ordered["promised_week"].unique())),
    )


def risk_summary(book: Worklist) -> RiskSummary | None:
    """The overview's risk tile from the scored book; None when the store holds no lines."""
    if book.as_of is None:
        return None
    bands = book.lines["risk_band"].astype(str)
    return RiskSummary(
        book.as_of, len(book.lines), int((bands == "high").sum()), int((bands == "medium").sum())
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


Stamped = tuple[int | None, pd.DataFrame]  # (what the store was at when read, the frame)


def _unless_read(
    last: Stamped | None, stamp: int | None, read: Callable[[], pd.DataFrame]
) -> Stamped:
    """``last`` when it was read at ``stamp``, else ``(stamp, read())``: a frame read
    again only after the store changed."""
    if last is not None and last[0] == stamp:
        return last
    return stamp, read()


def _batch_id(store: OrderStore) -> int | None:
    """The latest ingest batch's id (None before any ingest): what the lines read depend on."""
    batch = latest_batch(store)
    return None if batch is None else batch.id


def _lag_one(store: OrderStore) -> pd.DataFrame:
    """The lag-1 forecasts of every publication, the latest publication per period."""
    frame = read_published_forecasts(store, lags=[1])
    frame = frame.sort_values("publication_id", kind="stable")
    frame = frame.drop_duplicates(["series_id", "ds"], keep="last")
    return frame[["series_id", "ds", "mean"]].reset_index(drop=True)


def _recent_lines(store: OrderStore) -> pd.DataFrame:
    """The lines open at the store's last order date or promised in the on-time windows."""
    as_of = last_order_date(store)
    if as_of is None:
        return read_orders(store)  # the empty canonical frame
    as_of = as_of.normalize()
    window = pd.Timedelta(weeks=RECENT_WEEKS + BEFORE_WEEKS)
    return read_open_or_promised_after(store, as_of, as_of - window)


class OverviewFigures:
    """The figures above, kept per model version and store state; thread-safe.

    A figure older than ``ttl`` seconds is still answered at once while one worker thread
    recomputes it (the overview must not wait seconds for a fresh read of the store every
    ``ttl``); the first computation of a figure is done once, however many threads ask
    (:meth:`kept` waits for it, :meth:`peek` does not).
    """

    def __init__(self, handle: OrderStoreHandle, ttl: float) -> None:
        self._handle = handle
        self._ttl = ttl
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, Any]] = {}
        self._first: dict[Hashable, threading.Lock] = {}
        self._computing: set[Hashable] = set()  # first computations under way
        self._refreshing: set[Hashable] = set()  # queued on or run by the worker
        self._orders: Stamped | None = None  # (batch id, lines)
        self._recent: Stamped | None = None  # (batch id, lines)
        self._published: Stamped | None = None  # (publication, lag 1)
        # One worker: refreshes queue behind each other instead of competing for the cores
        # that serve requests.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-figures")

    def orders(self) -> pd.DataFrame:
        """Every stored line; read again only after an ingest batch changed the store (a
        read of the demo's 320,000 lines takes seconds)."""
        return self.kept(("orders",), self._read_orders)

    def _read_orders(self) -> pd.DataFrame:
        store = self._handle.get()
        self._orders = _unless_read(self._orders, _batch_id(store), lambda: read_orders(store))
        return self._orders[1]

    def published(self) -> pd.DataFrame:
        """What planners were told one period ahead: the lag-1 forecasts of every
        publication (``series_id`` level-prefixed, ``ds``, ``mean``; the latest publication
        per period when several forecast it); read again only after a new publication."""
        return self.kept(("published",), self._read_published)

    def _read_published(self) -> pd.DataFrame:
        store = self._handle.get()
        ids = read_publications(store)["id"]
        stamp = int(ids.max()) if len(ids) else None
        self._published = _unless_read(self._published, stamp, lambda: _lag_one(store))
        return self._published[1]

    def recent(self) -> pd.DataFrame:
        """The lines the book and the worklist need: those open at the store's last order
        date or promised in the on-time windows (the demo's 55,759 of 323,833 lines, read
        in a tenth of the time); read again only after an ingest batch."""
        return self.kept(("recent",), self._read_recent)

    def _read_recent(self) -> pd.DataFrame:
        store = self._handle.get()
        self._recent = _unless_read(self._recent, _batch_id(store), lambda: _recent_lines(store))
        return self._recent[1]

    def book(self, wait: float | None = None) -> OrderBook | None:
        """The order book; with ``wait`` (seconds), None when it is not computed by then
        (it goes on in the background). Without, waits for it (never None)."""
        return self.get(("book",), lambda: order_book(self.recent()), wait)

    def worklist(self, loaded: LoadedModel[RiskCore], wait: float | None = None) -> Worklist | None:
        """The open book scored by ``loaded``, kept per risk model version and store state
        (the kept lines' count and last order date): the at-risk page's worklist and the
        overview's risk tile share it. ``wait`` as in :meth:`book`."""
        deadline = None if wait is None else time.monotonic() + wait
        orders = self.get(("recent",), self._read_recent, wait)
        if orders is None:
            return None
        as_of = None if orders.empty else pd.Timestamp(orders["order_date"].max())
        key = ("worklist", loaded.version, loaded.loaded_at, as_of, len(orders))
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return self.get(key, lambda: score_book(orders, loaded.core, loaded.version), left)

    def shortfalls(self, snapshot: Snapshot, wait: float | None = None) -> list[Shortfall] | None:
        """Sites with a likely shortfall; None when the capacity model is not loaded (or,
        with ``wait``, while the simulation runs)."""
        loaded = snapshot.models.get("capacity")
        if loaded is None or not is_capacity(loaded):
            return None
        core = loaded.core
        horizon = min(SHORTFALL_DAYS, core.max_horizon)

        def compute() -> list[Shortfall]:
            return shortfalls(answer_capacity(core, CapacityQuery(horizon, sites=core.sites_)))

        return self.get(("capacity", loaded.version, loaded.loaded_at), compute, wait)

    def warm(self, snapshot: Snapshot) -> None:
        """Compute the overview's and the at-risk page's figures now (in the start-up
        warm-up thread, or while a planner signs in)."""
        try:
            self.book()
            loaded = snapshot.models.get("risk")
            if loaded is not None and is_risk(loaded):
                self.worklist(loaded)
            self.shortfalls(snapshot)
        except Exception:  # the overview will show the error; a warm-up must not
            logger.exception("computing the overview's figures failed")

    def get(self, key: Hashable, compute: Callable[[], T], wait: float | None) -> T | None:
        """:meth:`kept` without ``wait`` (None), else :meth:`peek` waiting at most ``wait`` s."""
        return self.kept(key, compute) if wait is None else self.peek(key, compute, wait)

    def peek(self, key: Hashable, compute: Callable[[], T], wait: float = 0.0) -> T | None:
        """Like :meth:`kept`, but waits at most ``wait`` seconds: None (and the computation
        going on in the background) when there is no value by then."""
        with self._lock:
            known = key in self._kept
        if known:
            return self.kept(key, compute)
        self._start(key, compute)
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                kept = self._kept.get(key)
            if kept is not None:
                return kept[1]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(0.01, left))

    def close(self) -> None:
        """Queue no more background computations and drop those queued (the app is
        shutting down: they would read a store already closed and log its error). One
        under way finishes on its own; the worker's thread then ends."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _start(self, key: Hashable, compute: Callable[[], Any]) -> None:
        """Queue ``key``'s computation on the worker unless it is under way already."""
        with self._lock:
            if key in self._refreshing or key in self._computing or key in self._kept:
                return
            self._refreshing.add(key)
            try:
                self._worker.submit(self._refresh, key, compute)
            except RuntimeError:  # closed, or the interpreter is exiting
                self._refreshing.discard(key)

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
                    except RuntimeError:  # closed, or the interpreter is exiting
                        self._refreshing.discard(key)
                return kept[1]
            first = self._first.setdefault(key, threading.Lock())
        with first:  # concurrent first askers wait for one computation, not start their own
            with self._lock:
                kept = self._kept.get(key)
                if kept is None:
                    self._computing.add(key)
            if kept is not None:
                return kept[1]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.discard(key)
            self._keep(key, value)
            return value

    def _refresh(self, key: Hashable, compute: Callable[[], Any]) -> None:
        try:
            with self._lock:
                known = key in self._kept
            if known:
                self._keep(key, compute())
            else:  # a first computation: through kept's lock, never twice at once
                self.kept(key, compute)
        except Exception:  # the older figure stays; the next request tries again
            logger.exception("computing the pages' %s failed", key)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _keep(self, key: Hashable, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            # Figures nobody asked for in 4 ttl (those of replaced models) are dropped.
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < 4 * self._ttl}
            self._kept[key] = (now, value)
            if len(self._first) > FIRST_LOCKS_KEPT:  # bounded: drop the idle ones
                self._first = {
                    k: lock
                    for k, lock in self._first.items()
                    if k in self._kept or k in self._computing or lock.locked()
                }
