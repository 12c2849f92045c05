"""The order-history contract: one canonical order-line table, validated all at once.

:func:`validate_orders` coerces a frame to the canonical types and checks every
rule, collecting *all* problems (never stopping at the first), each naming the row,
the column and what to fix. It never modifies its input.

Row numbers are 1-based *lines of the source file* for CSV (the header is line 1, so
the first record is line 2) and 1-based record numbers for other sources; the loader
says which through ``row_offset`` and ``row_unit``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from forecasting.errors import ContractIssue, DataContractError
from forecasting.parsing import parse_dates, parse_numbers

REQUIRED_COLUMNS: tuple[str, ...] = (
    "order_id",
    "line_id",
    "sku",
    "site",
    "order_date",
    "promised_date",
    "quantity",
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "channel",
    "customer",
    "region",
    "ship_date",
    "delivered_date",
    "unit_price",
)
CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DATE_COLUMNS: tuple[str, ...] = ("order_date", "promised_date", "ship_date", "delivered_date")
ID_COLUMNS: tuple[str, ...] = (
    "order_id",
    "line_id",
    "sku",
    "site",
    "channel",
    "customer",
    "region",
)
NUMERIC_COLUMNS: tuple[str, ...] = ("quantity", "unit_price")

# (later column, earlier column): the later date may not come before the earlier one.
DATE_ORDER_RULES: tuple[tuple[str, str], ...] = (
    ("promised_date", "order_date"),
    ("ship_date", "order_date"),
    ("delivered_date", "order_date"),
    ("delivered_date", "ship_date"),
)

_MAX_ISSUES_PER_RULE = 1000

# Exports often key a line by order and line number, with no column of its own: say how a
# mapping builds the id (forecasting.mapping.KeyRule) where that is what is missing.
_LINE_ID_FORMS = "line_id: {join: [OrderNo, LineNo]} or line_id: {number_within: OrderNo}"
_KEY_HINTS = {
    "line_id": (
        "No single column identifies a line? Build line_id under the mapping's columns from the "
        "export's own columns: line_id: {join: [OrderNo, LineNo]} joins order and line number "
        "(SO123-4), line_id: {number_within: OrderNo} numbers the lines of each order in file "
        "order (SO123-1, SO123-2)."
    ),
    "order_id": "An order id in several columns? Build it: order_id: {join: [Company, OrderNo]}.",
}


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_orders`.

    ``frame`` is the coerced canonical frame (a copy; invalid rows included) and
    ``issues`` every problem found, in file order within each rule.
    """

    frame: pd.DataFrame
    issues: list[ContractIssue] = field(default_factory=list)
    source: str | None = None

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def invalid_rows(self) -> np.ndarray:
        """Positions (0-based, in ``frame``) of rows that have at least one issue."""
        return np.array(sorted({i.position for i in self.issues if i.position is not None}), int)

    def raise_if_invalid(self) -> pd.DataFrame:
        """Return the canonical frame, or raise :class:`DataContractError` listing every issue."""
        if self.issues:
            raise DataContractError(self.issues, source=self.source)
        return self.frame

    def summary(self) -> pd.DataFrame:
        """Issues as a frame (``row``, ``column``, ``message``) for reports and artifacts."""
        return pd.DataFrame(
            [(i.row, i.column, i.message) for i in self.issues],
            columns=["row", "column", "message"],
        )


@dataclass(frozen=True)
class _Located:
    """Turns frame positions into the row numbers a person sees."""

    row_offset: int
    row_unit: str

    def issue(self, position: int | None, column: str | None, message: str) -> ContractIssue:
        row = None if position is None else int(position) + self.row_offset
        return ContractIssue(
            row=row, column=column, message=message, unit=self.row_unit, position=position
        )


