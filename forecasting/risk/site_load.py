"""The load on a line's site around its promised date, as the capacity model sees it.

At a moment ``t`` each site has, from what it had shipped and received before ``t``:
a capacity (the 90th percentile of its weekly shipments over the last 13 weeks, per
day: what it ships when it has the work), a rate of new work (units ordered per day over
the last four weeks), the year's rate, and its open work. Queueing forward as the
capacity model does, with new work fading from the recent rate back to the year's
(``a(s) = year + (recent - year) e^(-s/28)``), ``backlog(p) = max(0, open + integral of
a(s) - capacity up to p)`` is the work waiting on the line's promised date ``p``;
divided by capacity it is days of work ahead of the line then. Utilization is recent
arrivals over capacity ("site at 118% of capacity").

Every number at ``t`` uses only days before ``t``: the daily flows are shifted by a day
before the rolling windows, so nothing from the moment itself or later leaks in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CAPACITY_WEEKS = 13
ARRIVAL_DAYS = 28
LONG_RUN_DAYS = 364
# How fast a burst of orders fades back to the year's rate (e-folding days).
REVERSION_DAYS = 28


def daily_flows(history: pd.DataFrame) -> pd.DataFrame:
    """Units ordered and shipped per site and day over the whole history."""
    shipped_on = (
        history["ship_date"] if "ship_date" in history.columns else history["delivered_date"]
    ).fillna(history["delivered_date"])
    site = history["site"].astype(str)
    ordered = history.groupby([site, history["order_date"]])["quantity"].sum()
    done = shipped_on.notna()
    shipped = history[done].groupby([site[done], shipped_on[done]])["quantity"].sum()
    frame = pd.concat({"ordered": ordered, "shipped": shipped}, axis=1).fillna(0.0)
    frame.index = frame.index.set_names(["site", "day"])
    return frame


def _site_tables(daily: pd.DataFrame, last: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Per site, a daily table of capacity and arrival rates known at the start of each day."""
    tables = {}
    for site, rows in daily.groupby(level="site"):
        rows = rows.droplevel("site")
        start = rows.index.min()
        days = pd.date_range(start, max(last, rows.index.max()) + pd.Timedelta(days=1), freq="D")
        rows = rows.reindex(days, fill_value=0.0).shift(1)  # known next day; day one unknown
        weekly = rows["shipped"].rolling(7, min_periods=7).sum()
        capacity = weekly.rolling(7 * CAPACITY_WEEKS, min_periods=14).quantile(0.9) / 7
        arrivals = rows["ordered"].rolling(ARRIVAL_DAYS, min_periods=7).mean()
        long_run = rows["ordered"].rolling(LONG_RUN_DAYS, min_periods=7).mean()
        tables[str(site)] = pd.DataFrame(
            {"capacity": capacity, "arrivals": arrivals, "long_run": long_run}
        )
    return tables


def site_load(
    history: pd.DataFrame,
    sites: pd.Series,
    moments: pd.Series,
    promised: pd.Series,
    open_units: np.ndarray,
    remembered: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``utilization`` and ``backlog_days_at_promise`` of each line (NaN where unknown).

    ``remembered``: :func:`daily_flows` of lines not in ``history``; they add to its flows.
    """
    moments = pd.to_datetime(moments).dt.normalize().reset_index(drop=True)
    promised = pd.to_datetime(promised).reset_index(drop=True)
    sites = sites.astype(str).reset_index(drop=True)
    capacity = np.full(len(sites), np.nan)
    arrivals = np.full(len(sites), np.nan)
    long_run = np.full(len(sites), np.nan)
    daily = daily_flows(history)
    if remembered is not None and not remembered.empty:
        daily = pd.concat([daily, remembered]).groupby(level=["site", "day"]).sum()
    if len(sites) and not daily.empty:
        tables = _site_tables(daily, moments.max())
        for site, positions in sites.groupby(sites).groups.items():
            table = tables.get(str(site))
            if table is None:
                continue
            at = table.reindex(moments.iloc[positions].to_numpy())
            capacity[positions] = at["capacity"].to_numpy()
            arrivals[positions] = at["arrivals"].to_numpy()
            long_run[positions] = at["long_run"].to_numpy()
    usable = np.where(capacity > 0, capacity, np.nan)
    ahead = np.clip((promised - moments).dt.days.to_numpy(float), 0, None)
    # Arrivals fade from their recent rate to the year's: a(t) = long + (recent - long)
    # e^(-t/tau). Held at the recent rate, a seasonal peak would queue forever and every
    # line promised months ahead would look hopeless.
    fade = REVERSION_DAYS * (1.0 - np.exp(-ahead / REVERSION_DAYS))
    excess = (long_run - capacity) * ahead + (arrivals - long_run) * fade
    backlog = np.maximum(open_units + excess, 0.0)
    return pd.DataFrame(
        {"utilization": arrivals / usable, "backlog_days_at_promise": backlog / usable}
    )
