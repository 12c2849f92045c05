"""The load on a line's site around its promised date, against the capacity model's capacity.

At a moment ``t`` each site has, from its daily flows before ``t``
(:mod:`forecasting.capacity.flows`): a capacity, the capacity model's own estimate
(:func:`forecasting.capacity.estimate.capacity_history`: per weekday, a high quantile of
what the site shipped on constrained days of the last 91, averaged over the week to a
daily figure), a rate of new work (units ordered per day over the last four weeks), the
year's rate, and its open work. Queueing forward as the capacity model does, with new
work fading from the recent rate back to the year's (``a(s) = year + (recent - year)
e^(-s/28)``), ``backlog(p) = max(0, open + integral of a(s) - capacity up to p)`` is the
work waiting on the line's promised date ``p``; divided by capacity it is days of work
ahead of the line then. Utilization is recent arrivals over capacity ("site receiving
118% of its capacity"), against the capacity the capacity outlook uses for the site.

Every number at ``t`` uses only days before ``t``: it is read from the flows and the
estimate as they stood at the end of day ``t - 1``, so nothing from the moment itself
or later leaks in.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from forecasting.capacity.estimate import capacity_history
from forecasting.capacity.flows import daily_work, queue_flows

ARRIVAL_DAYS = 28
LONG_RUN_DAYS = 364
# How fast a burst of orders fades back to the year's rate (e-folding days).
REVERSION_DAYS = 28


EMPTY_SITE_TABLE = pd.DataFrame(
    columns=["capacity", "arrivals", "long_run"],
    index=pd.MultiIndex.from_arrays(
        [pd.Index([], dtype=object), pd.DatetimeIndex([])], names=["site", "date"]
    ),
)


def site_table(
    history: pd.DataFrame,
    last: pd.Timestamp,
    remembered: pd.DataFrame | None = None,
    sites: Collection[str] | None = None,
    dates: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Per site and day up to ``last``, the capacity and arrival rates known at the end of
    that day: ``capacity`` (units a day), ``arrivals`` (last 28 days), ``long_run`` (last
    364), indexed by ``site`` (str) and ``date``. Empty when nothing flowed by ``last``.

    ``remembered``: :func:`daily_work` of lines not in ``history``; they add to its flows.
    ``sites`` and ``dates``, when given, limit the rows to those sites and days (the same
    values as the full table's: every figure is per site, and a day's figures look back
    only); a scoring batch asks about a few sites on one day, not years of every site.
    """
    daily = daily_work(history, until=last)
    if remembered is not None and not remembered.empty:
        daily = pd.concat([daily, remembered]).groupby(level=[0, 1]).sum()
    return daily_site_table(daily, last, sites, dates)


def daily_site_table(
    daily: pd.DataFrame,
    last: pd.Timestamp,
    sites: Collection[str] | None = None,
    dates: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """:func:`site_table` from a :func:`daily_work` table."""
    daily = daily[daily.index.get_level_values("date") <= last]
    if daily.empty:
        return EMPTY_SITE_TABLE.copy()
    days = pd.date_range(daily.index.get_level_values("date").min(), last, freq="D")
    if sites is not None:
        daily = daily[daily.index.get_level_values("site").isin(list(sites))]
        if daily.empty:
            return EMPTY_SITE_TABLE.copy()
    flows = queue_flows(daily, days)
    ends = None if dates is None else days[days.isin(dates)]
    estimate = capacity_history(flows, ends)
    capacity = estimate.groupby(["site", "date"])["capacity_units"].mean()
    released = flows.set_index(["site", "date"])["released"].groupby(level="site")
    table = pd.DataFrame(
        {
            "arrivals": released.transform(lambda s: s.rolling(ARRIVAL_DAYS, min_periods=7).mean()),
            "long_run": released.transform(
                lambda s: s.rolling(LONG_RUN_DAYS, min_periods=7).mean()
            ),
        }
    )
    if ends is not None:
        table = table[table.index.get_level_values("date").isin(ends)]
    table.insert(0, "capacity", capacity.reindex(table.index))
    return table


def site_load(
    history: pd.DataFrame,
    sites: pd.Series,
    moments: pd.Series,
    promised: pd.Series,
    open_units: np.ndarray,
    remembered: pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``utilization`` and ``backlog_days_at_promise`` of each line (NaN where unknown),
    with ``capacity`` (units a day) beside them.

    ``remembered``: :func:`daily_work` of lines not in ``history``; they add to its flows.
    ``table``: the :func:`site_table` rows of the lines' sites and days, when the caller
    holds them already (``history`` and ``remembered`` are then not read).
    """
    moments = pd.to_datetime(moments).dt.normalize().reset_index(drop=True)
    promised = pd.to_datetime(promised).reset_index(drop=True)
    sites = sites.astype(str).reset_index(drop=True)
    known_at = moments - pd.Timedelta(days=1)  # the end of the day before the moment
    at = pd.DataFrame(np.nan, index=range(len(sites)), columns=["capacity", "arrivals", "long_run"])
    if len(sites):
        if table is None:
            table = site_table(
                history,
                known_at.max(),
                remembered,
                sites=set(sites),
                dates=pd.DatetimeIndex(known_at.unique()),
            )
        if not table.empty:
            keys = pd.MultiIndex.from_arrays([sites, known_at])
            at = table.reindex(keys).reset_index(drop=True)
    return pd.DataFrame(
        projected_load(
            at["capacity"].to_numpy(float),
            at["arrivals"].to_numpy(float),
            at["long_run"].to_numpy(float),
            (promised - moments).dt.days.to_numpy(float),
            open_units,
        )
    )


def projected_load(
    capacity: np.ndarray,
    arrivals: np.ndarray,
    long_run: np.ndarray,
    days_ahead: np.ndarray,
    open_units: np.ndarray,
) -> dict[str, np.ndarray]:
    """:func:`site_load`'s columns from each line's site figures (:func:`site_table`'s, NaN
    where unknown), the whole days from its moment to its promised date and the site's
    open units (the one formula of the general path and the API's small-batch one)."""
    usable = np.where(capacity > 0, capacity, np.nan)
    ahead = np.clip(days_ahead, 0, None)
    # Arrivals fade from their recent rate to the year's: a(t) = long + (recent - long)
    # e^(-t/tau). Held at the recent rate, a seasonal peak would queue forever and every
    # line promised months ahead would look hopeless.
    fade = REVERSION_DAYS * (1.0 - np.exp(-ahead / REVERSION_DAYS))
    excess = (long_run - capacity) * ahead + (arrivals - long_run) * fade
    backlog = np.maximum(open_units + excess, 0.0)
    return {
        "utilization": arrivals / usable,
        "backlog_days_at_promise": backlog / usable,
        "capacity": capacity,
    }
