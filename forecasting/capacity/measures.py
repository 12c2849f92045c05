"""The measures a planner reads off the simulated queue, one site at a time.

Every measure is in the forecast's measure (units, lines or orders) or in days:

* ``arrivals_p10/p50/p90``: new work arriving that day (released to the site to ship);
* ``load_ratio``: ``arrivals_p50 / capacity``, new work against the day's capacity; null
  on a closed day (capacity 0), where no ratio means anything;
* ``available_p10/p50/p90``: work available to ship that day, the backlog carried in
  plus that day's arrivals;
* ``capacity``: what the site can ship that day (0 = closed);
* ``p_shortfall``: P(work available > capacity), the probability some work is carried
  to the next day (judged against the capacity each simulated future realises: the
  planned capacity times the share the site ships on busy days); on a closed day, the
  probability any work waits;
* ``backlog_p10/p50/p90``: work still waiting at the end of the day;
* ``backlog_days``: ``backlog_p50`` in days of capacity, divided by the mean capacity of
  the open days among the next seven (null when none of them is open);
* ``expected_delay_days``: the mean over futures of the days until the work available
  that day has all shipped, first in first out (0 when it all ships that day).

There is no ``utilization`` column: the old one (work available / capacity) counted the
carried backlog, read as "overloaded 4x" where the site was busy and behind, and what it
measured is ``backlog_days`` and ``p_shortfall``.
"""

from __future__ import annotations

import numpy as np

MEASURE_COLUMNS = [
    "arrivals_p10",
    "arrivals_p50",
    "arrivals_p90",
    "load_ratio",
    "available_p10",
    "available_p50",
    "available_p90",
    "capacity",
    "p_shortfall",
    "backlog_p10",
    "backlog_p50",
    "backlog_p90",
    "backlog_days",
    "expected_delay_days",
]
AHEAD_DAYS = 7  # the open days whose capacity a backlog is measured in
_TINY = 1e-9  # whole units in float arithmetic: below this, nothing waits


def outlook_measures(
    arrivals: np.ndarray,
    available: np.ndarray,
    backlog: np.ndarray,
    capacity: np.ndarray,
    realised: np.ndarray | None = None,
    throughput: float = 1.0,
) -> dict[str, np.ndarray]:
    """The measures of :data:`MEASURE_COLUMNS` per day for one site.

    ``arrivals``, ``available`` and ``backlog`` are ``(paths, days)`` from
    :func:`forecasting.capacity.forecaster.run_queue`; ``capacity`` (planned) holds at
    least ``days`` values, and the days after the horizon (``AHEAD_DAYS`` of them, when
    given) are what ``backlog_days`` and the delay of the last days look ahead to.
    ``realised``: the capacity each future had (``(paths, days)``, default the planned),
    which the shortfall is judged against; ``throughput``: the mean share of capacity
    shipped on busy days, which the delay is worked out with.
    """
    days = arrivals.shape[1]
    capacity = np.asarray(capacity, dtype=float)
    today = capacity[:days]
    a10, a50, a90 = np.quantile(arrivals, [0.1, 0.5, 0.9], axis=0)
    w10, w50, w90 = np.quantile(available, [0.1, 0.5, 0.9], axis=0)
    b10, b50, b90 = np.quantile(backlog, [0.1, 0.5, 0.9], axis=0)
    judged = today[None, :] if realised is None else realised
    open_today = today > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(open_today, a50 / np.where(open_today, today, 1.0), np.nan)
        ahead = typical_ahead(capacity, days)
        backlog_days = np.where(ahead > 0, b50 / ahead, np.nan)
    return {
        "arrivals_p10": a10,
        "arrivals_p50": a50,
        "arrivals_p90": a90,
        "load_ratio": load,
        "available_p10": w10,
        "available_p50": w50,
        "available_p90": w90,
        "capacity": today,
        "p_shortfall": (available > judged + _TINY).mean(axis=0),
        "backlog_p10": b10,
        "backlog_p50": b50,
        "backlog_p90": b90,
        "backlog_days": np.where(b50 <= _TINY, 0.0, backlog_days),
        "expected_delay_days": fifo_delay(available, capacity * throughput).mean(axis=0),
    }


def typical_ahead(capacity: np.ndarray, days: int) -> np.ndarray:
    """Per day, the mean capacity of the open days among the next ``AHEAD_DAYS`` (0 when
    none of them is open or known)."""
    out = np.zeros(days)
    for t in range(days):
        window = capacity[t + 1 : t + 1 + AHEAD_DAYS]
        window = window[window > 0]
        out[t] = window.mean() if window.size else 0.0
    return out


def fifo_delay(available: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """``(paths, days)``: days from each day until its available work has all shipped.

    First in first out: the last unit available on day ``t`` ships on the first day ``s``
    where the capacity of days ``t..s`` covers it; the delay is ``s - t``. Past the
    capacity given, the remainder is cleared at the mean capacity of its last open days
    (NaN if the site never opens).
    """
    paths, days = available.shape
    cum = np.cumsum(capacity)
    open_days = capacity[capacity > 0]
    tail = open_days[-AHEAD_DAYS:].mean() if open_days.size else 0.0
    out = np.empty((paths, days))
    for t in range(days):
        before = cum[t - 1] if t else 0.0
        need = before + available[:, t] - _TINY
        s = np.searchsorted(cum, need, side="left")
        beyond = s >= len(cum)
        delay = (s - t).astype(float)
        if beyond.any():
            extra = (need[beyond] - cum[-1]) / tail if tail > 0 else np.nan
            delay[beyond] = (len(cum) - 1 - t) + np.ceil(extra)
        out[:, t] = np.where(available[:, t] <= _TINY, 0.0, delay)
    return out
