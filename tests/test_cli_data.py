"""The data commands end to end: exit codes, messages, files written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ordercast.cli import main

HEADER = "order_id,line_id,sku,site,order_date,promised_date,delivered_date,quantity\n"
ROWS = (
    "o1,l1,SKU-1,A,2024-01-02,2024-01-05,2024-01-04,3\n"
    "o1,l2,SKU-2,A,2024-01-02,2024-01-06,,1.5\n"
    "o2,l3,SKU-1,B,2024-01-04,2024-01-08,2024-01-09,10\n"
)


@pytest.fixture()
def good_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + ROWS)
    return path


def test_validate_exits_0_on_valid_data(good_csv: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(good_csv)]) == 0
    out = capsys.readouterr().out
    assert "valid — 3 order lines, 2 SKUs, 2 sites" in out
    assert "1 open" in out


def test_validate_exits_2_listing_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + ROWS + "o3,l3,SKU-1,B,2024-01-04,2024-01-08,,-2\n")
    report = tmp_path / "problems.csv"
    assert main(["validate", str(path), "--report", str(report)]) == 2
    err = capsys.readouterr().err
    assert "2 problems in the order history" in err
    assert "line 5, column 'line_id': duplicate line_id 'l3' (first seen on line 4)" in err
    assert "line 5, column 'quantity': quantity -2 must be greater than 0" in err
    assert "Traceback" not in err
    assert pd.read_csv(report)["row"].tolist() == [5, 5]


def test_bad_configuration_is_exit_2_not_a_traceback(
    good_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["validate", str(good_csv), "--mapping", str(tmp_path / "none.yaml")]) == 2
    assert "mapping file" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.csv")]) == 2
    assert main(["no-such-command"]) == 2


def test_series_writes_the_long_frame(good_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "series.csv"
    assert main(["series", str(good_csv), "--by", "site", "--freq", "D", "--out", str(out)]) == 0
    frame = pd.read_csv(out, parse_dates=["ds"])
    assert {"series_id", "ds", "y", "site"} <= set(frame.columns)
    assert frame["y"].sum() == pytest.approx(14.5)
    by_site = frame.groupby("site")["y"].sum().to_dict()
    assert by_site == {"A": 4.5, "B": 10.0}


def test_generate_writes_history_and_capacity_calendar(tmp_path: Path) -> None:
    out = tmp_path / "demo.csv.gz"
    code = main(["generate", "--out", str(out), "--sites", "2", "--skus", "20", "--days", "60"])
    assert code == 0
    orders = pd.read_csv(out)
    capacity = pd.read_csv(tmp_path / "demo-capacity.csv")
    assert {"order_id", "line_id", "promised_date", "quantity"} <= set(orders.columns)
    assert set(capacity.columns) >= {"site", "date", "capacity_units"}
    assert main(["validate", str(out)]) == 0  # what we generate meets our own contract
    # A negative seed was exit 1, "unexpected failure: ValueError: expected non-negative".
    assert main(["generate", "--out", str(tmp_path / "other.csv"), "--seed", "-1"]) == 2


@pytest.mark.slow  # starts the console script in several processes
def test_console_script_help_and_unexpected_failure_exit_codes(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "ordercast"
    shown = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0
    for command in ("generate", "validate", "series"):
        assert command in shown.stdout
    sub = subprocess.run([script, "series", "--help"], capture_output=True, text=True, check=False)
    assert sub.returncode == 0 and "--measure" in sub.stdout


def test_output_files_get_the_users_umask(good_csv: Path, tmp_path: Path) -> None:
    import os

    out = tmp_path / "series.csv"
    previous = os.umask(0o022)
    try:
        assert main(["series", str(good_csv), "--by", "sku", "--freq", "D", "--out", str(out)]) == 0
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("command", "content", "says"),
    [
        ("validate {file}", HEADER.encode(), "no order lines"),
        ("train all --dry-run --data {file}", HEADER.encode(), "no order lines"),
        ("forecast {file} --horizon 2 --out {out}", b"", "is empty"),
        ("forecast {file} --horizon 2 --out {out}", b"\x00garbage\xff\n", "cannot read"),
    ],
)
def test_empty_and_garbage_files_are_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture, command: str, content: bytes, says: str
) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    args = command.format(file=path, out=tmp_path / "out.csv").split()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_series_drops_a_partial_first_month_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # Orders from 2024-01-15: January held half a month, read as a slump at the start.
    rows = [
        f"o{d},l{d},SKU-1,A,{day:%Y-%m-%d},{day:%Y-%m-%d},{day:%Y-%m-%d},2\n"
        for d, day in enumerate(pd.date_range("2024-01-15", "2024-03-31"))
    ]
    path, out = tmp_path / "orders.csv", tmp_path / "monthly.csv"
    path.write_text(HEADER + "".join(rows))
    args = ["series", str(path), "--by", "sku", "--freq", "MS", "--out", str(out)]
    assert main(args) == 0
    assert "dropped the first period (2024-01-01): the data start on 2024-01-15" in (
        capsys.readouterr().out
    )
    assert pd.read_csv(out)["ds"].tolist() == ["2024-02-01", "2024-03-01"]
    assert main([*args, "--keep-partial"]) == 0
    assert pd.read_csv(out)["y"].tolist() == [34.0, 58.0, 62.0]
