"""Dates and numbers from a file's text, each failure kept with its position.

Shared by the order contract, the column mapping, series frames and capacity calendars;
no schema library here, so the demand pipeline and its workers import it cheaply.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def parse_dates(values: pd.Series, formats: tuple[str, ...]) -> tuple[pd.Series, list]:
    """Parse to day-resolution datetimes; return the parsed series and (position, raw) failures."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        return parsed.astype("datetime64[ns]").dt.normalize(), []
    raw = values.astype("string").str.strip()
    raw = raw.mask(raw == "")
    # By position, not by label: a file's index may repeat labels (a ragged CSV row makes
    # pandas take its first field as the index), and label assignment would then fail.
    text = raw.to_numpy(dtype=object)
    found = np.full(len(raw), np.datetime64("NaT"), dtype="datetime64[ns]")
    todo = raw.notna().to_numpy()
    for fmt in (*formats, "ISO8601"):
        if not todo.any():
            break
        attempt = pd.to_datetime(pd.Series(text[todo]), format=fmt, errors="coerce")
        found[todo] = attempt.to_numpy(dtype="datetime64[ns]")
        todo &= np.isnat(found)
    bad = [(int(p), raw.iloc[p]) for p in np.flatnonzero(todo)]
    return pd.Series(found, index=values.index).dt.normalize(), bad


def parse_numbers(values: pd.Series) -> tuple[pd.Series, list]:
    """Parse to floats (a blank is missing); return the parsed series and (position, raw)
    failures: text that is not a number."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float), []
    raw = values.astype("string").str.strip()
    raw = raw.mask(raw == "")
    parsed = pd.to_numeric(raw, errors="coerce").astype(float)
    bad_mask = raw.notna().to_numpy() & parsed.isna().to_numpy()
    bad = [(int(p), raw.iloc[p]) for p in np.flatnonzero(bad_mask)]
    return parsed, bad
