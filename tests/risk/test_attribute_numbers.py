"""A column's numbers are read from its distinct values once (order lines repeat a few texts)
and are the numbers pandas reads from every row: checked against that reading on columns
of every kind of value an export or a request carries."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from forecasting.risk.features import BOOLEAN_TEXT, _as_numbers, _numbers_as_text

VALUES = [
    None, np.nan, 0, 1, 7, -2, 2.5, 1e3, np.int64(4), np.float64(0.25), True, False,
    np.bool_(True), "True", "false", " TRUE ", "3", "3.5", " 12 ", "1e3", "-0.5", "abc",
    "", "nan", "None", "Express", "SITE-1",
]  # fmt: skip


def row_by_row(values: pd.Series) -> pd.Series:
    """What pandas reads from every row: flags from their text, the rest as numbers."""
    flags = values.astype(str).str.strip().str.lower().map(BOOLEAN_TEXT)
    numbers = pd.to_numeric(values, errors="coerce")
    return (flags.fillna(numbers) if flags.notna().any() else numbers).astype(float)


# A request's few lines to an export's many, values read one by one or by pandas.
columns = st.lists(st.sampled_from(VALUES), min_size=1, max_size=1200)


@settings(max_examples=100, deadline=None)
@given(columns)
@example([True, "false", None, 2, np.float64(0.5), np.bool_(False)])  # read one by one
@example([True, "false", None, 2, "3.5", "abc"] * 300)  # read by pandas
def test_numbers_from_distinct_values_are_pandas_numbers_of_every_row(values: list) -> None:
    column = pd.Series(values, dtype=object, index=pd.RangeIndex(5, 5 + len(values)))
    read = _as_numbers(column)
    pd.testing.assert_series_equal(read, row_by_row(column), check_names=False)
    assert read.index.equals(column.index)


def test_a_text_column_of_numbers_is_a_quantity_and_of_names_a_category() -> None:
    weights = pd.Series([f"{w:.1f}" for w in np.linspace(1, 50, 1500)] + [None] * 20)
    carriers = pd.Series(["Express", "Ground", "Freight"] * 500 + ["7"] * 20)
    assert _numbers_as_text(weights)
    assert not _numbers_as_text(carriers)
    read = _as_numbers(weights).to_numpy()
    np.testing.assert_allclose(read[:1500], np.round(np.linspace(1, 50, 1500), 1))
    assert np.isnan(read[1500:]).all()
