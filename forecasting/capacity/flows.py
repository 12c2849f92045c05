"""Daily work flows per site from order lines: released, shipped, backlog.

Work is released to a site on its release date (the ``release_date`` column, set by the
capacity model's release rule, :mod:`forecasting.capacity.release`; the order date when
the column is absent) and leaves it on the ship date (the delivered date when ship dates
are missing). ``backlog_start`` is the work waiting when
a day begins; a day that starts with a backlog is *constrained*: what it shipped is
what the site could ship.

Work is measured in ``units`` (the lines' quantity), ``lines`` (order lines) or
``orders``. An order counts once per site it touches: released on its first order date
there and shipped on the day its last line there ships, so released and shipped balance
and the backlog neither double-counts an order shipped in parts nor loses one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError

MEASURES = ("units", "lines", "orders")
RELEASE_COLUMN = "release_date"


def check_measure(measure: str) -> str:
    """``measure`` if it is one of :data:`MEASURES`; :class:`ConfigError` otherwise."""
    if measure not in MEASURES:
        raise ConfigError(f"measure must be units, lines or orders, not '{measure}'")
    return measure


def work_items(orders: pd.DataFrame, measure: str = "units") -> pd.DataFrame:
    """One row per piece of work: ``site`` (str), ``released_on``, ``shipped_on``, ``amount``.

    ``units`` and ``lines`` give one row per order line (amount = quantity, or 1);
    ``orders`` one row per site and order (amount 1), shipped when all its lines there
    have shipped (NaT while any is open).
    """
    check_measure(measure)
    shipped_on = orders["ship_date"] if "ship_date" in orders.columns else orders["delivered_date"]
    items = pd.DataFrame(
        {
            "site": orders["site"].astype(str),
            "released_on": orders[RELEASE_COLUMN]
            if RELEASE_COLUMN in orders.columns
            else orders["order_date"],
            "shipped_on": shipped_on.fillna(orders["delivered_date"]),
            "amount": orders["quantity"].astype(float) if measure == "units" else 1.0,
        },
        index=orders.index,
    )
    if measure != "orders":
        return items
    if "order_id" not in orders.columns:
        raise ConfigError("measure 'orders' needs an order_id column")
    items["order_id"] = orders["order_id"].to_numpy()
    items["open"] = items["shipped_on"].isna()
    per_order = items.groupby(["site", "order_id"], sort=False, observed=True).agg(
        released_on=("released_on", "min"), shipped_on=("shipped_on", "max"), open=("open", "any")
    )
    per_order.loc[per_order["open"], "shipped_on"] = pd.NaT
    per_order = per_order.reset_index()
    return per_order.assign(amount=1.0)[["site", "released_on", "shipped_on", "amount"]]


def daily_work(
    orders: pd.DataFrame, until: pd.Timestamp | None = None, measure: str = "units"
) -> pd.DataFrame:
    """Work ``released`` and ``shipped`` per site and day, indexed by ``site`` (str), ``date``.

    Only days with some flow have a row; shipments after ``until`` (if given) are left
    out. Tables of two sets of lines add up (``pd.concat(...).groupby(level=[0, 1]).sum()``)
    before :func:`queue_flows` turns them into backlogs.
    """
    items = work_items(orders, measure)
    released = items.groupby(["site", "released_on"])["amount"].sum()
    done = items["shipped_on"].notna()
    if until is not None:
        done &= items["shipped_on"] <= pd.Timestamp(until)
    shipped = items[done].groupby(["site", "shipped_on"])["amount"].sum()
    frame = pd.concat(
        {
            "released": released.rename_axis(["site", "date"]),
            "shipped": shipped.rename_axis(["site", "date"]),
        },
        axis=1,
    ).fillna(0.0)
    return frame.sort_index()


def queue_flows(daily: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """``site, date, released, shipped, backlog_start, backlog_end`` for every site and day of
    ``days`` from a :func:`daily_work` table (flows outside ``days`` are not counted)."""
    frames = []
    for site, rows in daily.groupby(level="site", sort=True):
        rows = rows.droplevel("site")
        released = rows["released"].reindex(days, fill_value=0.0)
        shipped = rows["shipped"].reindex(days, fill_value=0.0)
        backlog_end = np.maximum((released - shipped).cumsum().to_numpy(), 0.0)
        frames.append(
            pd.DataFrame(
                {
                    "site": site,
                    "date": days,
                    "released": released.to_numpy(),
                    "shipped": shipped.to_numpy(),
                    "backlog_end": backlog_end,
                    "backlog_start": np.concatenate(([0.0], backlog_end[:-1])),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def site_flows(
    orders: pd.DataFrame, until: pd.Timestamp | None = None, measure: str = "units"
) -> pd.DataFrame:
    """``site, date, released, shipped, backlog_start, backlog_end`` for every site-day.

    Days run from the first order date to ``until`` (default: the last order date).
    Flows and backlogs are in ``measure``: ``units`` (sum of quantity, the default),
    ``lines`` (count of order lines) or ``orders`` (distinct orders, see the module
    docstring); :class:`ConfigError` for any other measure.
    """
    end = pd.Timestamp(until) if until is not None else orders["order_date"].max()
    days = pd.date_range(orders["order_date"].min(), end, freq="D")
    return queue_flows(daily_work(orders, end, measure), days)
