"""Features of the period being forecast: calendar fields and public holidays.

Both are known in advance for any future date, so a model may use them at every step
of a multi-step forecast. Holidays come from the ``holidays`` package (the same calendar
the synthetic history draws from); a period's feature is how many holiday days it holds,
and how many the periods either side hold, because order demand moves around a holiday
(pulled forward before it, caught up after it), not only on it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting.demand.seasonality import frequency_family
from forecasting.errors import ConfigError

# Named first when a code is unknown: where most order books are, rather than the list's
# alphabetical head (ABW, AD, AE ...).
COMMON_COUNTRIES = ("US", "GB", "DE", "FR", "NL", "IT", "ES", "CA", "AU", "JP", "CN", "IN", "BR")

_FIELDS = {
    "h": ("hour", "dayofweek"),
    "min": ("minute", "hour", "dayofweek"),
    "D": ("dayofweek", "day", "month"),
    "B": ("dayofweek", "day", "month"),
    "W": ("week", "month"),
    "M": ("month",),
    "Q": ("quarter",),
}


def calendar_fields(freq: str) -> tuple[str, ...]:
    """The calendar fields that vary between periods of this frequency."""
    return _FIELDS.get(frequency_family(freq), ())


def calendar_matrix(ds: pd.DatetimeIndex, fields: Sequence[str]) -> np.ndarray:
    """One float column per field (``week`` is the ISO week)."""
    columns = []
    for field in fields:
        if field == "week":
            columns.append(ds.isocalendar().week.to_numpy(float))
        else:
            columns.append(np.asarray(getattr(ds, field), dtype=float))
    return np.column_stack(columns) if columns else np.empty((len(ds), 0))


def check_country(country: str) -> str:
    """The country code, or a ConfigError naming the supported ones."""
    supported = holidays.list_supported_countries()
    if country in supported:
        return country
    if country.upper() in supported:
        return country.upper()
    close = difflib.get_close_matches(country.upper(), list(supported), n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ConfigError(
        f"no holiday calendar for country '{country}'; {hint}use an ISO 3166 code, e.g. "
        f"{', '.join(COMMON_COUNTRIES)} ({len(supported)} codes are known)"
    )


@lru_cache(maxsize=64)
def holiday_dates(country: str, first_year: int, last_year: int) -> np.ndarray:
    """Sorted public-holiday dates (``datetime64[D]``) of a country over whole years."""
    calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    return np.sort(np.array(list(calendar.keys()), dtype="datetime64[D]"))


def _period_freq(freq: str) -> str:
    """The pandas Period frequency whose periods contain each label of ``freq``."""
    family = frequency_family(freq)
    if family == "W":
        return to_offset(freq).freqstr  # keeps the anchor: W-SUN periods end on Sunday
    return {"M": "M", "Q": "Q", "Y": "Y"}.get(family, "D")


def holiday_matrix(ds: pd.DatetimeIndex, freq: str, country: str) -> np.ndarray:
    """Holiday days in each label's period, the period before and the period after.

    Hourly and finer labels count the day they fall on. Returns ``(len(ds), 3)``.
    """
    if len(ds) == 0:
        return np.empty((0, 3))
    periods = pd.PeriodIndex(ds, freq=_period_freq(freq))
    days = holiday_dates(country, int(ds.min().year) - 1, int(ds.max().year) + 1)
    columns = []
    for shift in (0, -1, 1):
        shifted = periods.shift(shift)
        start = shifted.start_time.normalize().to_numpy().astype("datetime64[D]")
        end = shifted.end_time.normalize().to_numpy().astype("datetime64[D]")
        count = np.searchsorted(days, end, side="right") - np.searchsorted(days, start)
        columns.append(count.astype(float))
    return np.column_stack(columns)
