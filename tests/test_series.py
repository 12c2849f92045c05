"""Series building: totals preserved at every level, zeros filled, checked against SQL."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.errors import ConfigError
from forecasting.series import (
    TOTAL_ID,
    build_hierarchy,
    build_series,
    drop_partial_first_period,
    drop_partial_last_period,
    keys_from_series_id,
    series_id_for,
)

LINES = pd.DataFrame(
    {
        "order_id": ["a", "a", "b", "c", "d"],
        "sku": ["x", "y", "x", "x", "y"],
        "site": ["A", "A", "B", "A", "B"],
        "order_date": pd.to_datetime(
            ["2024-01-01", "2024-01-01", "2024-01-03", "2024-01-09", "2024-01-09"]
        ),
        "quantity": [1.0, 2.0, 3.0, 4.0, 5.0],
    }
)


@st.composite
def order_lines(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=60))
    return pd.DataFrame(
        {
            "order_id": draw(st.lists(st.sampled_from("abcdefgh"), min_size=n, max_size=n)),
            "sku": draw(st.lists(st.sampled_from(["s1", "s2", "s3"]), min_size=n, max_size=n)),
            "site": draw(st.lists(st.sampled_from(["A", "B"]), min_size=n, max_size=n)),
            "order_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(draw(st.lists(st.integers(0, 90), min_size=n, max_size=n)), unit="D"),
            "quantity": draw(
                st.lists(st.floats(0.5, 1000, allow_nan=False), min_size=n, max_size=n)
            ),
        }
    )


@settings(max_examples=60, deadline=None)
@given(lines=order_lines(), freq=st.sampled_from(["D", "W", "W-MON", "MS", "ME"]))
def test_totals_are_preserved_at_every_level(lines: pd.DataFrame, freq: str) -> None:
    frame = build_hierarchy(lines, freq=freq)
    totals = frame.groupby("level")["y"].sum()
    assert np.allclose(totals, lines["quantity"].sum())
    # Upper levels are exactly the sum of the bottom level, period by period.
    bottom = frame[frame["level"] == "sku,site"]
    by_site = bottom.groupby(["site", "ds"])["y"].sum()
    site = frame[frame["level"] == "site"].set_index(["site", "ds"])["y"]
    assert np.allclose(by_site.sort_index(), site.sort_index())
    # Every series covers the same periods, and each line's date lies in its period.
    periods = frame.groupby("series_id")["ds"].nunique()
    assert periods.nunique() == 1


def test_zeros_fill_periods_without_orders() -> None:
    frame = build_series(LINES, by=("sku", "site"), freq="D")
    assert frame["ds"].min() == pd.Timestamp("2024-01-01")
    assert frame["ds"].max() == pd.Timestamp("2024-01-09")
    assert len(frame) == 4 * 9  # four sku x site combinations, nine days each
    xa = frame[frame["series_id"] == "x|A"].set_index("ds")["y"]
    assert xa[pd.Timestamp("2024-01-01")] == 1.0
    assert xa[pd.Timestamp("2024-01-05")] == 0.0
    assert set(frame.columns) == {"series_id", "ds", "y", "sku", "site"}


def test_measures_count_units_lines_and_distinct_orders() -> None:
    weekly = {
        m: build_series(LINES, by=(), freq="W", measure=m) for m in ("quantity", "lines", "orders")
    }
    assert weekly["quantity"]["y"].tolist() == [6.0, 9.0]
    assert weekly["lines"]["y"].tolist() == [3.0, 2.0]
    assert weekly["orders"]["y"].tolist() == [2.0, 2.0]  # a and b, then c and d
    assert weekly["quantity"]["series_id"].unique().tolist() == [TOTAL_ID]
    # W labels each week by the Sunday that ends it, as pandas' resample does.
    assert weekly["quantity"]["ds"].dt.dayofweek.unique().tolist() == [6]


def test_matches_sql_group_by_oracle() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    lines = pd.DataFrame(
        {
            "order_id": rng.integers(0, 500, n).astype(str),
            "sku": rng.choice(["s1", "s2", "s3", "s4"], n),
            "site": rng.choice(["A", "B", "C"], n),
            "order_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 120, n), unit="D"),
            "quantity": rng.integers(1, 50, n).astype(float),
        }
    )
    ours = build_series(lines, by=("sku", "site"), freq="D", measure="orders")
    with sqlite3.connect(":memory:") as db:
        lines.assign(day=lines["order_date"].dt.strftime("%Y-%m-%d")).drop(
            columns="order_date"
        ).to_sql("lines", db, index=False)
        oracle = pd.read_sql_query(
            "SELECT sku, site, day, COUNT(DISTINCT order_id) AS y FROM lines "
            "GROUP BY sku, site, day",
            db,
        )
    oracle["ds"] = pd.to_datetime(oracle["day"])
    merged = ours.merge(oracle, on=["sku", "site", "ds"], how="left", suffixes=("", "_sql"))
    assert np.array_equal(merged["y"], merged["y_sql"].fillna(0.0))
    assert len(merged) == 4 * 3 * 120


def test_series_ids_round_trip() -> None:
    assert series_id_for({"site": "A", "sku": "x"}, ["sku", "site"]) == "x|A"
    assert keys_from_series_id("x|A", ["sku", "site"]) == {"sku": "x", "site": "A"}
    assert series_id_for({}, []) == TOTAL_ID


def test_bad_arguments_say_what_is_available() -> None:
    with pytest.raises(ConfigError, match=r"no column\(s\) \['warehouse'\]; available: order_id"):
        build_series(LINES, by=("warehouse",))
    with pytest.raises(ConfigError, match="unknown frequency 'fortnightly'"):
        build_series(LINES, freq="fortnightly")
    with pytest.raises(ConfigError, match="measure must be quantity, lines or orders"):
        build_series(LINES, measure="value")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"no column\(s\) \['ship_date'\]"):
        build_series(LINES, date_col="ship_date")


@pytest.mark.parametrize(
    ("freq", "labels", "last_date", "kept"),
    [
        ("W-SUN", ["2025-12-28", "2026-01-04"], "2025-12-30", 1),  # ends on a Tuesday
        ("W-SUN", ["2025-12-28", "2026-01-04"], "2026-01-04", 2),  # ends on the Sunday
        ("MS", ["2025-11-01", "2025-12-01"], "2025-12-15", 1),
        ("MS", ["2025-11-01", "2025-12-01"], "2025-12-31", 2),
        ("D", ["2025-12-29", "2025-12-30"], "2025-12-30", 2),
    ],
)
def test_a_partial_last_period_is_dropped(freq, labels, last_date, kept) -> None:
    frame = pd.DataFrame({"series_id": "a", "ds": pd.to_datetime(labels), "y": [5.0, 1.0]})
    out = drop_partial_last_period(frame, freq, pd.Timestamp(last_date))
    assert len(out) == kept


@pytest.mark.parametrize(
    ("freq", "labels", "first_date", "kept"),
    [
        ("W-SUN", ["2025-12-28", "2026-01-04"], "2025-12-24", 1),  # starts on a Wednesday
        ("W-SUN", ["2025-12-28", "2026-01-04"], "2025-12-22", 2),  # starts on the Monday
        ("MS", ["2025-11-01", "2025-12-01"], "2025-11-15", 1),
        ("MS", ["2025-11-01", "2025-12-01"], "2025-11-02", 2),  # a day of 30 missing: kept
        ("ME", ["2025-11-30", "2025-12-31"], "2025-11-15", 1),
        ("D", ["2025-12-29", "2025-12-30"], "2025-12-29", 2),
    ],
)
def test_a_partial_first_period_is_dropped(freq, labels, first_date, kept) -> None:
    # An export starting on the 15th made half a month the first period of every series.
    frame = pd.DataFrame({"series_id": "a", "ds": pd.to_datetime(labels), "y": [1.0, 5.0]})
    out = drop_partial_first_period(frame, freq, pd.Timestamp(first_date))
    assert len(out) == kept
    assert out["ds"].max() == pd.Timestamp(labels[-1])
