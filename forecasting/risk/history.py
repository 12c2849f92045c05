"""Track records as of a moment: on-time rates and open backlog per group, leakage-free.

Every statistic for a query moment ``m`` counts only events strictly before ``m``:
deliveries (for on-time rates) and orders, shipments and promises (for open work).
Counting is vectorised with sorted event dates and ``searchsorted`` per group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from forecasting.risk.labels import is_late

T = TypeVar("T")
_SPAN = 10_000_000  # days: more than any date range, so key * _SPAN + day sorts by key, day


def _days(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[D]").astype(np.int64)


class _SortedEvents:
    """Events sorted once by (key, day), with running sums of one or more weights, so
    any number of "sum of weights strictly before each query" lookups share one sort."""

    def __init__(self, keys: np.ndarray, dates: np.ndarray, *weights: np.ndarray) -> None:
        # Keys and days folded into one integer: one sort, two searchsorted calls a lookup.
        composite = keys * _SPAN + _days(dates)
        order = np.argsort(composite, kind="stable")
        self.sorted_keys = composite[order]
        self.sums = [np.concatenate(([0.0], np.cumsum(w[order]))) for w in weights]

    def before(self, query_keys: np.ndarray, query_dates: np.ndarray) -> list[np.ndarray]:
        """Per weight, its sum over events with the query's key dated before the query."""
        upto = np.searchsorted(
            self.sorted_keys, query_keys * _SPAN + _days(query_dates), side="left"
        )
        first = np.searchsorted(self.sorted_keys, query_keys * _SPAN - _SPAN // 2, side="left")
        return [cum[upto] - cum[first] for cum in self.sums]

    def compact(self) -> None:
        """Keep one entry per (key, day): every lookup gives the same sums, exactly (the
        running sums are taken, not re-added), from a table as long as the distinct days."""
        keys, first = np.unique(self.sorted_keys, return_index=True)
        self.sums = [np.concatenate((cum[first], cum[-1:])) for cum in self.sums]
        self.sorted_keys = keys


class GroupEvents:
    """Dated, weighted events of one grouping (a vendor's outcomes, a site's shipments),
    sorted once. Sums from several such tables add up: the events a model remembers from
    its training history and those of a scoring batch are two tables, never re-sorted
    together."""

    def __init__(self, group: pd.Series, dates: np.ndarray, *weights: np.ndarray) -> None:
        self.categories = pd.Index(group.astype(str).unique())
        self.events = _SortedEvents(_codes(group, self.categories), dates, *weights)

    def compact(self) -> GroupEvents:
        """The same sums from one entry per group and day (for a table kept for long)."""
        self.events.compact()
        return self

    def codes(self, query_group: pd.Series) -> np.ndarray:
        """The position of each query's group among these events' groups; -1 if unseen."""
        return _codes(query_group, self.categories)

    def before(self, codes: np.ndarray, query_dates: np.ndarray) -> list[np.ndarray]:
        """Per weight, its sum over events of the query's group dated before the query."""
        sums = self.events.before(np.maximum(codes, 0), query_dates)
        unseen = codes < 0
        return [np.where(unseen, 0.0, values) for values in sums]


def _sum_before(
    tables: Sequence[GroupEvents], query_group: pd.Series, query_dates: Sequence[np.ndarray]
) -> list[list[np.ndarray]]:
    """For each query date array, per weight, the sum over all ``tables`` (same widths)."""
    codes = [table.codes(query_group) for table in tables]
    out = []
    for dates in query_dates:
        parts = [table.before(c, dates) for table, c in zip(tables, codes, strict=True)]
        out.append([np.sum(column, axis=0) for column in zip(*parts, strict=True)])
    return out


def _nonempty(history: pd.DataFrame, build: Callable[[], T]) -> list[T]:
    """``[build()]`` when ``history`` has lines; none for an empty one (a request scored
    from the memory alone), whose tables would only add zeros at a cost per call."""
    return [build()] if len(history) else []


def joined(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The values of ``columns`` joined by ``|`` per row (vectorised; a row-wise join is slow)."""
    first, *rest = (frame[c].astype(str) for c in columns)
    return first.str.cat(pd.concat(rest, axis=1), sep="|") if rest else first


def _codes(values: pd.Series, categories: pd.Index) -> np.ndarray:
    return pd.Categorical(values.astype(str), categories=categories).codes.astype(np.int64)


def outcome_events(history: pd.DataFrame, group: pd.Series, tolerance_days: int = 0) -> GroupEvents:
    """Each line's outcome as an event of its group: (lines 1, late 0/1) on the day known.

    Late is delivered after the promise plus ``tolerance_days``, as the labels count it. A
    line's outcome is known on its delivery, or, if it is late, as soon as that date
    passes undelivered: counting late lines from then on is what a planner knew at the
    time, and reacts to a run of late deliveries weeks before they are delivered.
    """
    late_all = is_late(history, tolerance_days).astype(float).fillna(1.0).to_numpy()
    due = history["promised_date"] + pd.Timedelta(days=tolerance_days)
    delivered = history["delivered_date"].to_numpy("datetime64[ns]")
    known_on = np.where(late_all == 1.0, due.to_numpy("datetime64[ns]"), delivered)
    done = ~np.isnat(known_on)
    return GroupEvents(
        group[done].reset_index(drop=True),
        known_on[done],
        np.ones(int(done.sum())),
        late_all[done],
    )


def on_time_record(
    history: pd.DataFrame,
    group: pd.Series,
    queries: pd.DataFrame,
    query_group: pd.Series,
    window_days: int = 365,
    prior_rate: float = 0.1,
    prior_weight: float = 5.0,
) -> pd.DataFrame:
    """Late rate and volume of each query's group over deliveries in the window before it.

    ``history`` needs ``promised_date`` and ``delivered_date`` (missing while
    undelivered); ``queries`` needs ``moment``. The rate is shrunk towards ``prior_rate``
    with ``prior_weight`` lines, so a group with little history says little.
    """
    records = on_time_records(
        history, group, queries, query_group, (window_days,), prior_rate, prior_weight
    )
    return records[window_days]


def on_time_records(
    history: pd.DataFrame,
    group: pd.Series,
    queries: pd.DataFrame,
    query_group: pd.Series,
    windows: Sequence[int],
    prior_rate: float = 0.1,
    prior_weight: float = 5.0,
    remembered: Sequence[GroupEvents] = (),
    tolerance_days: int = 0,
) -> dict[int, pd.DataFrame]:
    """:func:`on_time_record` for several windows at once (one sort of the history).

    ``remembered``: outcome tables (:func:`outcome_events`) of lines not in ``history``,
    such as those a model keeps from its training history; their counts add to it.
    ``tolerance_days``: days after the promise a delivery still counts as on time.
    """
    now = queries["moment"].to_numpy("datetime64[ns]")
    tables = [
        *_nonempty(history, lambda: outcome_events(history, group, tolerance_days)),
        *remembered,
    ]
    if not tables:  # nothing known at all: every record is the prior
        zeros = np.zeros(len(now))
        return {
            w: pd.DataFrame(
                {"rate": np.full(len(now), prior_rate), "lines": zeros}, index=queries.index
            )
            for w in windows
        }
    dates = [now, *(now - np.timedelta64(window, "D") for window in windows)]
    (lines_now, lates_now), *earlier = _sum_before(tables, query_group, dates)
    records = {}
    for window, (lines_then, lates_then) in zip(windows, earlier, strict=True):
        lines, lates = lines_now - lines_then, lates_now - lates_then
        rate = (lates + prior_rate * prior_weight) / (lines + prior_weight)
        records[window] = pd.DataFrame({"rate": rate, "lines": lines}, index=queries.index)
    return records


@dataclass(frozen=True)
class WorkEvents:
    """A grouping's order flow: units ordered and shipped, lines falling due and settled."""

    ordered: GroupEvents
    shipped: GroupEvents
    due: GroupEvents
    settled: GroupEvents


def work_events(history: pd.DataFrame, group: pd.Series) -> WorkEvents:
    """The order-flow events of ``history``'s lines, by ``group``."""
    group = group.reset_index(drop=True)
    qty = history["quantity"].to_numpy(float)
    shipped_at = (
        history["ship_date"] if "ship_date" in history.columns else history["delivered_date"]
    ).fillna(history["delivered_date"])
    has_ship = shipped_at.notna().to_numpy()
    # A line stops being overdue once delivered, but not before its promise has passed.
    promised = history["promised_date"].to_numpy("datetime64[ns]")
    delivered = history["delivered_date"].to_numpy("datetime64[ns]")
    settled = np.where(np.isnat(delivered), np.datetime64("NaT"), np.maximum(promised, delivered))
    has_settled = ~np.isnat(settled)
    ones = np.ones(len(group))
    return WorkEvents(
        ordered=GroupEvents(group, history["order_date"].to_numpy("datetime64[ns]"), qty),
        shipped=GroupEvents(
            group[has_ship], shipped_at[has_ship].to_numpy("datetime64[ns]"), qty[has_ship]
        ),
        due=GroupEvents(group, promised, ones),
        settled=GroupEvents(group[has_settled], settled[has_settled], ones[has_settled]),
    )


def open_work(
    history: pd.DataFrame,
    group: pd.Series,
    queries: pd.DataFrame,
    query_group: pd.Series,
    throughput_days: int = 28,
    remembered: Sequence[WorkEvents] = (),
) -> pd.DataFrame:
    """Open units, overdue lines and recent throughput of each query's group at its moment.

    Open units: ordered before the moment, not shipped (or, without ship dates, delivered)
    before it. Throughput: units shipped in the ``throughput_days`` before the moment.
    Overdue: promised before the moment, not delivered before it. ``remembered``: order
    flows (:func:`work_events`) of lines not in ``history``; their counts add to it.
    """
    now = queries["moment"].to_numpy("datetime64[ns]")
    # Nothing known at all: the empty history's own (empty) flows, no open work anywhere.
    flows = [*_nonempty(history, lambda: work_events(history, group)), *remembered] or [
        work_events(history, group)
    ]

    def total(kind: str, *dates: np.ndarray) -> list[np.ndarray]:
        tables = [getattr(flow, kind) for flow in flows]
        return [sums[0] for sums in _sum_before(tables, query_group, dates)]

    (ordered,) = total("ordered", now)
    shipped, shipped_earlier = total("shipped", now, now - np.timedelta64(throughput_days, "D"))
    (due,) = total("due", now)
    (closed,) = total("settled", now)
    per_day = (shipped - shipped_earlier) / throughput_days
    open_units = np.maximum(ordered - shipped, 0.0)
    return pd.DataFrame(
        {
            "open_units": open_units,
            "overdue_lines": np.maximum(due - closed, 0.0),
            "backlog_days": np.where(
                per_day > 0,
                open_units / np.maximum(per_day, 1e-9),
                np.where(open_units > 0, 99.0, 0.0),
            ),
        },
        index=queries.index,
    )
