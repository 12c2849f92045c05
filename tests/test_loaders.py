"""The three loaders (CSV, Parquet, SQL), mappings, and the SCMS mapping on the real file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from forecasting.errors import ConfigError, DataContractError
from forecasting.loaders import load_mapping, load_orders, load_orders_with_issues

CANONICAL = pd.DataFrame(
    {
        "order_id": ["o1", "o1", "o2"],
        "line_id": ["l1", "l2", "l3"],
        "sku": ["SKU-1", "SKU-2", "SKU-1"],
        "site": ["A", "A", "B"],
        "order_date": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03"]),
        "promised_date": pd.to_datetime(["2024-01-05", "2024-01-06", "2024-01-08"]),
        "delivered_date": pd.to_datetime(["2024-01-04", None, "2024-01-09"]),
        "quantity": [3.0, 1.5, 10.0],
        "carrier": ["UPS", "DHL", "UPS"],
    }
)


def core(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[CANONICAL.columns].reset_index(drop=True)


def test_csv_gzip_and_parquet_give_the_same_frame(tmp_path: Path) -> None:
    CANONICAL.to_csv(tmp_path / "o.csv", index=False)
    CANONICAL.to_csv(tmp_path / "o.csv.gz", index=False, compression="gzip")
    CANONICAL.to_parquet(tmp_path / "o.parquet", index=False)
    frames = [load_orders(tmp_path / name) for name in ("o.csv", "o.csv.gz", "o.parquet")]
    for frame in frames:
        pd.testing.assert_frame_equal(core(frame), core(frames[0]))
    pd.testing.assert_frame_equal(core(frames[2]), CANONICAL, check_dtype=False)
    assert frames[0]["carrier"].tolist() == ["UPS", "DHL", "UPS"]  # attributes are kept


def test_parquet_rows_are_reported_as_record_numbers(tmp_path: Path) -> None:
    bad = CANONICAL.assign(quantity=[3.0, -1.0, 2.0])
    bad.to_parquet(tmp_path / "o.parquet", index=False)
    with pytest.raises(DataContractError, match=r"row 2, column 'quantity': quantity -1 must"):
        load_orders(tmp_path / "o.parquet")


def test_sqlite_table_and_query(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    with sqlite3.connect(db) as connection:
        CANONICAL.assign(
            order_date=CANONICAL["order_date"].dt.strftime("%Y-%m-%d"),
            promised_date=CANONICAL["promised_date"].dt.strftime("%Y-%m-%d"),
            delivered_date=CANONICAL["delivered_date"].dt.strftime("%Y-%m-%d"),
        ).to_sql("orders", connection, index=False)
    frame = load_orders(f"sqlite:///{db}")
    pd.testing.assert_frame_equal(core(frame), CANONICAL, check_dtype=False)

    mapping = tmp_path / "m.yaml"
    mapping.write_text("sql:\n  query: SELECT * FROM orders WHERE site = 'A'\n")
    assert load_orders(f"sqlite:///{db}", mapping)["line_id"].tolist() == ["l1", "l2"]

    missing_table = tmp_path / "t.yaml"
    missing_table.write_text("sql:\n  table: order_lines\n")
    with pytest.raises(ConfigError, match=r"has no table 'order_lines' \(tables: orders\)"):
        load_orders(f"sqlite:///{db}", missing_table)


def test_mapping_renames_parses_formats_fills_and_derives(tmp_path: Path) -> None:
    export = pd.DataFrame(
        {
            "Order No": ["A-1", "A-1", "A-2"],
            "Line": [1, 2, 3],
            "Item": ["x", "y", "x"],
            "Warehouse": ["W1", "W1", "W2"],
            "Ordered": ["02/01/24", "", "03/01/24"],
            "Due": ["05-Jan-24", "06-Jan-24", "08-Jan-24"],
            "Arrived": ["04-Jan-24", "unknown", "10-Jan-24"],
            "Qty": ["3", "1.5", "10"],
            "Weight (kg)": ["12", "see note", "4"],
        }
    )
    export.to_csv(tmp_path / "export.csv", index=False)
    (tmp_path / "m.yaml").write_text(
        """
