"""The series frame the demand pipeline accepts: checked, typed and without gaps.

:func:`check_series_frame` turns a caller's long frame (``series_id, ds, y`` and any
exogenous columns) into a typed, sorted copy with one row per series and date, or
raises :class:`ConfigError` naming the row or column to fix (:func:`parse_ds` reads the
dates: ISO text, or a format the caller names); :func:`regularize` gives
every series a row for each period between its first and last date (``y`` NaN where
the period is missing), which is what the per-series models expect; and
:func:`check_future` checks that the future values of the exogenous columns cover
every series' forecast horizon. The caller's frame is never modified.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting.demand.frequency import infer_freq
from forecasting.errors import ConfigError
from forecasting.parsing import parse_numbers

REQUIRED = ("series_id", "ds", "y")
# Beyond this share of periods without a row, absent rows more likely mean "no demand"
# (an export that lists only periods with sales) than a few lost periods, and carrying the
# last value across them would inflate the forecast: :func:`regularize` says so.
SPARSE_SHARE = 0.1


@dataclass(frozen=True)
class SeriesRows:
    """Where each series' rows are in ``frame``: ids in the order of
    ``groupby("series_id", sort=True)``, the first and past-the-last positions of their
    rows (``starts``, ``ends``; rows keep their order within a series)."""

    frame: pd.DataFrame
    ids: list[str]
    starts: np.ndarray
    ends: np.ndarray

    def spans(self) -> Iterator[tuple[str, int, int]]:
        """Each series' id, first and past-the-last row position."""
        return zip(self.ids, self.starts.tolist(), self.ends.tolist(), strict=True)


def series_rows(frame: pd.DataFrame) -> SeriesRows:
    """The :class:`SeriesRows` of ``frame`` itself when its series are already contiguous
    in id order, as :func:`check_series_frame` leaves them, else of a sorted copy.

    Slicing the columns' arrays at these positions replaces iterating a groupby, which
    copies the whole frame sorted and makes a sub-frame per series: at 50,000 weekly
    series that iteration left ~270 MB more resident on the driver (#20).
    """
    ids = frame["series_id"].to_numpy()
    if not pd.Index(ids).is_monotonic_increasing:
        frame = frame.iloc[np.argsort(ids, kind="stable")]
        ids = frame["series_id"].to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(ids))[: len(starts)]
    return SeriesRows(frame, [str(ids[a]) for a in starts], starts, ends)


def check_series_columns(frame: pd.DataFrame, exog: Sequence[str] = ()) -> None:
    """Raise :class:`ConfigError` naming the columns ``frame`` lacks of series_id, ds, y
    and ``exog``, and the ones it has."""
    missing = [c for c in (*REQUIRED, *exog) if c not in frame.columns]
    if not missing:
        return
    hint = ""
    if {"order_date", "quantity"} <= set(frame.columns):
        # the commonest slip: the order history itself given where its series are wanted
        hint = (
            "; this looks like an order history: build its series first, e.g. `ordercast "
            "series ORDERS --by sku,site --freq W --out series.csv`"
        )
    raise ConfigError(
        f"series frame lacks column(s) {missing}; it needs series_id, ds, y and any "
        f"exogenous columns named (columns present: {', '.join(map(str, frame.columns))})"
        f"{hint}"
    )


def check_series_frame(frame: pd.DataFrame, exog: Sequence[str] = ()) -> pd.DataFrame:
    """``series_id`` (str), ``ds`` (datetime), ``y`` (float, NaN if not a number) and the
    ``exog`` columns (float), sorted by series and date, one row per series and date."""
    check_series_columns(frame, exog)
    data = frame[[*REQUIRED, *exog]].copy()
    for column in exog:
        data[column] = _numeric_column(frame, column)
    data["series_id"] = data["series_id"].astype(str)
    data["ds"] = parse_ds(data["ds"])
    data["y"] = _y_values(frame["y"])
    if data.duplicated(["series_id", "ds"]).any():
        dup = data[data.duplicated(["series_id", "ds"], keep=False)].iloc[0]
        raise ConfigError(
            f"series '{dup['series_id']}' has more than one row for {dup['ds']:%Y-%m-%d %H:%M}; "
            "aggregate first (ordercast series)"
        )
    return data.sort_values(["series_id", "ds"]).reset_index(drop=True)


