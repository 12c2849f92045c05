"""Order lines between the canonical frame and the store's rows, both ways.

A row holds the contract columns in typed SQL columns and every other column the loader
kept in one JSON ``attributes`` object (missing values as JSON null, so the set of columns
survives). Values are plain Python (``date``, ``float``, ``str``, ``bool``), so a line read
back compares equal to the same line encoded again: that is how ingest tells an unchanged
line from an updated one.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from forecasting.contract import DATE_COLUMNS, NUMERIC_COLUMNS, REQUIRED_COLUMNS
from store.schema import LINE_COLUMNS

Row = dict[str, Any]


def encode_lines(frame: pd.DataFrame) -> list[Row]:
    """Rows (``line_id``, the contract columns, ``attributes``) of a validated canonical
    frame; contract columns the frame lacks are stored as missing."""
    n = len(frame)
    columns: dict[str, list[Any]] = {"line_id": _texts(frame["line_id"])}
    for name in LINE_COLUMNS:
        if name not in frame.columns:
            columns[name] = [None] * n
        elif name in DATE_COLUMNS:
            columns[name] = _dates(frame[name])
        elif name in NUMERIC_COLUMNS:
            columns[name] = _floats(frame[name])
        else:
            columns[name] = _texts(frame[name])
    extra = [c for c in frame.columns if c != "line_id" and c not in LINE_COLUMNS]
    values = [json_values(frame[c]) for c in extra]
    names = [str(c) for c in extra]
    attributes = [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    if not extra:
        attributes = [{} for _ in range(n)]
    keys = list(columns)
    rows = [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    for row, attrs in zip(rows, attributes, strict=True):
        row["attributes"] = attrs
    return rows


def json_values(values: pd.Series) -> list[Any]:
    """A column as JSON-safe Python values: missing (NaN, NaT, NA) as None, numpy scalars as
    Python numbers, timestamps as ISO text."""
    if pd.api.types.is_bool_dtype(values) and not values.hasnans:
        return [bool(v) for v in values.to_numpy()]
    if pd.api.types.is_datetime64_any_dtype(values):
        return [None if pd.isna(v) else v.isoformat() for v in values]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        as_float = values.astype("float64").to_numpy(na_value=np.nan)
        if pd.api.types.is_integer_dtype(values):
            return [None if math.isnan(v) else int(v) for v in as_float.tolist()]
        return [v if math.isfinite(v) else None for v in as_float.tolist()]
    return [_json_scalar(v) for v in values.astype(object).tolist()]


def _json_scalar(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime.date | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _texts(values: pd.Series) -> list[str | None]:
    return [None if v is None or v is pd.NA or v != v else str(v) for v in values.tolist()]


def _dates(values: pd.Series) -> list[datetime.date | None]:
    # numpy turns day-resolution datetimes into datetime.date (NaT into None) in C, which
    # is many times faster than a Timestamp per value on a history of millions of lines.
    days = pd.to_datetime(values).to_numpy(dtype="datetime64[D]")
    return days.astype(object).tolist()


def _floats(values: pd.Series) -> list[float | None]:
    numbers = pd.to_numeric(values).astype("float64").to_numpy(na_value=np.nan)
    return [v if math.isfinite(v) else None for v in numbers.tolist()]


def comparable(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What decides whether a stored line changed: its contract values and attributes."""
    return (*(row[name] for name in LINE_COLUMNS), row["attributes"])


def decode_lines(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The canonical frame of stored rows (mappings of ``line_id``, the contract columns and
    ``attributes``); see :func:`decode_columns`."""
    names = ["line_id", *LINE_COLUMNS, "attributes"]
    return decode_columns({name: [r[name] for r in rows] for name in names})


def decode_columns(columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The canonical frame of stored lines given column by column, as
    :func:`forecasting.loaders.load_orders` gives it: ids as text (None when missing), dates
    as ``datetime64[ns]``, numbers as float, optional contract columns only when some line
    has a value (``delivered_date`` always), then the attributes in the order first seen.

    Dates may come as ``date`` objects or as ISO text (SQLite's driver hands them back as
    text), attributes as dicts or as JSON text, for the same reason.
    """
    out: dict[str, Any] = {"line_id": pd.Series(columns["line_id"], dtype=object)}
    for name in LINE_COLUMNS:
        values = columns[name]
        keep = name in REQUIRED_COLUMNS or name == "delivered_date"
        if not keep and all(v is None for v in values):
            continue
        if name in DATE_COLUMNS:
            out[name] = _date_column(values)
        elif name in NUMERIC_COLUMNS:
            out[name] = pd.Series(values, dtype="float64")
        else:
            out[name] = pd.Series(values, dtype=object)
    canonical = ["order_id", "line_id", *[c for c in LINE_COLUMNS if c in out]]
    frame = pd.DataFrame(out)[list(dict.fromkeys(canonical))]
    attributes = [json.loads(a) if isinstance(a, str) else a for a in columns["attributes"]]
    for name in _attribute_names(attributes):
        frame[name] = _attribute_column([a.get(name) for a in attributes])
    return frame


def _date_column(values: Sequence[Any]) -> pd.Series:
    present = next((v for v in values if v is not None), None)
    if isinstance(present, str):  # ISO dates: one vectorised parse, not a regex a value
        return pd.to_datetime(pd.Series(values, dtype=object), format="%Y-%m-%d").astype(
            "datetime64[ns]"
        )
    return pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[ns]")


def _attribute_names(attributes: Iterable[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for attrs in attributes:
        for name in attrs:
            names.setdefault(name, None)
    return list(names)


def _attribute_column(values: list[Any]) -> pd.Series:
    """Booleans stay booleans (nullable when some are missing), numbers become float, the
    rest text with NaN for missing, as a CSV export reads."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        dtype = "bool" if len(present) == len(values) else "boolean"
        return pd.Series(values, dtype=dtype)
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    return pd.Series([np.nan if v is None else v for v in values], dtype=object)
