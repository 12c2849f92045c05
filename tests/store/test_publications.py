"""Published forecasts and their expectations round-trip through the store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from store.database import OrderStore
from store.publications import (
    publish_forecasts,
    read_expectations,
    read_publications,
    read_published_forecasts,
)


def _forecasts() -> pd.DataFrame:
    ds = pd.date_range("2024-03-03", periods=4, freq="W-SUN")
    rows = []
    for series in ("sku=A/site=S1", "sku=B/site=S1"):
        for lag, day in enumerate(ds, start=1):
            rows.append(("sku,site", series, day, lag, "ets", 10.0 + lag, 7.5, 10.0, 13.25))
    columns = ["level", "series_id", "ds", "lag", "model", "mean", "q10", "q50", "q90"]
    return pd.DataFrame(rows, columns=columns)


EXPECTATIONS = pd.DataFrame(
    {"level": ["sku,site", "sku,site"], "lag": [1, 2], "wape": [0.2, 0.25], "mase": [0.9, 1.0]}
).assign(coverage80=[0.8, np.nan])


def test_a_publication_reads_back_as_it_was_published(store: OrderStore) -> None:
    forecasts = _forecasts()
    first = publish_forecasts(
        store,
        kind="train",
        model_name="ordercast-demand",
        model_version="3",
        parent_version=None,
        origin=pd.Timestamp("2024-02-25"),
        freq="W-SUN",
        forecasts=forecasts,
        expectations=EXPECTATIONS,
    )
    second = publish_forecasts(
        store,
        kind="refresh",
        model_name="ordercast-demand",
        model_version="4",
        parent_version="3",
        origin=pd.Timestamp("2024-03-03"),
        freq="W-SUN",
        forecasts=forecasts.assign(mean=forecasts["mean"] + 1),
        expectations=EXPECTATIONS.iloc[:0],
    )

    books = read_publications(store)
    assert books["id"].tolist() == [first, second]
    assert books["kind"].tolist() == ["train", "refresh"]
    assert books["parent_version"].tolist() == [None, "3"]
    assert books["origin"].tolist() == [pd.Timestamp("2024-02-25"), pd.Timestamp("2024-03-03")]

    back = read_published_forecasts(store, publication_ids=[first])
    assert back["ds"].dtype == "datetime64[ns]" and back["origin"].dtype == "datetime64[ns]"
    assert (back["model_version"] == "3").all() and (back["kind"] == "train").all()
    columns = ["level", "series_id", "ds", "lag", "model", "mean", "q10", "q50", "q90"]
    pd.testing.assert_frame_equal(back[columns], forecasts, check_dtype=False)
    later = read_published_forecasts(store, since=pd.Timestamp("2024-03-17"))
    assert set(later["publication_id"]) == {first, second} and len(later) == 8
    assert (later["ds"] >= pd.Timestamp("2024-03-17")).all()

    expected = read_expectations(store)
    assert expected["publication_id"].tolist() == [first, first]
    assert expected["wape"].tolist() == [0.2, 0.25]
    assert np.isnan(expected["coverage80"].iloc[1])


def test_a_repeated_period_is_refused_before_anything_is_written(store: OrderStore) -> None:
    forecasts = pd.concat([_forecasts(), _forecasts().iloc[:1]])
    with pytest.raises(ConfigError, match="twice"):
        publish_forecasts(
            store,
            kind="train",
            model_name="ordercast-demand",
            model_version="1",
            parent_version=None,
            origin=pd.Timestamp("2024-02-25"),
            freq="W-SUN",
            forecasts=forecasts,
            expectations=EXPECTATIONS,
        )
    assert read_publications(store).empty and read_published_forecasts(store).empty
