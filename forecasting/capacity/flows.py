"""Daily work flows per site from order lines: released, shipped, backlog.

Work is released to a site on the order date and leaves it on the ship date (the
delivered date when ship dates are missing). ``backlog_start`` is the work waiting when
a day begins; a day that starts with a backlog is *constrained*: what it shipped is
what the site could ship.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def site_flows(orders: pd.DataFrame, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """``site, date, released, shipped, backlog_start, backlog_end`` for every site-day."""
    shipped_on = orders["ship_date"] if "ship_date" in orders.columns else orders["delivered_date"]
    shipped_on = shipped_on.fillna(orders["delivered_date"])
    end = pd.Timestamp(until) if until is not None else orders["order_date"].max()
    start = orders["order_date"].min()
    days = pd.date_range(start, end, freq="D")
    frames = []
    for site, lines in orders.groupby(orders["site"].astype(str), sort=True):
        released = lines.groupby("order_date")["quantity"].sum().reindex(days, fill_value=0.0)
        done = shipped_on.loc[lines.index]
        shipped = lines.loc[done.notna() & (done <= end)].groupby(done)["quantity"].sum()
        shipped = shipped.reindex(days, fill_value=0.0)
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
