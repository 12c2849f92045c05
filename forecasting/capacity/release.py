"""When an order line becomes work a site can ship: a release rule learnt from history.

A warehouse does not pick a line the day it is ordered when the customer wants it weeks
later: it releases the line to the floor when it becomes due, some days before the
promised date (the handling and transit the promise allows for). Read from the shipped
lines of the history, per channel: ``window`` = the ``quantile`` of (promised date - ship
date), the most days before its promise that a line of that channel is shipped. A line is
then released on

    ``release = max(order date, promised date - window)``

and, once shipped, never after its ship date. A site that works every line as soon as it
is ordered ships lines as early as their promise allows, so its window covers every lead
and each line is released on its order date; a site that holds lines until they are due
ships them a few days before their promise whatever the lead, and lines ordered far
ahead are released only then. Queueing only delays shipping (it shortens promised - ship),
so a congested history does not stretch the window.

Lines without a promised date (or a history without the column) are released on their
order date.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

QUANTILE = 0.95  # of promised - ship per channel; see the module docstring
WINDOW_DAYS = 182  # the recent shipped lines the rule is learnt from
MIN_LINES = 50  # a channel with fewer shipped lines uses the rule of all channels
ALL = "*"  # the key of the rule learnt over every channel


@dataclass(frozen=True)
class ReleaseRule:
    """Days before the promised date a line is released, per channel (``ALL``: any other
    channel, or lines without one). ``None`` as the window of ``ALL`` releases every line
    on its order date (no promised dates to learn from)."""

    windows: dict[str, float] = field(default_factory=dict)

    def window_of(self, channel: pd.Series | None, index: pd.Index) -> np.ndarray:
        """The window (days) of each line: its channel's, else the overall one."""
        default = self.windows.get(ALL, np.inf)
        if channel is None:
            return np.full(len(index), default, dtype=float)
        known = {k: v for k, v in self.windows.items() if k != ALL}
        return channel.astype(str).map(known).astype(float).fillna(default).to_numpy()


def fit_release_rule(
    orders: pd.DataFrame,
    as_of: pd.Timestamp | None = None,
    quantile: float = QUANTILE,
    window_days: int = WINDOW_DAYS,
    min_lines: int = MIN_LINES,
) -> ReleaseRule:
    """The rule (see the module docstring) from the lines shipped in the ``window_days``
    up to ``as_of`` (default: the last order date)."""
    if "promised_date" not in orders.columns or "ship_date" not in orders.columns:
        return ReleaseRule({ALL: np.inf})
    as_of = pd.Timestamp(as_of) if as_of is not None else orders["order_date"].max()
    shipped = orders["ship_date"]
    recent = (
        shipped.notna()
        & orders["promised_date"].notna()
        & (shipped <= as_of)
        & (shipped > as_of - pd.Timedelta(days=window_days))
    )
    lines = orders[recent]
    if len(lines) < min_lines:
        return ReleaseRule({ALL: np.inf})
    slack = pd.Series(
        (
            lines["promised_date"].to_numpy("datetime64[ns]")
            - lines["ship_date"].to_numpy("datetime64[ns]")
        )
        / np.timedelta64(1, "D"),
        index=lines.index,
    )
    windows = {ALL: float(np.quantile(slack, quantile))}
    if "channel" in lines.columns:
        channel = lines["channel"].astype(str)
        for name, values in slack.groupby(channel.to_numpy()):
            if len(values) >= min_lines:
                windows[str(name)] = float(np.quantile(values, quantile))
    return ReleaseRule(windows)


def release_dates(orders: pd.DataFrame, rule: ReleaseRule) -> pd.Series:
    """Each line's release date (datetime, index of ``orders``): ``max(order date,
    promised date - window)``, and no later than its ship date once shipped."""
    order_date = orders["order_date"].to_numpy("datetime64[ns]")
    if "promised_date" not in orders.columns:
        return pd.Series(order_date, index=orders.index)
    window = rule.window_of(orders.get("channel"), orders.index)
    promised = orders["promised_date"].to_numpy("datetime64[ns]")
    lead = (promised - order_date) / np.timedelta64(1, "D")
    lag = np.nan_to_num(np.maximum(lead - window, 0.0), nan=0.0, posinf=0.0)
    release = order_date + np.floor(lag).astype("timedelta64[D]")
    if "ship_date" in orders.columns:
        shipped = orders["ship_date"].to_numpy("datetime64[ns]")
        later = ~np.isnat(shipped) & (release > shipped)
        release = np.where(later, shipped, release)
    return pd.Series(release, index=orders.index)


def release_lags(
    orders: pd.DataFrame,
    rule: ReleaseRule,
    as_of: pd.Timestamp | None = None,
    window_days: int = WINDOW_DAYS,
    weights: str | None = "quantity",
) -> np.ndarray:
    """The share of new work released ``k`` days after its order date, ``k = 0, 1, ...``
    (sums to 1): the release rule applied to the lines ordered in the ``window_days`` to
    ``as_of``, weighted by ``weights`` (a column; None counts lines). Lines not yet shipped
    count at their rule's lag, so far-ahead orders weigh as they come in."""
    as_of = pd.Timestamp(as_of) if as_of is not None else orders["order_date"].max()
    recent = orders[
        (orders["order_date"] <= as_of)
        & (orders["order_date"] > as_of - pd.Timedelta(days=window_days))
    ]
    if recent.empty:
        return np.array([1.0])
    unshipped = recent.drop(columns=["ship_date"], errors="ignore")
    released = release_dates(unshipped, rule).to_numpy("datetime64[ns]")
    lag = (
        (released - recent["order_date"].to_numpy("datetime64[ns]")) // np.timedelta64(1, "D")
    ).astype(int)
    w = recent[weights].to_numpy(float) if weights else np.ones(len(recent))
    pmf = np.bincount(np.clip(lag, 0, None), weights=w)
    total = pmf.sum()
    return pmf / total if total > 0 else np.array([1.0])
