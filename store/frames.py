"""Reading query results into frames, the one way the store's readers do."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from store.database import OrderStore


def read_frame(store: OrderStore, query: sa.Select, names: list[str]) -> pd.DataFrame:
    """The rows of ``query`` as a frame with columns ``names`` (typed empty columns when
    there are none, so callers can select and cast without a special case)."""
    with store.engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in names})
    return pd.DataFrame.from_records([tuple(row) for row in rows], columns=names)


def datetimes(values: pd.Series) -> pd.Series:
    """SQL dates (or None) as ``datetime64[ns]``, whatever the driver returned."""
    return pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")
