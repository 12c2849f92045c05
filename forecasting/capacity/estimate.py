"""Capacity estimated from history: what a site ships on days it is constrained.

Per site and weekday, over the most recent ``window_days``: a high quantile of work
shipped on constrained days (days that start with at least a day's worth of backlog), so
unconstrained days (not enough work) do not drag it down and a few record days do not
push it up. A weekday the site never ships on is closed (capacity 0). The spread of
those days is returned as the estimate's uncertainty. The estimate is in the flows'
measure (units, lines or orders; the columns keep the name ``capacity_units``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting.demand.calendar_features import holiday_dates


def estimate_capacity(
    flows: pd.DataFrame, window_days: int = 91, quantile: float = 0.9, min_days: int = 3
) -> pd.DataFrame:
    """``site, weekday, capacity_units, spread_units, constrained_days`` per site-weekday,
    as of the last date of ``flows`` (:func:`forecasting.capacity.flows.site_flows`)."""
    last = flows["date"].max()
    estimate = capacity_history(flows, [last], window_days, quantile, min_days)
    return estimate.drop(columns="date")


def capacity_history(
    flows: pd.DataFrame,
    dates: list[pd.Timestamp] | pd.DatetimeIndex | None = None,
    window_days: int = 91,
    quantile: float = 0.9,
    min_days: int = 3,
) -> pd.DataFrame:
    """The estimate as it stood at the end of each of ``dates`` (default: every date of
    ``flows``): ``site, date, weekday, capacity_units, spread_units, constrained_days``.

    The row for date ``d`` uses the flows of the ``window_days`` up to and including
    ``d`` only, exactly as :func:`estimate_capacity` on the flows cut at ``d`` would
    (which is how it is computed). Every site gets every date, weekday-ordered.
    """
    days = pd.date_range(flows["date"].min(), flows["date"].max(), freq="D")
    ends = days if dates is None else pd.DatetimeIndex(dates)
    at = days.get_indexer(ends)
    if (at < 0).any():
        raise ValueError("dates must lie within the flows' dates")
    frames = []
    for site, rows in flows.groupby("site", sort=True):
        rows = rows.set_index("date").reindex(days)  # a day without a row is absent: NaN
        stats = _weekday_estimates(
            rows["shipped"].to_numpy(float),
            rows["backlog_start"].to_numpy(float),
            days.dayofweek.to_numpy(),
            at,
            window_days,
            quantile,
            min_days,
        )
        frames.append(
            pd.DataFrame(
                {
                    "site": site,
                    "date": np.repeat(ends.to_numpy(), 7),
                    "weekday": np.tile(np.arange(7), len(ends)),
                    **{name: values.ravel() for name, values in stats.items()},
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["constrained_days"] = out["constrained_days"].astype(int)
    return out


def _weekday_estimates(
    shipped: np.ndarray,
    backlog_start: np.ndarray,
    weekday: np.ndarray,
    ends: np.ndarray,
    window_days: int,
    quantile: float,
    min_days: int,
) -> dict[str, np.ndarray]:
    """Per window end (position in the daily arrays) and weekday, ``(len(ends), 7)`` arrays
    of capacity, spread and constrained days (see the module docstring).

    A site's work on constrained days that start with at least half a typical day's
    shipments (the median of the window's shipping days) waiting. NaN marks an absent day.
    """
    # Row e, column j: the day j days before end e (NaN before the first day).
    lags = ends[:, None] - np.arange(window_days)[None, :]
    present = lags >= 0
    ship = np.where(present, shipped[np.clip(lags, 0, None)], np.nan)
    waiting = np.where(present, backlog_start[np.clip(lags, 0, None)], np.nan)
    shipping = np.where(ship > 0, ship, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: no typical day
        typical = np.nanmedian(shipping, axis=1)
    typical = np.where(np.isfinite(typical), typical, 0.0)
    busy = np.where((waiting >= 0.5 * typical[:, None]) & (ship > 0), ship, np.nan)
    out = {name: np.zeros((len(ends), 7)) for name in ("capacity_units", "spread_units")}
    out["constrained_days"] = np.zeros((len(ends), 7))
    for r in range(7):  # columns r, r + 7, ... are one weekday, which depends on the end
        same, busy_r = ship[:, r::7], busy[:, r::7]
        rows = np.arange(len(ends))
        column = (weekday[ends] - r) % 7
        n_busy = np.sum(~np.isnan(busy_r), axis=1)
        ships = np.sum(same > 0, axis=1) > 0
        enough = ships & (n_busy >= min_days)
        few = ships & ~enough
        capacity = np.zeros(len(ends))
        spread = np.zeros(len(ends))
        capacity[enough] = _quantile(busy_r[enough], quantile)
        spread[enough] = _quantile(busy_r[enough], 0.75) - _quantile(busy_r[enough], 0.25)
        # Rarely constrained: the best day seen is a lower bound on capacity.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            capacity[few] = np.nanmax(same[few], axis=1)
            spread[few] = np.nanstd(same[few], axis=1)
        out["capacity_units"][rows, column] = capacity
        out["spread_units"][rows, column] = spread
        out["constrained_days"][rows, column] = n_busy
    return out


def _quantile(values: np.ndarray, q: float) -> np.ndarray:
    """Per row, the ``q`` quantile of its non-NaN values (linear interpolation, computed as
    numpy and pandas do, so the same days give the same number to the last bit)."""
    ordered = np.sort(values, axis=1)  # NaN sorts last
    count = np.sum(~np.isnan(values), axis=1)
    position = (count - 1) * q
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, count - 1)
    rows = np.arange(len(values))
    a, b = ordered[rows, below], ordered[rows, above]
    t = position - below
    diff = b - a
    # numpy's _lerp: from below for t < 0.5, from above otherwise.
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


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


def throughput_factors(
    flows: pd.DataFrame,
    estimate: pd.DataFrame,
    largest: dict[str, float] | None = None,
    window_days: int = 91,
    min_days: int = 5,
) -> dict[str, np.ndarray]:
    """Per site, what it shipped on days it could not clear, as shares of its capacity.

    A day that starts with at least the day's capacity waiting (per the ``estimate``,
    :func:`estimate_capacity`) ships what it can; whole lines and a first-in first-out
    order leave some of the capacity unused (the next line does not fit). That loss is at
    most one piece of work, the site's ``largest`` (in the flows' measure; default 1), so
    a busy day that shipped less than ``capacity - largest`` had less capacity that day (a
    staff shortage: a known one belongs in a calendar or a scenario, and busy days
    over-sample such drops, which cause the backlogs) and is left out. The shares of the
    last ``window_days`` (``[1.0]`` with fewer than ``min_days`` such days) are what the
    queue draws each simulated day's throughput from, so the backlog drains as fast as
    the site drained it, not at the nominal capacity.
    """
    last = flows["date"].max()
    recent = flows[flows["date"] > last - pd.Timedelta(days=window_days)]
    capacity = estimate.set_index(["site", "weekday"])["capacity_units"]
    out: dict[str, np.ndarray] = {}
    for site, rows in recent.groupby("site", sort=True):
        cap = capacity.reindex(
            pd.MultiIndex.from_arrays([rows["site"], rows["date"].dt.dayofweek])
        ).to_numpy(float)
        busy = (cap > 0) & (rows["backlog_start"].to_numpy(float) >= cap)
        shares = rows["shipped"].to_numpy(float)[busy] / cap[busy]
        piece = (largest or {}).get(str(site), 1.0)
        shares = shares[shares >= 1.0 - piece / cap[busy]]
        out[str(site)] = np.clip(shares, 0.0, 2.0) if len(shares) >= min_days else np.ones(1)
    return out
