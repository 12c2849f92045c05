"""Capacity estimated from history: what a site ships on days it is constrained.

Per site and weekday, over the most recent ``window_days``: a high quantile of work
shipped on constrained days (days that start with at least a day's worth of backlog), so
unconstrained days (not enough work) do not drag it down and a few record days do not
push it up. A weekday the site never ships on is closed (capacity 0). The spread of
those days is returned as the estimate's uncertainty. The estimate is in the flows'
measure (units, lines or orders; the columns keep the name ``capacity_units``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.demand.calendar_features import holiday_dates


def estimate_capacity(
    flows: pd.DataFrame, window_days: int = 91, quantile: float = 0.9, min_days: int = 3
) -> pd.DataFrame:
    """``site, weekday, capacity_units, spread_units, constrained_days`` per site-weekday."""
    rows = []
    last = flows["date"].max()
    recent = flows[flows["date"] > last - pd.Timedelta(days=window_days)]
    for site, days in recent.groupby("site", sort=True):
        typical = days.loc[days["shipped"] > 0, "shipped"].median()
        typical = float(typical) if np.isfinite(typical) else 0.0
        constrained = days[(days["backlog_start"] >= 0.5 * typical) & (days["shipped"] > 0)]
        for weekday in range(7):
            same_day = days[days["date"].dt.dayofweek == weekday]
            busy = constrained[constrained["date"].dt.dayofweek == weekday]["shipped"]
            if (same_day["shipped"] > 0).sum() == 0:
                capacity, spread = 0.0, 0.0
            elif len(busy) >= min_days:
                capacity = float(busy.quantile(quantile))
                spread = float(busy.quantile(0.75) - busy.quantile(0.25))
            else:  # rarely constrained: the best day seen is a lower bound on capacity
                shipped = same_day["shipped"]
                capacity, spread = float(shipped.max()), float(shipped.std(ddof=0))
            rows.append((site, weekday, capacity, spread, len(busy)))
    return pd.DataFrame(
        rows, columns=["site", "weekday", "capacity_units", "spread_units", "constrained_days"]
    )


def holiday_closures(flows: pd.DataFrame, country: str, min_holidays: int = 2) -> dict[str, bool]:
    """Per site: does it close on public holidays? Learnt from the history.

    A site closes on holidays when it shipped nothing on most of the past holidays that
    fell on a weekday it usually ships on (at least ``min_holidays`` of them seen).
    """
    first, last = flows["date"].min(), flows["date"].max()
    days = pd.DatetimeIndex(holiday_dates(country, first.year, last.year))
    days = days[(days >= first) & (days <= last)]
    closes = {}
    for site, site_days in flows.groupby("site", sort=True):
        shipping_weekdays = set(
            site_days.loc[site_days["shipped"] > 0, "date"]
            .dt.dayofweek.value_counts()
            .loc[lambda counts: counts >= 4]
            .index
        )
        on_holidays = site_days[
            site_days["date"].isin(days) & site_days["date"].dt.dayofweek.isin(shipping_weekdays)
        ]
        closes[str(site)] = (
            len(on_holidays) >= min_holidays and float((on_holidays["shipped"] == 0).mean()) > 0.5
        )
    return closes