def validate_orders(
    frame: pd.DataFrame,
    *,
    source: str | None = None,
    row_offset: int = 2,
    row_unit: str = "line",
    date_formats: Iterable[str] = (),
    date_order: bool = True,
) -> ValidationReport:
    """Coerce ``frame`` to the canonical order-line types and check every contract rule.

    Parameters
    ----------
    frame:
        Order lines with (at least) the canonical required columns. Date columns may be
        strings (parsed with ``date_formats`` in order, then ISO 8601) or datetimes.
    source:
        Name shown in messages (usually the file path).
    row_offset, row_unit:
        Row ``i`` (0-based position) is reported as ``row_unit`` ``i + row_offset``; the
        default matches a CSV file with a header line.
    date_order:
        Check :data:`DATE_ORDER_RULES` (the default). Off for callers that answer such
        lines one by one instead of refusing the batch (the at-risk scoring).

    Returns
    -------
    ValidationReport with the coerced frame and every issue found (empty when valid).
    """
    where = _Located(row_offset, row_unit)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns)) or "(none)"
        issue = where.issue(
            None,
            None,
            f"missing required column(s): {', '.join(missing)}. Columns present: {present}. "
            "Rename your columns or map them with a mapping file (--mapping)."
            + "".join(f" {_KEY_HINTS[c]}" for c in missing if c in _KEY_HINTS),
        )
        return ValidationReport(frame=frame.copy(), issues=[issue], source=source)
    if frame.empty:
        issue = where.issue(
            None, None, "no order lines: the header is there but no rows follow; export again"
        )
        return ValidationReport(frame=frame.copy(), issues=[issue], source=source)

    data = frame.reset_index(drop=True).copy()
    issues: list[ContractIssue] = []
    for column in ID_COLUMNS:
        if column in data.columns:
            data[column] = _as_text(data[column])
    for column in DATE_COLUMNS:
        if column in data.columns:
            data[column], bad = parse_dates(data[column], tuple(date_formats))
            issues.extend(
                where.issue(pos, column, not_a_date_message(raw, tuple(date_formats)))
                for pos, raw in bad[:_MAX_ISSUES_PER_RULE]
            )
    for column in NUMERIC_COLUMNS:
        if column in data.columns:
            data[column], bad = parse_numbers(data[column])
            issues.extend(
                where.issue(
                    pos, column, f"'{raw}' is not a number; write a plain number such as 12 or 3.5"
                )
                for pos, raw in bad[:_MAX_ISSUES_PER_RULE]
            )
    if "delivered_date" not in data.columns:
        data["delivered_date"] = pd.Series(pd.NaT, index=data.index, dtype="datetime64[ns]")

    already = {(i.position, i.column) for i in issues}
    found = _schema_issues(data, where, date_order)
    issues.extend(i for i in found if (i.position, i.column) not in already)
    issues.sort(key=lambda i: (-1 if i.position is None else i.position, i.column or ""))
    return ValidationReport(frame=data, issues=issues, source=source)


# Whole years inside pandas' nanosecond range (1677-09-21 to 2262-04-11).
_FIRST_YEAR, _LAST_YEAR = pd.Timestamp.min.year + 1, pd.Timestamp.max.year - 1


def not_a_date_message(raw: object, formats: tuple[str, ...]) -> str:
    """The one wording for an unparseable date, with or without a mapping's formats."""
    try:  # a real calendar date that pandas' nanosecond timestamps cannot hold
        year = datetime.date.fromisoformat(str(raw).strip()[:10]).year
    except ValueError:
        year = None
    if year is not None and not _FIRST_YEAR <= year <= _LAST_YEAR:
        return (
            f"'{raw}' is outside the dates ordercast handles ({_FIRST_YEAR} to {_LAST_YEAR}); "
            "fix the year (a placeholder such as 0001-01-01 means no date: leave it empty)"
        )
    if not formats:
        return f"'{raw}' is not a date; write it as YYYY-MM-DD"
    return (
        f"'{raw}' is not a date in any of the formats {list(formats)} or YYYY-MM-DD; fix the "
        "value, or list it under missing_values in the mapping"
    )


def _as_text(values: pd.Series) -> pd.Series:
    """Identifiers as strings; empty strings become missing. Integers stay '12', not '12.0'."""
    if pd.api.types.is_float_dtype(values):
        as_int = values.dropna()
        if (as_int == np.floor(as_int)).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    blank = text.isna() | (text == "")
    return text.astype(object).mask(blank, None)


def _not_before(later: str, earlier: str):
    def check(df: pd.DataFrame) -> pd.Series:
        if later not in df.columns or earlier not in df.columns:
            return pd.Series(True, index=df.index)
        return df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier])

    return check


