"""Why each submitted order line gets a risk score or not, in words a planner reads.

A batch sent for scoring may hold lines that cannot be scored at ``as_of``: already
delivered, not yet ordered, or with dates that break the order-history contract
(:data:`forecasting.contract.DATE_ORDER_RULES`). They are reported with a reason rather
than dropped, so every line sent comes back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.contract import DATE_ORDER_RULES
from forecasting.risk.features import open_at

SCORED = "scored"
INVALID_DATES = "invalid_dates"
ORDERED_AFTER_AS_OF = "ordered_after_as_of"
DELIVERED_BEFORE_AS_OF = "delivered_before_as_of"
NO_SCORE = "no_score"
UNKNOWN_SITE = "unknown_site"
# Every status a line can have, the scored one first.
STATUSES = (
    SCORED,
    DELIVERED_BEFORE_AS_OF,
    ORDERED_AFTER_AS_OF,
    INVALID_DATES,
    UNKNOWN_SITE,
    NO_SCORE,
)


def _iso(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.strftime("%Y-%m-%d")


def _dates(values: pd.Series) -> pd.Series:
    """``values`` as datetimes (already so in a contract frame: not converted again)."""
    if pd.api.types.is_datetime64_dtype(values) and values.dt.tz is None:
        return values
    return pd.to_datetime(values)


def date_rule_breaches(orders: pd.DataFrame) -> pd.Series:
    """Per row, every contract date rule the line breaks ("promised_date 2025-01-01 is
    before order_date 2025-01-05", joined by "; "), or None when it breaks none."""
    reasons = pd.Series(None, index=orders.index, dtype=object)
    for later, earlier in DATE_ORDER_RULES:
        if later not in orders.columns or earlier not in orders.columns:
            continue
        late, early = _dates(orders[later]), _dates(orders[earlier])
        # NaT compares False. Compared as arrays: a request's lines break no rule, and
        # the texts are only made for the lines that do.
        if late.dt.tz is None and early.dt.tz is None:
            broken = late.to_numpy("datetime64[ns]") < early.to_numpy("datetime64[ns]")
        else:
            broken = (late < early).fillna(False).to_numpy(bool)
        if not broken.any():
            continue
        text = (
            later + " " + _iso(late[broken]) + " is before " + earlier + " " + _iso(early[broken])
        )
        before = reasons[broken]
        reasons[broken] = np.where(before.isna(), text, before + "; " + text)
    return reasons


def line_status(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``status`` (one of :data:`STATUSES`) and ``reason`` (None when it is to be scored)
    per row of ``orders`` (contract columns, datetime64 dates), on the same index.

    Broken date rules come first (no date of such a line can be trusted), then a line
    ordered after ``as_of``, then one delivered before it; a line open at ``as_of``
    (:func:`~forecasting.risk.features.open_at`) with valid dates gets :data:`SCORED`
    (:data:`NO_SCORE` is left for a line that is neither, e.g. without an order date, and
    for one the model returns no score for).
    """
    as_of = pd.Timestamp(as_of)
    day = f"{as_of:%Y-%m-%d}"
    # The scorer's own rule decides what is open; the reasons below say why a line is not.
    is_open = open_at(orders, as_of).to_numpy(bool)
    # Numpy arrays, not Series: a Series set through a boolean array first tries it as a
    # key and formats all of it into an error message (a third of a 1,000-line request).
    status = np.where(is_open, SCORED, NO_SCORE).astype(object)
    reason = np.full(len(orders), None, dtype=object)
    reason[~is_open] = f"not open at as_of {day}"  # only a line without an order_date

    delivered = (orders["delivered_date"] < as_of).fillna(False).to_numpy(bool)
    if delivered.any():  # the texts only when some line needs them (a request: none)
        status[delivered] = DELIVERED_BEFORE_AS_OF
        reason[delivered] = (
            "already delivered on "
            + _iso(orders["delivered_date"][delivered])
            + f", before as_of {day}"
        ).to_numpy(object)
    later = (orders["order_date"] > as_of).fillna(False).to_numpy(bool)
    if later.any():
        status[later] = ORDERED_AFTER_AS_OF
        reason[later] = (
            "ordered " + _iso(orders["order_date"][later]) + f", after as_of {day}"
        ).to_numpy(object)
    breaches = date_rule_breaches(orders)
    broken = breaches.notna().to_numpy(bool)
    status[broken] = INVALID_DATES
    reason[broken] = (breaches[broken] + ": fix the dates and send the line again").to_numpy(object)
    return pd.DataFrame({"status": status, "reason": reason}, index=orders.index)


def unknown_site_reason(site: str, known: frozenset[str]) -> str:
    """Why a line at a site the model has no history of gets no score (or no quote)."""
    listed = ", ".join(sorted(known)[:5]) + (", ..." if len(known) > 5 else "")
    return (
        f"site '{site}' is not in the model's history (it knows {listed or 'no site'}): "
        "nothing to judge its load and track record by. Refresh the model once the site's "
        "orders are in the order store (ordercast ingest, then ordercast refresh risk)"
    )
