"""A site table limited to some sites and days holds the full table's values there."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.risk.site_load import site_table
from forecasting.synthetic import generate_orders


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return generate_orders(sites=3, skus=30, days=400, seed=5).orders


def test_limited_table_matches_the_full_one(history: pd.DataFrame) -> None:
    last = history["order_date"].max() - pd.Timedelta(days=20)
    full = site_table(history, last)
    sites = sorted(full.index.get_level_values("site").unique())
    asked = [sites[0], sites[-1]]
    dates = pd.DatetimeIndex([last, last - pd.Timedelta(days=45), last - pd.Timedelta(days=300)])
    limited = site_table(history, last, sites=asked, dates=dates)
    expected = full.loc[full.index.isin(pd.MultiIndex.from_product([asked, dates]))]
    assert len(limited) == len(asked) * len(dates)
    pd.testing.assert_frame_equal(
        limited.sort_index(), expected.sort_index(), check_exact=False, rtol=1e-12
    )


def test_a_day_before_any_flow_or_an_unknown_site_gives_no_rows(history: pd.DataFrame) -> None:
    last = history["order_date"].max()
    early = pd.DatetimeIndex([history["order_date"].min() - pd.Timedelta(days=10)])
    assert site_table(history, last, sites=["SITE-1"], dates=early).empty
    assert site_table(history, last, sites=["NO-SUCH-SITE"]).empty
