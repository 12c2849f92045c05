"""Input checks of the at-risk model: clear errors for order lines it cannot use."""

from __future__ import annotations

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
