"""Every command that reads a file answers any file with exit 0 (it worked) or 2 (a message
saying what is wrong), never 1 (an unexpected failure): hypothesis writes the files (#16).

Files are near-misses of the contract: columns missing or renamed, dates in other formats or
not dates, quantities negative, NaN, huge or text, ids repeated or blank, rows that are too
short or too long, bytes that are not UTF-8 at all."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting.contract import REQUIRED_COLUMNS
from ordercast.cli import main

DATES = st.one_of(
    st.dates(min_value=date(2023, 1, 1), max_value=date(2024, 12, 31)).map(str),
    st.sampled_from(["", "2024-02-30", "31/12/2024", "yesterday", "0", "1e9", "2024-13-01"]),
)
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 50).map(str),
    st.sampled_from(["", "NaN", "-1", "1e308", "twelve", "3,5"]),
)
VALUES = {
    "order_id": st.sampled_from(["O1", "O2", "O3", ""]),
    "line_id": st.sampled_from(["L1", "L2", "L3", "L4", "L5", ""]),
    "sku": st.one_of(st.sampled_from(["SKU-1", "SKU-2"]), TEXT),
    "site": st.sampled_from(["SITE-1", "SITE-2", ""]),
    "order_date": DATES,
    "promised_date": DATES,
    "ship_date": DATES,
    "delivered_date": DATES,
    "quantity": NUMBERS,
    "channel": TEXT,
}


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@st.composite
def order_files(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # now and then, bytes that are no CSV at all
        return draw(st.binary(max_size=300))
    columns = draw(
        st.lists(st.sampled_from(sorted(VALUES)), min_size=0, max_size=len(VALUES), unique=True)
    )
    if draw(st.booleans()):  # usually every required column, so the checks go deeper
        columns = list(dict.fromkeys([*REQUIRED_COLUMNS, *columns]))
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        cells = [draw(VALUES[column]) for column in columns]
        if cells and draw(st.integers(0, 15)) == 0:  # a ragged row
            cells = cells[: draw(st.integers(0, len(cells)))] + draw(st.lists(TEXT, max_size=2))
        rows.append(",".join(_quote(cell) for cell in cells))
    return "\n".join([",".join(columns), *rows]).encode()


SERIES_FILES = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.tuples(st.sampled_from(["a", "b", ""]), DATES, NUMBERS), min_size=0, max_size=40
    ).map(
        lambda rows: (
            "series_id,ds,y\n" + "\n".join(",".join(_quote(c) for c in row) for row in rows)
        ).encode()
    ),
)

FUZZ = settings(
    max_examples=int(os.environ.get("ORDERCAST_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _exit_code(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def _check(code: int, err: str, content: bytes) -> None:
    assert code in (0, 2), f"exit {code}: {err}\nfile: {content[:400]!r}"
    if code == 2:
        assert err.strip(), "exit 2 must say what is wrong"


@pytest.fixture(scope="module")
def folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="ordercast-fuzz-"))


# Each command as a user types it: {file} is the fuzzed file, {out} an output path.
ORDER_COMMANDS = {
    "validate": ["validate", "{file}"],
    "series": ["series", "{file}", "--by", "sku", "--freq", "W", "--out", "{out}"],
    "series-monthly": ["series", "{file}", "--by", "sku,site", "--freq", "M", "--out", "{out}"],
    "ingest": ["ingest", "{file}"],
    "risk score": ["risk", "score", "{file}", "--as-of", "2024-06-01", "--out", "{out}"],
}
SERIES_COMMANDS = {
    "forecast": ["forecast", "{file}", "--horizon", "2", "--out", "{out}"],
    "backtest": ["backtest", "{file}", "--horizon", "2", "--out", "{out}"],
}


def _run_on(folder: Path, command: list[str], content: bytes) -> None:
    path, out = folder / "input.csv", folder / "output.csv"
    path.write_bytes(content)
    args = [part.format(file=path, out=out) for part in command]
    _check(*_exit_code(*args), content)


@pytest.mark.parametrize("name", ORDER_COMMANDS)
@FUZZ
@given(content=order_files())
def test_commands_reading_order_lines(folder: Path, name: str, content: bytes) -> None:
    _run_on(folder, ORDER_COMMANDS[name], content)


@pytest.mark.parametrize("name", SERIES_COMMANDS)
@FUZZ
@given(content=SERIES_FILES)
def test_commands_reading_series(folder: Path, name: str, content: bytes) -> None:
    _run_on(folder, SERIES_COMMANDS[name], content)


def test_a_ragged_row_that_repeats_index_labels_is_reported_not_a_crash(folder: Path) -> None:
    """Found by the fuzz test: one row longer than the header makes pandas index the file by
    its first field, so the labels repeat; date parsing went by label and crashed (exit 1)."""
    content = (
        b"order_id,line_id,sku,site,order_date,promised_date,quantity,delivered_date\n"
        b'"O1","L1","SKU-1","SITE-1","","","0.0","",""\n'
        b'"O1","L1","SKU-1","SITE-1","2023-01-01","2023-01-01","0.0","2023-01-01"\n'
    )
    for name in ("validate", "ingest"):
        _run_on(folder, ORDER_COMMANDS[name], content)
