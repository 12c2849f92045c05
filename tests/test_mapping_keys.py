"""Mappings that build ids: ``{join: [...]}`` and ``{number_within: ...}`` (issue #22 item 1).

An ERP export with no line id of its own (lines keyed by OrderNo + LineNo, odd column names)
goes through the real CLI; the ids built are the ones the README documents.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from forecasting.errors import ConfigError
from forecasting.loaders import load_mapping, load_orders
from ordercast.cli import main

# SO123's lines are not contiguous and its line numbers go 10, 20, 30 as in SAP exports:
# number_within must count in file order, join must keep the export's own numbers.
EXPORT = (
    "Company,OrderNo,LineNo,Item Code,Ship From,Order Dt,Due Dt,Qty Ordered\n"
    "C1,SO123,10,A-1,P1,2024-01-02,2024-01-05,3\n"
    "C1,SO123,20,A-2,P1,2024-01-02,2024-01-06,1\n"
    "C1,SO124,10,A-1,P2,2024-01-03,2024-01-07,5\n"
    "C1,SO123,30,A-3,P1,2024-01-02,2024-01-08,2\n"
    "C2,SO123,10,A-1,P2,2024-01-04,2024-01-09,4\n"
)
OTHER_COLUMNS = """\
  sku: Item Code
  site: Ship From
  order_date: Order Dt
  promised_date: Due Dt
  quantity: Qty Ordered
