"""The order-history contract: every bad-input class, with the exact message a person reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.contract import validate_orders
from forecasting.errors import DataContractError
from forecasting.loaders import check_orders, load_orders

HEADER = "order_id,line_id,sku,site,order_date,promised_date,delivered_date,quantity\n"
GOOD_ROWS = [
    "o1,l1,SKU-1,A,2024-01-02,2024-01-05,2024-01-04,3",
    "o1,l2,SKU-2,A,2024-01-02,2024-01-06,,1.5",
    "o2,l3,SKU-1,B,2024-01-03,2024-01-08,2024-01-09,10",
]


def write_csv(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def messages(path: Path) -> list[str]:
    return [str(issue) for issue in check_orders(path).issues]


def test_valid_file_loads_with_canonical_types(tmp_path: Path) -> None:
    frame = load_orders(write_csv(tmp_path, GOOD_ROWS))
    assert len(frame) == 3
    assert frame["quantity"].dtype == float
    assert pd.api.types.is_datetime64_any_dtype(frame["promised_date"])
    assert frame["delivered_date"].isna().sum() == 1  # the open order stays open
    assert frame["line_id"].tolist() == ["l1", "l2", "l3"]


def test_missing_columns_lists_the_columns_present(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["o1,l1,2024-01-02,3"], header="order_id,line_id,order_date,qty\n")
    assert messages(path) == [
        "missing required column(s): sku, site, promised_date, quantity. Columns present: "
        "order_id, line_id, order_date, qty. Rename your columns or map them with a mapping "
        "file (--mapping)."
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,-4",
            "line 5, column 'quantity': quantity -4 must be greater than 0",
        ),
        (
            "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,0",
            "line 5, column 'quantity': quantity 0 must be greater than 0",
        ),
        (
            "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,twelve",
            "line 5, column 'quantity': 'twelve' is not a number; write a plain number such as "
            "12 or 3.5",
        ),
        (
            "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,NaN",
            "line 5, column 'quantity': 'NaN' is not a number; write a plain number such as "
            "12 or 3.5",
        ),
        (
            "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,",
            "line 5, column 'quantity': quantity is missing; every line needs a value here",
        ),
        (
            "o9,l9,SKU-1,A,2024-01-10,2024-01-05,,2",
            "line 5, column 'promised_date': promised_date 2024-01-05 is before order_date "
            "2024-01-10; fix one of the two dates",
        ),
        (
            "o9,l9,SKU-1,A,2024-01-10,2024-01-15,2024-01-09,2",
            "line 5, column 'delivered_date': delivered_date 2024-01-09 is before order_date "
            "2024-01-10; fix one of the two dates",
        ),
        (
            "o9,l9,SKU-1,A,2024-02-30,2024-03-05,,2",
            "line 5, column 'order_date': '2024-02-30' is not a date; write it as YYYY-MM-DD",
        ),
        (
            "o9,l2,SKU-1,A,2024-01-02,2024-01-05,,2",
            "line 5, column 'line_id': duplicate line_id 'l2' (first seen on line 3); every order "
            "line needs its own id (keyed by order and line number? map line_id: "
            "{join: [OrderNo, LineNo]} or line_id: {number_within: OrderNo})",
        ),
        (
            "o9,l9,,A,2024-01-02,2024-01-05,,2",
            "line 5, column 'sku': sku is missing; every line needs a value here",
        ),
        (
            "o9,l9,SKU-1,A,,2024-01-05,,2",
            "line 5, column 'order_date': order_date is missing; every line needs a date here",
        ),
    ],
)
def test_each_bad_input_class_names_line_column_and_fix(
    tmp_path: Path, row: str, expected: str
) -> None:
    assert messages(write_csv(tmp_path, [*GOOD_ROWS, row])) == [expected]


def test_all_problems_are_reported_at_once_in_file_order(tmp_path: Path) -> None:
    rows = [
        *GOOD_ROWS,
        "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,-1",
        "o9,l10,SKU-1,A,not-a-date,2024-01-05,,2",
        "o9,l1,SKU-1,A,2024-01-02,2024-01-05,,2",
    ]
    found = messages(write_csv(tmp_path, rows))
    assert [m.split(":")[0] for m in found] == [
        "line 5, column 'quantity'",
        "line 6, column 'order_date'",
        "line 7, column 'line_id'",
    ]


def test_load_orders_raises_with_every_issue_and_leaves_the_file_alone(tmp_path: Path) -> None:
    path = write_csv(tmp_path, [*GOOD_ROWS, "o9,l9,SKU-1,A,2024-01-02,2024-01-05,,-1"])
    before = path.read_bytes()
    with pytest.raises(DataContractError, match=r"1 problem in the order history") as caught:
        load_orders(path)
    assert caught.value.issues[0].row == 5
    assert path.read_bytes() == before


def test_validate_never_modifies_the_callers_frame() -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["o1"],
            "line_id": [1],
            "sku": ["s"],
            "site": ["A"],
            "order_date": ["2024-01-02"],
            "promised_date": ["2024-01-03"],
            "quantity": ["2"],
        }
    )
    copy = frame.copy()
    report = validate_orders(frame, row_offset=1, row_unit="row")
    assert report.ok
    pd.testing.assert_frame_equal(frame, copy)
    assert report.frame["line_id"].tolist() == ["1"]  # ids are text, not 1.0


def test_frames_from_python_report_record_numbers() -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["o1", "o2"],
            "line_id": ["a", "b"],
            "sku": ["s", "s"],
            "site": ["A", "A"],
            "order_date": pd.to_datetime(["2024-01-02", "2024-01-02"]),
            "promised_date": pd.to_datetime(["2024-01-03", "2024-01-03"]),
            "quantity": [1.0, float("inf")],
        }
    )
    issues = validate_orders(frame, row_offset=1, row_unit="row").issues
    assert [str(i) for i in issues] == [
        "row 2, column 'quantity': quantity inf must be a finite number"
    ]


def test_unreadable_and_empty_files_are_bad_input(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataContractError, match="is empty: no header, no rows"):
        load_orders(empty)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"this is not gzip")
    with pytest.raises(DataContractError, match=r"cannot read .* as CSV"):
        load_orders(broken)


@settings(max_examples=40, deadline=None)
@given(
    quantities=st.lists(
        st.one_of(
            st.floats(min_value=0.01, max_value=1e6),
            st.sampled_from([0.0, -1.0, -0.5, float("nan")]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_every_bad_quantity_is_reported_once_at_its_row(quantities: list[float]) -> None:
    n = len(quantities)
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "line_id": [f"l{i}" for i in range(n)],
            "sku": "s",
            "site": "A",
            "order_date": pd.Timestamp("2024-01-01"),
            "promised_date": pd.Timestamp("2024-01-03"),
            "quantity": quantities,
        }
    )
    report = validate_orders(frame, row_offset=1, row_unit="row")
    expected_rows = [i + 1 for i, q in enumerate(quantities) if not q > 0]
    assert [issue.row for issue in report.issues] == expected_rows
    assert all(issue.column == "quantity" for issue in report.issues)


def test_a_date_pandas_cannot_hold_says_so() -> None:
    from forecasting.contract import not_a_date_message

    message = not_a_date_message("0001-01-01", ())
    assert "outside the dates ordercast handles (1678 to 2261)" in message
    assert not_a_date_message("2024-13-01", ()).endswith("write it as YYYY-MM-DD")
