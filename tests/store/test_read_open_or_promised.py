"""read_open_or_promised_after: the open book and the recent promises without the whole
history (what the planner's overview and at-risk page read, api/web/figures.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from store.database import OrderStore
from store.ingest import ingest_source
from store.orders import last_order_date, read_open_or_promised_after, read_orders


def test_only_open_and_recently_promised_lines_are_read(
    store: OrderStore, history_csv: Path
) -> None:
    assert last_order_date(store) is None
    ingest_source(store, history_csv)
    every = read_orders(store)
    as_of = last_order_date(store)
    assert as_of == pd.Timestamp(every["order_date"].max())
    cut = as_of - pd.Timedelta(days=10)  # an as-of inside the history: lines after it left out
    after = cut - pd.Timedelta(days=14)
    delivered = every["delivered_date"]
    keep = (every["order_date"] <= cut) & (
        delivered.isna() | (delivered > cut) | (every["promised_date"] > after)
    )
    expected = every[keep].reset_index(drop=True)
    got = read_open_or_promised_after(store, cut, after)
    assert 0 < len(got) < len(every)
    pd.testing.assert_frame_equal(got, expected)
