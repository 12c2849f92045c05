"""The synthetic order history: deterministic, valid, realistic, and true to its capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.contract import validate_orders
from forecasting.synthetic import DEMAND_CLASSES, capacity_path_for, generate_orders


@pytest.fixture(scope="module")
def history():
    return generate_orders(sites=2, skus=60, days=240, seed=11)


def adi_cv2_classes(orders: pd.DataFrame) -> pd.Series:
    """Syntetos–Boylan class of each SKU's daily demand (computed independently of the library)."""
    days = pd.date_range(orders["order_date"].min(), orders["order_date"].max(), freq="D")
    daily = (
        orders.groupby(["sku", "order_date"], observed=True)["quantity"]
        .sum()
        .unstack(fill_value=0.0)
        .reindex(columns=days, fill_value=0.0)
    )
    values = daily.to_numpy()
    nonzero = values > 0
    adi = values.shape[1] / np.maximum(nonzero.sum(axis=1), 1)
    sizes = np.where(nonzero, values, np.nan)
    cv2 = (np.nanstd(sizes, axis=1) / np.nanmean(sizes, axis=1)) ** 2
    label = np.where(
        adi < 1.32,
        np.where(cv2 < 0.49, "smooth", "erratic"),
        np.where(cv2 < 0.49, "intermittent", "lumpy"),
    )
    return pd.Series(label, index=daily.index)


def test_same_seed_same_history_other_seed_other_history(history) -> None:
    again = generate_orders(sites=2, skus=60, days=240, seed=11)
    pd.testing.assert_frame_equal(history.orders, again.orders)
    pd.testing.assert_frame_equal(history.capacity, again.capacity)
    other = generate_orders(sites=2, skus=60, days=240, seed=12)
    assert not other.orders["quantity"].equals(history.orders["quantity"])


def test_meets_the_contract(history) -> None:
    report = validate_orders(history.orders, row_offset=1, row_unit="row")
    assert report.ok, report.issues[:5]
    orders = history.orders
    assert (orders["quantity"] > 0).all()
    assert (orders["promised_date"] >= orders["order_date"]).all()
    shipped = orders["ship_date"].notna()
    assert (orders.loc[shipped, "ship_date"] >= orders.loc[shipped, "order_date"]).all()
    delivered = orders["delivered_date"].notna()
    assert (orders.loc[delivered, "delivered_date"] >= orders.loc[delivered, "ship_date"]).all()
    assert orders["line_id"].is_unique


def test_shipped_units_never_exceed_the_true_capacity(history) -> None:
    shipped = history.orders.dropna(subset=["ship_date"])
    per_day = shipped.groupby(["site", "ship_date"], observed=True)["quantity"].sum()
    capacity = history.capacity.set_index(["site", "date"])["capacity_units"]
    assert (per_day <= capacity.reindex(per_day.index)).all()
    # ... and the capacity binds: some days ship (almost) all of it.
    utilisation = per_day / capacity.reindex(per_day.index)
    assert (utilisation > 0.9).sum() >= 10


def test_site_queue_conserves_work(history) -> None:
    daily = history.site_daily.sort_values(["site", "date"])
    change = daily.groupby("site")["backlog_units"].diff().fillna(daily["backlog_units"])
    np.testing.assert_allclose(change, daily["released_units"] - daily["shipped_units"], atol=1e-6)
    released = history.orders.groupby("site", observed=True)["quantity"].sum()
    assert np.allclose(daily.groupby("site")["released_units"].sum(), released)
    assert (daily["backlog_units"] >= -1e-9).all()


def test_all_four_demand_classes_are_present(history) -> None:
    found = adi_cv2_classes(history.orders)
    assert set(found) == set(DEMAND_CLASSES)
    intended = history.sku_classes.set_index("sku")["demand_class"].reindex(found.index)
    assert (found == intended).mean() > 0.8  # the generator hits the class it aims for


def test_open_and_late_orders_exist_and_lateness_follows_backlog(history) -> None:
    orders = history.orders
    end = orders["order_date"].max()
    open_lines = orders["delivered_date"].isna()
    assert open_lines.sum() > 0
    assert (orders.loc[open_lines, "order_date"] >= end - pd.Timedelta(days=60)).mean() > 0.9
    delivered = orders[~open_lines]
    late = delivered["delivered_date"] > delivered["promised_date"]
    assert 0.02 < late.mean() < 0.3
    # Lines that waited longest to ship (a backlog) are late far more often.
    wait = (delivered["ship_date"] - delivered["order_date"]).dt.days
    assert late[wait >= wait.quantile(0.9)].mean() > 2 * late[wait <= wait.median()].mean()


def test_history_has_channels_promotions_holidays_and_seasonality(history) -> None:
    orders = history.orders
    assert set(orders["channel"]) == {"web", "retail", "b2b"}
    assert orders["customer"].nunique() > 100
    assert orders["promotion"].any()
    daily = orders.groupby("order_date")["quantity"].sum()
    weekday = daily.groupby(daily.index.dayofweek).mean()
    assert weekday.max() / weekday.min() > 1.15  # a weekly pattern
    july_4th = daily.get(pd.Timestamp("2024-07-04"))
    assert july_4th is not None and july_4th < 0.6 * daily.median()


def test_capacity_file_name() -> None:
    assert capacity_path_for("data/orders.csv.gz").as_posix() == "data/orders-capacity.csv"
    assert capacity_path_for("x.parquet").as_posix() == "x-capacity.csv"
