"""Late-delivery labels, strictly as they were known at a date.

A line is late when delivered after its promised date plus a tolerance. As of a date T:
lines delivered before T are labelled by their delivery; lines promised (plus tolerance)
before T and still undelivered at T are known to be late; every other line is not yet
known and gets no label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def is_late(orders: pd.DataFrame, tolerance_days: int = 0) -> pd.Series:
    """True/False where delivered, NA where not (yet) delivered."""
    due = orders["promised_date"] + pd.Timedelta(days=tolerance_days)
    late = (orders["delivered_date"] > due).astype("boolean")
    return late.mask(orders["delivered_date"].isna())


def labels_as_of(orders: pd.DataFrame, as_of: pd.Timestamp, tolerance_days: int = 0) -> pd.Series:
    """1.0 late, 0.0 on time, NaN not known at ``as_of`` (index aligned with ``orders``)."""
    as_of = pd.Timestamp(as_of)
    due = orders["promised_date"] + pd.Timedelta(days=tolerance_days)
    delivered_before = orders["delivered_date"] < as_of
    label = pd.Series(np.nan, index=orders.index)
    label[delivered_before] = (
        orders.loc[delivered_before, "delivered_date"] > due[delivered_before]
    ).astype(float)
    overdue_open = ~delivered_before & (due < as_of) & (orders["order_date"] < as_of)
    label[overdue_open] = 1.0
    return label


def delay_days(orders: pd.DataFrame) -> pd.Series:
    """Days delivered after the promise (negative = early; NaN while undelivered)."""
    return (orders["delivered_date"] - orders["promised_date"]).dt.days.astype(float)
