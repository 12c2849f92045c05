"""Quantile levels and the names of the forecast columns that hold them: one spelling.

A level ``q`` (a fraction strictly between 0 and 1) lives in column ``q`` + its percentage,
with ``_`` for the decimal point so the name stays an identifier in every tool the frame
reaches: 0.1 -> ``q10``, 0.5 -> ``q50``, 0.025 -> ``q2_5``, 0.975 -> ``q97_5``.
Forecast frames, reconciliation, the serving model and the API all read and write
quantile columns through these functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_COLUMN = re.compile(r"^q(\d+)(?:_(\d+))?$")


def quantile_column(q: float) -> str:
    """Name of the column holding quantile level ``q`` (0.1 -> ``q10``, 0.025 -> ``q2_5``)."""
    pct = round(q * 100, 6)
    if float(pct).is_integer():
        return f"q{int(pct)}"
    return "q" + f"{pct:g}".replace(".", "_")


def quantile_level(column: object) -> float | None:
    """The level a column name holds (``q2_5`` -> 0.025), or None for any other column."""
    match = _COLUMN.match(str(column))
    if match is None:
        return None
    whole, fraction = match.groups()
    return float(f"{whole}.{fraction}" if fraction else whole) / 100


def quantile_columns(columns: Iterable[object]) -> list[str]:
    """The quantile columns among ``columns``, lowest level first."""
    found = {str(c): level for c in columns if (level := quantile_level(c)) is not None}
    return sorted(found, key=found.__getitem__)