"""


@pytest.fixture()
def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(EXPORT)
    return path


def write_mapping(folder: Path, keys: str, extra: str = "") -> Path:
    path = folder / "map.yaml"
    path.write_text(f"name: erp\ncolumns:\n{keys}{OTHER_COLUMNS}{extra}")
    return path


@pytest.mark.parametrize(
    ("keys", "order_ids", "line_ids"),
    [
        (
            "  order_id: OrderNo\n  line_id: {join: [Company, OrderNo, LineNo]}\n",
            ["SO123", "SO123", "SO124", "SO123", "SO123"],
            ["C1-SO123-10", "C1-SO123-20", "C1-SO124-10", "C1-SO123-30", "C2-SO123-10"],
        ),
        (
            "  order_id: {join: [Company, OrderNo]}\n"
            "  line_id: {number_within: [Company, OrderNo]}\n",
            ["C1-SO123", "C1-SO123", "C1-SO124", "C1-SO123", "C2-SO123"],
            ["C1-SO123-1", "C1-SO123-2", "C1-SO124-1", "C1-SO123-3", "C2-SO123-1"],
        ),
        (
            "  order_id: {join: [Company, OrderNo], separator: /}\n"
            "  line_id: {number_within: [Company, OrderNo], separator: /}\n",
            ["C1/SO123", "C1/SO123", "C1/SO124", "C1/SO123", "C2/SO123"],
            ["C1/SO123/1", "C1/SO123/2", "C1/SO124/1", "C1/SO123/3", "C2/SO123/1"],
        ),
    ],
    ids=["join", "number_within", "separator"],
)
def test_built_ids_validate_and_are_as_documented(
    export: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    keys: str,
    order_ids: list[str],
    line_ids: list[str],
) -> None:
    mapping = write_mapping(tmp_path, keys)
    assert main(["validate", str(export), "--mapping", str(mapping)]) == 0
    assert "valid — 5 order lines" in capsys.readouterr().out
    frame = load_orders(export, mapping)
    assert frame["order_id"].tolist() == order_ids
    assert frame["line_id"].tolist() == line_ids
    assert frame["line_id"].is_unique


def test_the_short_forms_of_the_issue(export: Path, tmp_path: Path) -> None:
    """The two snippets the README and the error messages show, verbatim."""
    single = tmp_path / "single.csv"
    single.write_text(
        "".join(line for line in EXPORT.splitlines(True) if not line.startswith("C2"))
    )
    for keys, expected in [
        ("{join: [OrderNo, LineNo]}", ["SO123-10", "SO123-20", "SO124-10", "SO123-30"]),
        ("{number_within: OrderNo}", ["SO123-1", "SO123-2", "SO124-1", "SO123-3"]),
    ]:
        mapping = write_mapping(tmp_path, f"  order_id: OrderNo\n  line_id: {keys}\n")
        assert main(["validate", str(single), "--mapping", str(mapping)]) == 0
        assert load_orders(single, mapping)["line_id"].tolist() == expected


def test_built_ids_reach_series_and_the_order_store(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = write_mapping(
        tmp_path, "  order_id: {join: [Company, OrderNo]}\n  line_id: {number_within: OrderNo}\n"
    )
    out = tmp_path / "series.csv"
    args = ["series", str(export), "-m", str(mapping), "--by", "", "--measure", "orders"]
    assert main([*args, "--freq", "D", "--out", str(out), "--keep-partial"]) == 0
    # Distinct orders per day: C1-SO123 on the 2nd, C1-SO124 on the 3rd, C2-SO123 on the 4th.
    assert pd.read_csv(out)["y"].tolist() == [1.0, 1.0, 1.0]

    url = f"sqlite:///{tmp_path / 'orders.db'}"
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", url)
    assert main(["ingest", str(export), "--mapping", str(mapping)]) == 0
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT line_id FROM order_lines")).scalars().all()
    engine.dispose()
    # number_within counts within OrderNo alone: SO123 has four lines across both companies.
    assert sorted(stored) == ["SO123-1", "SO123-2", "SO123-3", "SO123-4", "SO124-1"]
    assert main(["ingest", str(export), "--mapping", str(mapping)]) == 0  # same ids: no change


@pytest.mark.parametrize("line_id", ["OrderNo", "[OrderNo, LineNo]"])
def test_one_column_that_repeats_still_fails_and_says_how_to_build_the_id(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture, line_id: str
) -> None:
    """A list still means "first non-missing", so it does not join: both give duplicates."""
    mapping = write_mapping(tmp_path, f"  order_id: OrderNo\n  line_id: {line_id}\n")
    assert main(["validate", str(export), "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "line 3, column 'line_id': duplicate line_id 'SO123' (first seen on line 2)" in err
    assert "line_id: {join: [OrderNo, LineNo]} or line_id: {number_within: OrderNo}" in err
    assert "Traceback" not in err


def test_no_line_id_at_all_shows_the_two_forms(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    mapping = write_mapping(tmp_path, "  order_id: OrderNo\n")
    assert main(["validate", str(export), "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "missing required column(s): line_id." in err
    assert "line_id: {join: [OrderNo, LineNo]}" in err
    assert "line_id: {number_within: OrderNo}" in err


def test_an_empty_part_is_reported_on_its_line_or_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "gaps.csv"
    lines = EXPORT.splitlines(True)
    path.write_text("".join([*lines[:3], lines[3].replace(",SO124,10,", ",SO124,,"), *lines[4:]]))
    keys = "  order_id: OrderNo\n  line_id: {join: [Company, OrderNo, LineNo]}\n"
    mapping = write_mapping(tmp_path, keys)
    assert main(["validate", str(path), "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "1 problem in the order history" in err
    assert (
        "line 4, column 'line_id': line_id is built by joining Company, OrderNo, LineNo "
        "(line_id: {join: [Company, OrderNo, LineNo]}), but LineNo is empty here" in err
    )
    dropping = write_mapping(tmp_path, keys, "invalid_rows: drop\n")
    assert load_orders(path, dropping)["line_id"].tolist() == [
        "C1-SO123-10",
        "C1-SO123-20",
        "C1-SO123-30",
        "C2-SO123-10",
    ]


@pytest.mark.parametrize(
    ("line_id", "expected"),
    [
        (
            "{joinn: [OrderNo, LineNo]}",
            "line_id: {joinn: ...}: unknown key(s) ['joinn'] (did you mean 'join'?)",
        ),
        ("[]", "line_id: [] names no column; write a column name"),
        (
            "{join: []}",
            "line_id: join needs a list of two or more columns, got []; "
            "write line_id: {join: [OrderNo, LineNo]}",
        ),
        ("{join: OrderNo}", "(for one column, write line_id: OrderNo)"),
        ("{number_within: []}", "write line_id: {number_within: OrderNo}"),
        ("{join: [OrderNo, LineNo], number_within: OrderNo}", "say either join or number_within"),
        ("{join: [OrderNo, LineNo], separator: ''}", "separator '' must be non-empty text"),
        ("{}", "line_id: {}: say either join or number_within"),
        ("12", "line_id: 12 is not a column"),
        (
            "{join: [OrderNo, Line No]}",
            "maps line_id {join: [OrderNo, Line No]} from column(s) ['Line No'] that the data "
            "does not have. Did you mean 'LineNo' for 'Line No'?",
        ),
        (
            "{number_within: Order}",
            "maps line_id {number_within: Order} from column(s) ['Order'] that the data does "
            "not have.",
        ),
    ],
)
def test_malformed_key_forms_are_exit_2_naming_the_entry(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture, line_id: str, expected: str
) -> None:
    mapping = write_mapping(tmp_path, f"  order_id: OrderNo\n  line_id: {line_id}\n")
    assert main(["validate", str(export), "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert "Traceback" not in err and "unexpected" not in err


def test_a_built_id_only_for_id_columns(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  quantity: {join: [Qty, Unit]}\n")
    with pytest.raises(ConfigError, match=r"quantity: \{join: \[Qty, Unit\]\} builds a text id"):
        load_mapping(path)


def test_the_shipped_example_mapping_reads_the_erp_shape(export: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "configs" / "mappings" / "erp-lines.yaml"
    frame = load_orders(export, example)
    assert frame["line_id"].tolist()[:2] == ["C1-SO123-10", "C1-SO123-20"]
    assert frame["line_id"].is_unique