def parse_ds(values: pd.Series, date_format: str | None = None) -> pd.Series:
    """The dates of a ``ds`` column, timezone-naive (wall-clock time kept).

    Datetimes are kept. Text is read as ISO 8601 (2024-01-31, 2024-01-31 10:00, 2024/01/31,
    20240131, 2024-01) unless ``date_format`` (strptime codes, e.g. ``%d/%m/%Y``) names
    another form. Other forms are an error, not a guess: pandas would read 01/02/2024 as
    2 January and a monthly file written day first (01/02/2024, 01/03/2024 ...) as
    consecutive days, forecasting a daily series nobody has. Raises :class:`ConfigError`
    naming the first row that is not a date.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        text = values.astype("string").str.strip()
        mixed_offsets = ConfigError(
            "ds: the dates carry different UTC offsets; write every date in one time zone, "
            "without an offset"
        )
        try:
            with warnings.catch_warnings():
                # pandas 2 warns that mixed offsets will raise; they are refused below either way
                warnings.simplefilter("ignore", FutureWarning)
                parsed = pd.to_datetime(text, format=date_format or "ISO8601", errors="coerce")
        except ValueError as exc:  # a format pandas cannot use (%Q), or a later pandas' offsets
            if date_format is None:
                raise mixed_offsets from exc
            raise ConfigError(f"--date-format '{date_format}': {exc}") from exc
        if parsed.dtype == object:  # pandas 2 keeps offsets that differ as objects
            raise mixed_offsets
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        shown = values.iloc[row]
        if pd.isna(shown):
            raise ConfigError(f"row {row + 1}: ds is empty: every row needs its date")
        if date_format:
            raise ConfigError(
                f"row {row + 1}: ds '{shown}' is not a date in the form {date_format}"
            )
        raise ConfigError(
            f"row {row + 1}: ds '{shown}' is not an ISO date: write YYYY-MM-DD (YYYY-MM-DD HH:MM "
            "for hourly series), or name the form with --date-format (e.g. %d/%m/%Y): in "
            "01/02/2024 the day and month cannot be told apart"
        )
    return parsed.astype("datetime64[ns]")


def _y_values(values: pd.Series) -> pd.Series:
    """``y`` as floats; a blank is a missing period. Text that is not a number is missing too,
    with a warning naming it: a thousands separator (1,234) made every value of 1,000 or
    more a silent gap, and the forecast low."""
    numbers, text = parse_numbers(values)
    if text:
        row, raw = text[0]
        warnings.warn(
            f"y: {len(text):,} value(s) are not numbers and are read as missing periods "
            f"(first: row {row + 1}, '{raw}'); write plain numbers such as 1234.5",
            UserWarning,
            stacklevel=3,
        )
    return numbers


def _numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ConfigError(
            f"row {row + 1}: exogenous column '{column}' holds '{frame[column].iloc[row]}', "
            "not a number"
        )
    return values.astype(float)


def regularize(data: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Every series with a row for each period from its first to its last date.

    ``data`` is a checked frame (:func:`check_series_frame`), ``freq`` a pandas alias;
    added rows have NaN in ``y`` and in the other columns, so models see the gap.

    Raises :class:`ConfigError` when a date is not a period of ``freq`` (a month-end file
    read as month starts, a Monday file as weeks ending Sunday: such rows used to vanish
    and their series to read as no demand) or when no two dates of any series are one
    period apart (a monthly file read as daily: nothing left to learn from but gaps). Warns
    when more than :data:`SPARSE_SHARE` of the periods have no row.
    """
    if _already_regular(data, freq):
        return data
    parts = []
    adjacent, added = False, 0
    for sid, group in data.groupby("series_id", sort=True):
        full = pd.date_range(group["ds"].iloc[0], group["ds"].iloc[-1], freq=freq)
        at = full.get_indexer(pd.DatetimeIndex(group["ds"]))
        if (at < 0).any():
            raise ConfigError(_off_grid(data, sid, group["ds"].iloc[int(np.argmax(at < 0))], freq))
        adjacent = adjacent or bool((np.diff(at) == 1).any())
        if len(full) == len(group):
            parts.append(group)
            continue
        added += len(full) - len(group)
        filled = group.set_index("ds").reindex(full).rename_axis("ds").reset_index()
        filled["series_id"] = sid
        parts.append(filled[list(data.columns)])
    out = pd.concat(parts, ignore_index=True)
    if added and not adjacent:
        raise ConfigError(
            f"no two dates of any series are one period of frequency '{freq}' apart"
            f"{_looks_like(data, freq)}: read at that frequency, the series would be "
            f"{added / len(out):.0%} gaps. Pass the frequency the dates follow (--freq); "
            "if the periods between really had no demand, write them as rows with y 0"
        )
    if added > SPARSE_SHARE * len(out):
        warnings.warn(
            f"{added:,} of {len(out):,} periods ({added / len(out):.0%}) between each series' "
            "first and last dates have no row: they are read as missing (the models carry "
            "the last value across them), not as zero demand. If no row means no demand, "
            "write those periods with y 0 (ordercast series does)",
            UserWarning,
            stacklevel=2,
        )
    return out


