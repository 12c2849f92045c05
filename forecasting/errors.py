"""Exceptions raised where a problem is detected, with messages for a person.

The CLI maps every :class:`OrdercastError` to exit code 2; the API maps them to 4xx.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class OrdercastError(Exception):
    """Base class for problems caused by the caller's input or configuration."""


@dataclass(frozen=True)
class ContractIssue:
    """One problem found in an order-history table.

    ``row`` is the 1-based line in the source file counting the header as line 1
    (so the first data row is line 2) — or a 1-based record number when ``unit`` is
    ``"row"`` (Parquet, SQL, frames); ``None`` when the issue is about the whole table.
    ``position`` is the 0-based position in the loaded frame, for code that drops rows.
    """

    row: int | None
    column: str | None
    message: str
    unit: str = "line"
    position: int | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DataContractError(OrdercastError):
    """The data breaks the order-history contract; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ContractIssue], *, source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        head = f"{source}: " if source else ""
        count = len(self.issues)
        shown = "\n".join(f"  - {issue}" for issue in self.issues[:50])
        more = f"\n  ... and {count - 50} more" if count > 50 else ""
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{head}{count} {noun} in the order history:\n{shown}{more}")

    @classmethod
    def from_message(cls, message: str) -> DataContractError:
        """A whole-file problem (unreadable, empty) with no row to point at."""
        return cls([ContractIssue(row=None, column=None, message=message)])


class ConfigError(OrdercastError):
    """A mapping, calendar, scenario or settings file is invalid."""


class UnknownSeriesError(OrdercastError):
    """A SKU, site, channel or series id that the model has never seen."""


class HorizonError(OrdercastError):
    """A forecast horizon outside what the model supports."""


class AdjustmentError(OrdercastError):
    """A planner adjustment that cannot be accepted; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
