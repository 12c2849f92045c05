"""Reading new order lines, not yet promised, for a promise-date quote."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.contract import validate_orders
from forecasting.errors import DataContractError
from forecasting.loaders import load_mapping, read_raw
from forecasting.mapping import ColumnMapping, apply_mapping


def load_new_lines(
    source: str | Path, mapping: ColumnMapping | str | Path | None = None
) -> pd.DataFrame:
    """The lines of ``source`` mapped and checked as an order history is, except that a
    promised date is not needed (it is what the quote gives).

    The order-history contract requires a promised date; a line without one gets its order
    date as a stand-in, which passes the contract's date rules and which the quote ignores.
    Raises :class:`DataContractError` naming every row and column that breaks the contract
    (a missing order date, site or quantity among them).
    """
    resolved = load_mapping(mapping)
    raw, row_offset, row_unit = read_raw(source, resolved)
    mapped, issues = apply_mapping(raw, resolved, row_offset=row_offset, row_unit=row_unit)
    if issues:
        raise DataContractError(issues, source=str(source))
    if "order_date" in mapped.columns:
        promised = mapped["promised_date"] if "promised_date" in mapped.columns else None
        mapped["promised_date"] = (
            mapped["order_date"] if promised is None else promised.fillna(mapped["order_date"])
        )
    report = validate_orders(
        mapped,
        source=str(source),
        row_offset=row_offset,
        row_unit=row_unit,
        date_formats=resolved.date_formats,
    )
    if not report.ok:
        raise DataContractError(report.issues, source=str(source))
    return report.frame
