"""What a fitted at-risk model remembers of the order book.

A planner's batch (an API call) carries a few open lines. The features of those lines
also count the rest of the book: each vendor's, lane's and site's on-time record, the
site's throughput, open work and recent orders. Without that every record is empty and
every site looks idle; and were the load counted from the batch's own lines, a line's
score would change with what else a colleague sent. So the model keeps the book as it
stood on its as-of date — every line ordered before it, the deliveries and shipments
made before it, and nothing after — as the events the features count: the outcomes
known by then (delivered, or promised and not delivered), each site's order flow and its
daily released and shipped work. Scored against the memory alone a line's features
depend on the line, the memory and the moment, never on the other lines of a request.

Lines the model remembers are recognised by a hash of their ``line_id`` and left out of
a batch's own history, so a file that repeats them is not counted twice.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd

from forecasting.capacity.flows import daily_work
from forecasting.risk.history import (
    GroupEvents,
    WorkEvents,
    joined,
    outcome_events,
    work_events,
)
from forecasting.risk.labels import delay_days
from forecasting.risk.overdue import DelayPools
from forecasting.risk.site_load import EMPTY_SITE_TABLE, daily_site_table

# Days of site tables kept: a service scores on today (and a replay on a few days at once).
MAX_CACHED_DAYS = 8
T = TypeVar("T")


def line_hashes(line_ids: pd.Series) -> np.ndarray:
    """A 64-bit hash per line id (a batch is matched against up to millions of them)."""
    return pd.util.hash_pandas_object(line_ids.astype(str), index=False).to_numpy()


def as_known_at(history: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines of ``history`` ordered before ``as_of`` as they stood then: a delivery or a
    shipment on or after ``as_of`` had not happened (its date is emptied)."""
    book = history[history["order_date"] < as_of].copy()
    for column in ("delivered_date", "ship_date"):
        if column in book.columns:
            book[column] = book[column].where(book[column] < as_of)
    return book.reset_index(drop=True)


class BookEvents:
    """The events of a set of lines, compacted: outcomes per group (of ``outcomes_of``, the
    lines whose outcome is known), order flow and daily work per site."""

    def __init__(
        self,
        lines: pd.DataFrame,
        outcomes_of: pd.DataFrame,
        groups: Mapping[str, tuple[str, ...]],
        tolerance_days: int,
    ) -> None:
        lines, outcomes_of = lines.reset_index(drop=True), outcomes_of.reset_index(drop=True)
        self.outcomes = {
            name: outcome_events(outcomes_of, joined(outcomes_of, cols), tolerance_days).compact()
            for name, cols in groups.items()
        }
        flows = work_events(lines, lines["site"].astype(str))
        self.work = WorkEvents(
            *(getattr(flows, field.name).compact() for field in dataclasses.fields(flows))
        )
        self.daily = daily_work(lines)


