"""Input checks of the at-risk model: clear errors for order lines it cannot use."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError, DataContractError

# Columns every order line needs to be learnt from or scored.
REQUIRED = (
    "order_id",
    "line_id",
    "site",
    "order_date",
    "promised_date",
    "delivered_date",
    "quantity",
)
# The days a history may end before the as-of date. The lines delivered since its last
# event are missing from it: they look open, and those past their promise overdue (at
# 2030-01-01 every open line of the demo scored p_late 1); a model trained there learns
# them as late.
QUIET_DAYS = 7
MAX_STALE_DAYS = 28
EVENT_COLUMNS = ("order_date", "delivered_date", "ship_date", "delivery_recorded_date")


def check_orders(orders: pd.DataFrame, as_of: pd.Timestamp, *, is_history: bool = True) -> None:
    """Return nothing for order lines the model can use at ``as_of``; raise otherwise.

    :class:`ConfigError` when a :data:`REQUIRED` column is missing or, when the lines are
    the history (``is_history``), ``as_of`` is on or before their first order date;
    :class:`DataContractError` naming the first row (1-based) without a promised date.
    Lines scored from the model's memory are not the history: a request of lines all
    ordered today is a request like any other.
    """
    missing = [c for c in REQUIRED if c not in orders.columns]
    if missing:
        raise ConfigError(
            f"order lines lack column(s) {missing} (columns present: {', '.join(orders.columns)})"
        )
    no_promise = orders["promised_date"].isna()
    if no_promise.any():
        first = int(np.flatnonzero(no_promise.to_numpy())[0])
        raise DataContractError.from_message(
            f"row {first + 1} (line {orders['line_id'].iloc[first]}): promised_date is missing; "
            "every line needs a promised date to be scored"
        )
    if is_history and pd.Timestamp(as_of) <= orders["order_date"].min():
        raise ConfigError(
            f"as-of date {pd.Timestamp(as_of):%Y-%m-%d} is before all the data (first order "
            f"{orders['order_date'].min():%Y-%m-%d}); choose a later date"
        )


def check_history_reaches(orders: pd.DataFrame, as_of: pd.Timestamp) -> None:
    """Raise :class:`ConfigError` when ``as_of`` is more than :data:`MAX_STALE_DAYS` after
    the last event the history ``orders`` records (an order, a shipment or a delivery);
    warn when more than :data:`QUIET_DAYS`."""
    days = [orders[c].max() for c in EVENT_COLUMNS if c in orders.columns]
    known = [d for d in days if pd.notna(d)]
    if not known:
        return
    last = max(known)
    gap = (pd.Timestamp(as_of).normalize() - pd.Timestamp(last).normalize()).days
    if gap <= QUIET_DAYS:
        return
    said = (
        f"as-of date {pd.Timestamp(as_of):%Y-%m-%d} is {gap:,} days after the last order or "
        f"delivery the history records ({pd.Timestamp(last):%Y-%m-%d}): lines delivered "
        "since are missing, so they look open and, once past their promise, overdue"
    )
    if gap > MAX_STALE_DAYS:
        raise ConfigError(
            f"{said}. Bring the history up to date (ordercast ingest), or choose an as-of "
            f"date at most {MAX_STALE_DAYS} days after {pd.Timestamp(last):%Y-%m-%d}"
        )
    warnings.warn(f"{said}; if it is behind, bring it up to date", UserWarning, stacklevel=3)


def stale_memory_note(known_until: pd.Timestamp | None, as_of: pd.Timestamp) -> str | None:
    """What a planner should know when ``as_of`` is more than :data:`QUIET_DAYS` after the
    day a model's memory knows the book as of (``known_until``): its track records, site
    load and open work are that old. None otherwise."""
    if known_until is None or pd.isna(known_until):
        return None
    gap = (pd.Timestamp(as_of).normalize() - pd.Timestamp(known_until).normalize()).days
    if gap <= QUIET_DAYS:
        return None
    return (
        f"as_of {pd.Timestamp(as_of):%Y-%m-%d} is {gap:,} days after the day the model's "
        f"memory knows the order book as of ({pd.Timestamp(known_until):%Y-%m-%d}): track "
        "records, site load and open work are that old; refresh the champion with the "
        "latest orders (ordercast refresh)"
    )