def _order_schema(columns: Iterable[str], date_order: bool = True) -> pa.DataFrameSchema:
    present = set(columns)
    spec: dict[str, pa.Column] = {
        "order_id": pa.Column(object, nullable=False, coerce=False),
        "line_id": pa.Column(object, nullable=False, unique=True),
        "sku": pa.Column(object, nullable=False),
        "site": pa.Column(object, nullable=False),
        "order_date": pa.Column("datetime64[ns]", nullable=False),
        "promised_date": pa.Column("datetime64[ns]", nullable=False),
        "delivered_date": pa.Column("datetime64[ns]", nullable=True),
        "quantity": pa.Column(
            float,
            checks=[pa.Check.gt(0), pa.Check(np.isfinite, name="finite")],
            nullable=False,
        ),
    }
    if "ship_date" in present:
        spec["ship_date"] = pa.Column("datetime64[ns]", nullable=True)
    if "unit_price" in present:
        spec["unit_price"] = pa.Column(float, checks=pa.Check.ge(0), nullable=True)
    checks = [
        pa.Check(_not_before(later, earlier), name=f"{later}>={earlier}")
        for later, earlier in DATE_ORDER_RULES
        if date_order and later in present | {"delivered_date"} and earlier in present
    ]
    return pa.DataFrameSchema(spec, checks=checks, strict=False, ordered=False)


def _schema_issues(
    data: pd.DataFrame, where: _Located, date_order: bool = True
) -> list[ContractIssue]:
    """Run the pandera schema lazily and translate every failure into a :class:`ContractIssue`."""
    try:
        _order_schema(data.columns, date_order).validate(data, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return []
    # A frame-wide check reports each failing row once per column: keep one per row.
    frame_wide = cases["schema_context"] == "DataFrameSchema"
    cases = pd.concat([cases[~frame_wide], cases[frame_wide].drop_duplicates(["check", "index"])])
    cases.loc[cases["schema_context"] == "DataFrameSchema", "column"] = None
    issues: list[ContractIssue] = []
    first_line = _first_occurrence(data["line_id"])
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        for _, case in group.head(_MAX_ISSUES_PER_RULE).iterrows():
            index = case["index"]
            position = None if pd.isna(index) else int(index)
            issues.extend(
                _translate(
                    column, str(check), case["failure_case"], position, data, where, first_line
                )
            )
    return issues


def _first_occurrence(line_ids: pd.Series) -> dict[str, int]:
    """Position of the first line carrying each duplicated line_id."""
    dup = line_ids[line_ids.duplicated(keep=False)]
    firsts = dup[~dup.duplicated(keep="first")]
    positions = firsts.index.to_numpy(dtype=np.int64)
    return {str(value): int(pos) for pos, value in zip(positions, firsts, strict=True)}


def _translate(
    column: object,
    check: str,
    failure: object,
    position: int | None,
    data: pd.DataFrame,
    where: _Located,
    first_line: dict[str, int],
) -> list[ContractIssue]:
    # pandera reports a missing column as None or NaN; NaN is the one value unequal to itself.
    col = None if column is None or column != column else str(column)
    if check == "not_nullable":
        what = "date" if col in DATE_COLUMNS else "value"
        return [where.issue(position, col, f"{col} is missing; every line needs a {what} here")]
    if check == "field_uniqueness" and col == "line_id":
        first = first_line.get(str(failure))
        if first is None or first == position:
            return []
        first_row = first + where.row_offset
        return [
            where.issue(
                position,
                col,
                f"duplicate line_id '{failure}' (first seen on {where.row_unit} {first_row}); "
                "every order line needs its own id (keyed by order and line number? map "
                f"{_LINE_ID_FORMS})",
            )
        ]
    if col == "quantity" and check.startswith("greater_than"):
        return [where.issue(position, col, f"quantity {failure:g} must be greater than 0")]
    if col == "quantity" and check == "finite":
        return [where.issue(position, col, f"quantity {failure} must be a finite number")]
    if col == "unit_price":
        return [where.issue(position, col, f"unit_price {failure:g} must not be negative")]
    if ">=" in check and position is not None:
        later, earlier = check.split(">=")
        row = data.iloc[position]
        return [
            where.issue(
                position,
                later,
                f"{later} {row[later]:%Y-%m-%d} is before {earlier} {row[earlier]:%Y-%m-%d}; "
                f"fix one of the two dates",
            )
        ]
    if check.startswith("dtype"):
        return [where.issue(None, col, f"column {col} has the wrong type ({failure})")]
    return [where.issue(position, col, f"failed check {check}: {failure}")]
