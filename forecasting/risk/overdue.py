"""How late an overdue line will be: its delay, given it is already this many days late.

A line past its promise and undelivered is late with certainty; what a planner needs is
how late. The answer is read from the delays of the late lines delivered before the
scoring moment (the model's memory): of those delayed at least as long as the line is
already, the median and 90th percentile of the total delay, from the line's own site
when it has ``MIN_LINES`` such lines and from every site otherwise. A line overdue longer
than nearly any line ever was has few such neighbours; there the tail beyond the 90th
percentile of all delays, shifted to the line's own delay (peaks over a threshold: how
far past a long delay a delivery still runs), stands in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_LINES = 20
TAIL_QUANTILE = 0.9


@dataclass(frozen=True)
class OverdueDelay:
    """Per line: total days late at delivery (P50, P90, mean), and how many past lines,
    and of which site ("" for every site), the figures come from."""

    p50: np.ndarray
    p90: np.ndarray
    mean: np.ndarray
    lines: np.ndarray
    site: np.ndarray


@dataclass(frozen=True)
class DelayPools:
    """The past late lines' delays sorted, of every site (``every``) and per site: what
    :func:`overdue_delay` reads, built once per memory rather than per request."""

    every: np.ndarray
    by_site: dict[str, np.ndarray]

    @classmethod
    def of(cls, delays: pd.DataFrame) -> DelayPools:
        """``delays``: ``site`` and ``delay_days`` of past late lines (:func:`late_delays`)."""
        return cls(
            np.sort(delays["delay_days"].to_numpy(float)),
            {
                str(site): np.sort(group.to_numpy(float))
                for site, group in delays.groupby("site")["delay_days"]
            },
        )


def overdue_delay(
    delays: pd.DataFrame | DelayPools, sites: pd.Series, days_late: np.ndarray
) -> OverdueDelay:
    """The delay of lines of ``sites`` already ``days_late`` days past their promise.

    ``delays``: ``site`` and ``delay_days`` of past late lines (:func:`late_delays`), or
    their :class:`DelayPools`.
    """
    site_of = sites.astype(str).to_numpy()  # per-row pandas access costs ~20 us a line
    days_late = np.asarray(days_late, dtype=float)
    n = len(days_late)
    out = {k: np.full(n, np.nan) for k in ("p50", "p90", "mean")}
    count = np.zeros(n, dtype=np.int64)
    source = np.full(n, "", dtype=object)
    pools = delays if isinstance(delays, DelayPools) else DelayPools.of(delays)
    # Lines of one site equally late get the same answer: computed once per such pair (an
    # open book has a few sites and a few dozen distinct days late, and np.quantile costs
    # ~40 us a call).
    answers: dict[tuple[str, float], tuple[float, float, float, int, str]] = {}
    for i in range(n):
        key = (site_of[i], float(days_late[i]))
        answer = answers.get(key)
        if answer is None:
            answer = answers[key] = _delay_of(pools, *key)
        out["p50"][i], out["p90"][i], out["mean"][i], count[i], source[i] = answer
    return OverdueDelay(out["p50"], out["p90"], out["mean"], count, source)


def _delay_of(
    pools: DelayPools, site: str, days_late: float
) -> tuple[float, float, float, int, str]:
    """P50, P90, mean, how many lines and of which site ("" every site) for one line of
    ``site`` already ``days_late`` days late (see :func:`overdue_delay`)."""
    every = pools.every
    for name, pool in ((site, pools.by_site.get(site, every[:0])), ("", every)):
        tail = pool[np.searchsorted(pool, days_late, side="left") :]
        if len(tail) >= MIN_LINES:
            p50, p90 = np.quantile(tail, [0.5, 0.9])
            return float(p50), float(p90), float(tail.mean()), len(tail), name
    if len(every):
        excess = _tail_excess(every)
        p50, p90 = days_late + np.quantile(excess, [0.5, 0.9])
        return float(p50), float(p90), days_late + float(excess.mean()), len(excess), ""
    # Nothing was ever late: no better guess than the days already passed.
    return days_late, days_late, days_late, 0, ""


def _tail_excess(delays: np.ndarray) -> np.ndarray:
    """How far past the ``TAIL_QUANTILE`` delay the delays beyond it ran."""
    threshold = float(np.quantile(delays, TAIL_QUANTILE))
    beyond = delays[delays > threshold] - threshold
    return beyond if len(beyond) else np.zeros(1)
