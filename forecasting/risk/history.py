"""Track records as of a moment: on-time rates and open backlog per group, leakage-free.

Every statistic for a query moment ``m`` counts only events strictly before ``m``:
deliveries (for on-time rates) and orders, shipments and promises (for open work).
Counting is vectorised with sorted event dates and ``searchsorted`` per group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

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


def _count_before(
    event_keys: np.ndarray,
    event_dates: np.ndarray,
    weights: np.ndarray,
    query_keys: np.ndarray,
    query_dates: np.ndarray,
) -> np.ndarray:
    """Sum of ``weights`` of events with the same key and a date strictly before each query."""
    return _SortedEvents(event_keys, event_dates, weights).before(query_keys, query_dates)[0]


def _codes(values: pd.Series, categories: pd.Index) -> np.ndarray:
    return pd.Categorical(values.astype(str), categories=categories).codes.astype(np.int64)


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

    ``history`` needs ``promised_date``, ``delivered_date`` and a boolean-ish ``late``
    (missing while undelivered); ``queries`` needs
    ``moment``. The rate is shrunk towards ``prior_rate`` with ``prior_weight`` lines, so
    a group with little history says little.
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
) -> dict[int, pd.DataFrame]:
    """:func:`on_time_record` for several windows at once (one sort of the history)."""
    # A line's outcome is known on its delivery, or, if it is late, as soon as its promise
    # passes undelivered: counting late lines from then on is what a planner knew at the
    # time, and reacts to a run of late deliveries weeks before they are delivered.
    late_all = history["late"].astype(float).fillna(1.0).to_numpy()
    promised = history["promised_date"].to_numpy("datetime64[ns]")
    delivered = history["delivered_date"].to_numpy("datetime64[ns]")
    known_on = np.where(late_all == 1.0, promised, delivered)
    done = ~np.isnat(known_on)
    categories = pd.Index(pd.concat([group[done], query_group]).astype(str).unique())
    events = _SortedEvents(
        _codes(group[done], categories), known_on[done], np.ones(int(done.sum())), late_all[done]
    )
    qkeys = _codes(query_group, categories)
    now = queries["moment"].to_numpy("datetime64[ns]")
    lines_now, lates_now = events.before(qkeys, now)
    records = {}
    for window in windows:
        lines_then, lates_then = events.before(qkeys, now - np.timedelta64(window, "D"))
        lines, lates = lines_now - lines_then, lates_now - lates_then
        rate = (lates + prior_rate * prior_weight) / (lines + prior_weight)
        records[window] = pd.DataFrame({"rate": rate, "lines": lines}, index=queries.index)
    return records


def open_work(
    history: pd.DataFrame,
    group: pd.Series,
    queries: pd.DataFrame,
    query_group: pd.Series,
    throughput_days: int = 28,
) -> pd.DataFrame:
    """Open units, overdue lines and recent throughput of each query's group at its moment.

    Open units: ordered before the moment, not shipped (or, without ship dates, delivered)
    before it. Throughput: units shipped in the ``throughput_days`` before the moment.
    """
    categories = pd.Index(pd.concat([group, query_group]).astype(str).unique())
    ekeys = _codes(group, categories)
    qkeys = _codes(query_group, categories)
    now = queries["moment"].to_numpy("datetime64[ns]")
    qty = history["quantity"].to_numpy(float)
    shipped_at = (
        history["ship_date"] if "ship_date" in history.columns else history["delivered_date"]
    ).fillna(history["delivered_date"])
    has_ship = shipped_at.notna().to_numpy()
    ordered = _count_before(
        ekeys, history["order_date"].to_numpy("datetime64[ns]"), qty, qkeys, now
    )
    shipments = _SortedEvents(
        ekeys[has_ship], shipped_at[has_ship].to_numpy("datetime64[ns]"), qty[has_ship]
    )
    (shipped,) = shipments.before(qkeys, now)
    (shipped_earlier,) = shipments.before(qkeys, now - np.timedelta64(throughput_days, "D"))
    recent = shipped - shipped_earlier
    # Overdue: promised before the moment, not delivered before it.
    promised = history["promised_date"].to_numpy("datetime64[ns]")
    delivered = history["delivered_date"].to_numpy("datetime64[ns]")
    settled = np.where(np.isnat(delivered), np.datetime64("NaT"), np.maximum(promised, delivered))
    ones = np.ones(len(ekeys))
    due = _count_before(ekeys, promised, ones, qkeys, now)
    has_settled = ~np.isnat(settled)
    closed = _count_before(ekeys[has_settled], settled[has_settled], ones[has_settled], qkeys, now)
    per_day = recent / throughput_days
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