def _off_grid(data: pd.DataFrame, sid: object, when: pd.Timestamp, freq: str) -> str:
    return (
        f"series '{sid}': {when:%Y-%m-%d %H:%M} is not a period of frequency '{freq}'"
        f"{_looks_like(data, freq)}; every date must fall on that frequency's periods "
        "(MS: the 1st of a month, ME: its last day, W-MON: Mondays). Pass the frequency the "
        "dates follow (--freq), or aggregate order lines with `ordercast series`"
    )


def _looks_like(data: pd.DataFrame, freq: str) -> str:
    """' (the dates look like 'ME')' when the dates follow another frequency, else ''."""
    try:
        seen = infer_freq(data)
    except ConfigError:
        return ""
    return "" if seen == freq else f" (the dates look like '{seen}')"


def check_future(
    future: pd.DataFrame | None,
    data: pd.DataFrame,
    exog: Sequence[str],
    freq: str,
    horizon: int,
) -> pd.DataFrame | None:
    """The future exogenous values (``series_id, ds`` and the ``exog`` columns), checked.

    They must cover each series of ``data`` for the ``horizon`` periods of ``freq`` after
    its last date; None when there are no exogenous columns. Raises :class:`ConfigError`
    naming the first series and date missing.
    """
    if not exog:
        return None
    if future is None:
        raise ConfigError(
            f"exogenous columns {list(exog)} need their future values: pass a future frame "
            f"(series_id, ds, {', '.join(exog)}) covering the {horizon} periods after each "
            "series' last date"
        )
    checked = check_series_frame(future.assign(y=0.0), exog).drop(columns="y")
    step = to_offset(freq)
    have = set(zip(checked["series_id"], checked["ds"], strict=True))
    for sid, end in data.groupby("series_id", sort=True)["ds"].max().items():
        for k in range(1, horizon + 1):
            when = end + step * k
            if (str(sid), when) not in have:
                raise ConfigError(
                    f"future frame has no row for series '{sid}' at {when:%Y-%m-%d %H:%M}; "
                    f"it needs {', '.join(exog)} for each of the {horizon} periods after "
                    f"{end:%Y-%m-%d %H:%M}"
                )
    return checked


def _already_regular(data: pd.DataFrame, freq: str) -> bool:
    """True when every series (rows sorted by ``series_id, ds``) starts on a period of
    ``freq`` and steps one period at a time, so :func:`regularize` would add nothing: one
    vectorised date shift for the whole frame instead of a date range per series."""
    if data.empty:
        return True
    offset = to_offset(freq)
    ids = data["series_id"].to_numpy()
    ds = pd.DatetimeIndex(data["ds"])
    firsts = np.r_[True, ids[1:] != ids[:-1]]
    if not all(offset.is_on_offset(day) for day in ds[firsts]):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an offset pandas cannot shift a whole index by warns
        try:
            following = ds[:-1] + offset
        except (TypeError, ValueError):
            return False
    return bool(np.all(np.asarray(following == ds[1:])[~firsts[1:]]))
