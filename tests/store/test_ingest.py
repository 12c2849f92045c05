"""Ingest into the order store, on SQLite and PostgreSQL: new, unchanged, updated, rejected."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from forecasting.errors import ConfigError
from forecasting.loaders import load_orders
from store.database import OrderStore
from store.ingest import ingest_records, ingest_source
from store.orders import count_lines, latest_batch, read_orders
from store.schema import ingest_batches, rejected_rows


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["order_date", "line_id"]).reset_index(drop=True)


def test_a_history_lands_once_and_reads_back_as_the_loader_gives_it(
    store: OrderStore, history_csv: Path
) -> None:
    first = ingest_source(store, history_csv)
    expected = load_orders(history_csv)
    assert not first.refused
    assert (first.new, first.updated, first.unchanged, first.rejected) == (len(expected), 0, 0, 0)
    assert count_lines(store) == len(expected)
    pd.testing.assert_frame_equal(_sorted(read_orders(store)), _sorted(expected), check_like=True)
    assert list(read_orders(store).columns) == list(expected.columns)

    again = ingest_source(store, history_csv)
    assert (again.new, again.updated, again.unchanged) == (0, 0, len(expected))
    assert "nothing changed (already ingested)" in again.describe()
    assert again.checksum == first.checksum
    batch = latest_batch(store)
    assert batch is not None and batch.id == first.batch_id and batch.new == len(expected)


def test_filled_delivered_dates_update_the_lines(
    store: OrderStore, history: pd.DataFrame, tmp_path: Path
) -> None:
    delivered = history.index[history["delivered_date"].notna()][:40]
    earlier = history.copy()
    earlier.loc[delivered, "delivered_date"] = pd.NaT
    earlier_csv, later_csv = tmp_path / "earlier.csv", tmp_path / "later.csv"
    earlier.to_csv(earlier_csv, index=False)
    history.to_csv(later_csv, index=False)
    ingest_source(store, earlier_csv)

    summary = ingest_source(store, later_csv)

    assert (summary.new, summary.updated, summary.unchanged) == (0, 40, len(history) - 40)
    assert "40 updated" in summary.describe()
    stored = read_orders(store).set_index("line_id")["delivered_date"]
    wanted = load_orders(later_csv).set_index("line_id")["delivered_date"]
    pd.testing.assert_series_equal(stored.sort_index(), wanted.sort_index())
    batch = latest_batch(store)
    assert batch is not None and batch.id == summary.batch_id and batch.updated == 40


def test_as_of_keeps_the_lines_ordered_by_then(store: OrderStore, history_csv: Path) -> None:
    ingest_source(store, history_csv)
    cut = pd.Timestamp("2024-02-01")
    expected = load_orders(history_csv)
    expected = expected[expected["order_date"] <= cut]
    pd.testing.assert_frame_equal(
        _sorted(read_orders(store, as_of=cut)), _sorted(expected), check_like=True
    )


def _with_bad_rows(history: pd.DataFrame, path: Path) -> Path:
    raw = history.astype({"quantity": object}).copy()
    raw.loc[3, "quantity"] = "lots"
    raw.loc[7, "promised_date"] = raw.loc[7, "order_date"] - pd.Timedelta(days=3)
    raw.to_csv(path, index=False)
    return path


def _rejected(store: OrderStore) -> list[dict]:
    with store.engine.connect() as connection:
        query = sa.select(rejected_rows).order_by(rejected_rows.c.id)
        return [dict(r) for r in connection.execute(query).mappings()]


def test_bad_rows_are_rejected_and_the_good_ones_land_when_the_mapping_says_drop(
    store: OrderStore, history: pd.DataFrame, tmp_path: Path
) -> None:
    source = _with_bad_rows(history, tmp_path / "bad.csv")
    mapping = tmp_path / "drop.yaml"
    mapping.write_text("invalid_rows: drop\n")

    summary = ingest_source(store, source, mapping)

    assert not summary.refused
    assert (summary.new, summary.rejected) == (len(history) - 2, 2)
    assert summary.first_rejected[0][:2] == (5, "quantity")  # CSV line 5 = position 3
    assert "'lots' is not a number" in summary.describe()
    rejected = _rejected(store)
    assert [(r["line"], r["column"]) for r in rejected] == [(5, "quantity"), (9, "promised_date")]
    assert rejected[0]["raw"]["quantity"] == "lots"
    assert rejected[0]["batch_id"] == summary.batch_id
    assert count_lines(store) == len(history) - 2


def test_one_bad_row_refuses_the_whole_batch_by_default_and_says_why(
    store: OrderStore, history: pd.DataFrame, history_csv: Path, tmp_path: Path
) -> None:
    ingest_source(store, history_csv)
    changed = history.copy()
    changed["quantity"] = changed["quantity"] + 1  # would update every line ...
    source = _with_bad_rows(changed, tmp_path / "bad.csv")  # ... but two rows are bad

    summary = ingest_source(store, source)

    assert summary.refused and summary.rejected == 2 and summary.new == 0
    assert "refused, nothing landed" in summary.describe()
    assert read_orders(store)["quantity"].sum() == pytest.approx(history["quantity"].sum())
    with store.engine.connect() as connection:
        status = connection.execute(
            sa.select(ingest_batches.c.status).where(ingest_batches.c.id == summary.batch_id)
        ).scalar_one()
    assert status == "refused"
    assert {r["batch_id"] for r in _rejected(store)} == {summary.batch_id}


def test_records_pushed_as_json_are_numbered_from_one(store: OrderStore) -> None:
    line = {
        "order_id": "O1",
        "line_id": "O1-1",
        "sku": "SKU-1",
        "site": "SITE-1",
        "order_date": "2024-03-01",
        "promised_date": "2024-03-05",
        "quantity": 4,
        "gift_wrap": True,
    }
    bad = {**line, "line_id": "O1-2", "quantity": -1}

    refused = ingest_records(store, [line, bad])
    assert refused.refused and refused.first_rejected[0][:2] == (2, "quantity")

    landed = ingest_records(store, [line])
    assert (landed.new, landed.rejected) == (1, 0)
    back = read_orders(store)
    assert back.loc[0, "quantity"] == 4.0 and bool(back.loc[0, "gift_wrap"]) is True
    assert ingest_records(store, [line]).unchanged == 1


def test_an_unreachable_store_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"cannot reach the order store at postgresql\+psycopg"):
        OrderStore.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(ConfigError) as caught:
        OrderStore.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(caught.value) and "ORDERCAST_DATABASE_URL" in str(caught.value)