name: erp
columns:
  order_id: Order No
  line_id: Line
  sku: Item
  site: Warehouse
  order_date: Ordered
  promised_date: Due
  delivered_date: Arrived
  quantity: Qty
constants: {channel: b2b}
date_formats: ["%d-%b-%y", "%d/%m/%y"]
missing_values: [unknown]
fallbacks:
  order_date: {from: promised_date, days: -4}
derived:
  late: {kind: late, tolerance_days: 1}
numeric_attributes: [weight_kg]
attribute_names: snake_case
"""
    )
    frame = load_orders(tmp_path / "export.csv", tmp_path / "m.yaml")
    assert frame["order_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-02",
        "2024-01-02",  # filled: promised 2024-01-06 minus 4 days
        "2024-01-03",
    ]
    assert frame["order_date_imputed"].tolist() == [False, True, False]
    assert frame["channel"].unique().tolist() == ["b2b"]
    assert frame["delivered_date"].isna().tolist() == [False, True, False]
    # 10 Jan against a promise of 8 Jan + 1 day tolerance is late; the open line is unknown.
    assert frame["late"].tolist()[0] is False and frame["late"].tolist()[2] is True
    assert pd.isna(frame["late"].iloc[1])
    assert frame["weight_kg"].tolist()[0] == 12.0 and pd.isna(frame["weight_kg"].iloc[1])


def test_bad_mapping_files_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  quantiy: Qty\n")
    with pytest.raises(ConfigError, match=r"columns: Value error, unknown canonical column\(s\)"):
        load_mapping(path)
    path.write_text("columns: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mapping(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_mapping(tmp_path / "nope.yaml")


def test_mapping_from_absent_column_lists_the_columns_present(tmp_path: Path) -> None:
    CANONICAL.to_csv(tmp_path / "o.csv", index=False)
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  sku: Item Code\n")
    with pytest.raises(ConfigError, match=r"from column\(s\) \['Item Code'\] .* Columns present: "):
        load_orders(tmp_path / "o.csv", path)


def test_scms_mapping_on_the_real_file(scms_path: Path, scms_mapping: Path) -> None:
    frame = load_orders(scms_path, scms_mapping)
    # 10,324 lines, of which the mapping drops the ~4% whose order date follows delivery.
    assert 9_500 <= len(frame) < 10_324
    assert frame["line_id"].is_unique
    assert (frame["promised_date"] >= frame["order_date"]).all()
    assert set(frame["site"]) == {"Direct Drop", "From RDC"}
    assert frame["region"].nunique() >= 40
    assert frame["promised_date"].min().year == 2006
    assert frame["promised_date"].max().year == 2015
    # The README's figure: about 11.5% of lines delivered after their scheduled date.
    assert frame["late"].astype(float).mean() == pytest.approx(0.115, abs=0.01)
    for attribute in ("vendor", "shipment_mode", "product_group", "weight_kilograms"):
        assert attribute in frame.columns
    assert frame["weight_kilograms"].dtype == float


def test_dropped_rows_are_reported_with_their_issues(tmp_path: Path) -> None:
    bad = CANONICAL.astype({"quantity": object})
    bad.loc[1, "quantity"] = -2
    bad.to_csv(tmp_path / "o.csv", index=False)
    (tmp_path / "drop.yaml").write_text("invalid_rows: drop\n")
    orders, dropped = load_orders_with_issues(tmp_path / "o.csv", tmp_path / "drop.yaml")
    assert list(orders["line_id"]) == ["l1", "l3"]
    assert len(dropped) == 1
    assert dropped.iloc[0]["row"] == 3 and dropped.iloc[0]["column"] == "quantity"
    CANONICAL.to_csv(tmp_path / "good.csv", index=False)
    _, none_dropped = load_orders_with_issues(tmp_path / "good.csv")
    assert none_dropped.empty