class HistoryMemory:
    """The book of ``history`` as known at ``as_of`` (:func:`as_known_at`), as the events the
    features count (late: delivered more than ``tolerance_days`` after the promise, or that
    date passed undelivered, as the records count).

    Kept as event tables with one entry per group and day (:meth:`GroupEvents.compact`),
    so the memory grows with the calendar and the number of groups rather than with the
    lines, plus a 64-bit hash per line to recognise them in a batch. ``as_of`` is kept:
    what the memory knows is as of that date (a refreshed model's memory is newer than its
    training date).
    """

    def __init__(
        self,
        history: pd.DataFrame,
        as_of: pd.Timestamp,
        groups: Mapping[str, tuple[str, ...]],
        tolerance_days: int = 0,
    ) -> None:
        self.as_of = pd.Timestamp(as_of)
        book = as_known_at(history, self.as_of)
        self.groups = {
            name: cols for name, cols in groups.items() if all(c in book.columns for c in cols)
        }
        delivered = book["delivered_date"].notna()
        # Outcomes known by as_of only: a line promised later and still open has none yet
        # (counted as late from its promise, it would be late in every later scoring).
        known = outcome_known(book, self.as_of, tolerance_days)
        self._settled = BookEvents(book[delivered], book[delivered], self.groups, tolerance_days)
        self._open = BookEvents(
            book[~delivered], book[~delivered & known], self.groups, tolerance_days
        )
        self.line_count = len(book)
        self.hashes = np.sort(line_hashes(book.loc[delivered, "line_id"]))
        self.delays = late_delays(book, tolerance_days)
        self.include_open = True
        self._site_days: dict[pd.Timestamp, pd.DataFrame] = {}

    def __getstate__(self) -> dict[str, object]:
        # The per-day site tables are a cache, rebuilt on demand: not part of the model.
        state = dict(self.__dict__)
        state["_site_days"] = {}
        state.pop("_lock", None)
        state.pop("_day_tables", None)
        state.pop("_tables_lock", None)
        state.pop("_delay_pools", None)
        return state

    def __len__(self) -> int:
        return self.line_count

    def settled_view(self) -> HistoryMemory:
        """This memory without its open lines: for a batch that is itself the history and
        brings the open lines as they stand now (delivered since, perhaps)."""
        view = copy.copy(self)
        view.include_open = False
        view._site_days = {}
        view.__dict__.pop("_lock", None)
        # Its records and loads are the settled part's alone: none of this memory's tables.
        view.__dict__.pop("_day_tables", None)
        view.__dict__.pop("_tables_lock", None)
        return view

    def _parts(self) -> list[BookEvents]:
        return [self._settled, self._open] if self.include_open else [self._settled]

    def unseen(self, orders: pd.DataFrame) -> np.ndarray:
        """True for the rows of ``orders`` whose line the memory does not hold as delivered."""
        hashes = line_hashes(orders["line_id"])
        if len(self.hashes) == 0:
            return np.ones(len(hashes), dtype=bool)
        at = np.clip(np.searchsorted(self.hashes, hashes), 0, len(self.hashes) - 1)
        return np.asarray(self.hashes[at] != hashes)

    def outcomes(self, name: str) -> list[GroupEvents]:
        """The outcome events of group ``name`` (none if the training data lacked it)."""
        return [part.outcomes[name] for part in self._parts() if name in part.outcomes]

    def work(self) -> list[WorkEvents]:
        """The order flow of each site."""
        return [part.work for part in self._parts()]

    def sites(self) -> frozenset[str]:
        """The sites with a line in the remembered book (open lines too, unless a settled
        view)."""
        return frozenset(self.daily().index.get_level_values("site").astype(str))

    def daily(self) -> pd.DataFrame:
        """Units released (ordered) and shipped per site and day (a ``daily_work`` table)."""
        if not self.include_open:
            return self._settled.daily
        if "_daily" not in self.__dict__:
            both = pd.concat([self._settled.daily, self._open.daily])
            self.__dict__["_daily"] = both.groupby(level=[0, 1]).sum().sort_index()
        return self.__dict__["_daily"]

    def site_days(self, days: pd.DatetimeIndex) -> pd.DataFrame:
        """:func:`~forecasting.risk.site_load.site_table` of the remembered flows alone for
        ``days`` (every site), kept per day: a service scores many batches on one day and
        the table (a queue over years of days) would otherwise be rebuilt for each."""
        cache = self.__dict__.setdefault("_site_days", {})
        # The API scores from a thread pool: one thread fills a day, the others wait for it.
        with self.__dict__.setdefault("_lock", threading.Lock()):
            fresh: dict[pd.Timestamp, pd.DataFrame] = {}
            missing = [day for day in days if day not in cache]
            if missing:
                table = daily_site_table(
                    self.daily(), max(missing), dates=pd.DatetimeIndex(missing)
                )
                dates = table.index.get_level_values("date")
                fresh = {day: table[dates == day] for day in missing}
            # Read before keeping: a call asking for more days than are kept gets them all.
            parts = [cache[day] if day in cache else fresh[day] for day in days]
            for day, rows in fresh.items():
                if len(cache) >= MAX_CACHED_DAYS:
                    cache.pop(next(iter(cache)))
                cache[day] = rows
        return pd.concat(parts) if parts else EMPTY_SITE_TABLE.copy()

    def delay_pools(self) -> DelayPools:
        """:attr:`delays` sorted for :func:`~forecasting.risk.overdue.overdue_delay`, built
        on first use and kept (dropped when pickled, as the day tables are)."""
        pools = self.__dict__.get("_delay_pools")
        if pools is None:
            pools = DelayPools.of(self.delays)
            self.__dict__["_delay_pools"] = pools
        return pools

    def day_table(self, kind: str, day: pd.Timestamp, build: Callable[[], T]) -> T:
        """``build()``, kept per ``kind`` and day (the ``MAX_CACHED_DAYS`` latest days asked
        for, per kind): what a feature computed from this memory alone on a day is for every
        group at once (each vendor's record, each site's open work), so that a request reads
        its lines' values instead of recounting the events (the features' own
        :class:`~forecasting.risk.features.FeatureSpace` decides what is built)."""
        tables: dict[tuple[str, pd.Timestamp], object] = self.__dict__.setdefault("_day_tables", {})
        key = (kind, pd.Timestamp(day))
        found = tables.get(key)
        if found is not None:
            return found  # type: ignore[return-value]  # built by this kind's own build()
        # Built once: a thread asking for a table being built waits for it.
        with self.__dict__.setdefault("_tables_lock", threading.Lock()):
            found = tables.get(key)
            if found is None:
                found = build()
                same_kind = [k for k in tables if k[0] == kind]
                if len(same_kind) >= MAX_CACHED_DAYS:
                    tables.pop(same_kind[0])
                tables[key] = found
        return found  # type: ignore[return-value]


def outcome_known(book: pd.DataFrame, as_of: pd.Timestamp, tolerance_days: int = 0) -> pd.Series:
    """True for the lines of ``book`` (as known at ``as_of``) whose outcome was known then:
    delivered, or promised (plus tolerance) before ``as_of`` and not delivered."""
    due = book["promised_date"] + pd.Timedelta(days=tolerance_days)
    return book["delivered_date"].notna() | (due < as_of)


def late_delays(book: pd.DataFrame, tolerance_days: int = 0) -> pd.DataFrame:
    """``site`` (str) and ``delay_days`` of each delivered late line, what an overdue line's
    delay is read from."""
    delay = delay_days(book)
    late = delay > tolerance_days
    return pd.DataFrame(
        {
            "site": book.loc[late, "site"].astype(str).to_numpy(),
            "delay_days": delay[late].to_numpy(),
        }
    )
