"""The frequency of a series frame's dates, when the caller does not name it.

Gaps must not change the answer: a monthly panel in which every series misses a month or
two used to be read as "31D" (the most common step), so its periods drifted off the
months and its forecast dates came out as the 3rd of each month. The panel's dates taken
together say more than any one series, and a step of about a month, a quarter or a year
is named by its calendar anchor (month start or end, and the like) when every date sits
on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from forecasting.errors import ConfigError

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def infer_freq(frame: pd.DataFrame) -> str:
    """The pandas offset alias of the ``ds`` column of a long frame (``series_id, ds``).

    In order: the frequency of the panel's distinct dates taken together; else that of the
    first series that has one (3+ points without gaps); else the most common step between
    a series' dates, named by its calendar anchor where every date sits on one ('MS',
    'W-MON', 'QE-DEC' ...). Raises :class:`ConfigError` when no step can be found.
    """
    dates = pd.DatetimeIndex(frame["ds"].dropna().unique()).sort_values()
    if len(dates) >= 3:
        freq = pd.infer_freq(dates)
        if freq is not None:
            return freq
    steps = []
    for _, group in frame.groupby("series_id", sort=False):
        ordered = pd.DatetimeIndex(group["ds"]).sort_values()
        if len(group) >= 3:
            freq = pd.infer_freq(ordered)
            if freq is not None:
                return freq
        if len(group) >= 2:
            steps.append(np.diff(ordered.to_numpy().astype("datetime64[ns]").astype(np.int64)))
    if steps:  # every series has gaps: take the most common step
        counts = pd.Series(np.concatenate(steps)).value_counts()
        counts = counts[counts.index > 0]
        if not counts.empty:
            step = pd.Timedelta(int(counts.index[0]))
            # pandas accepts a Timedelta here; its stubs only list strings and offsets
            offset = to_offset(step)  # type: ignore[call-overload]
            return anchored_freq(step, dates) or str(offset.freqstr)
    raise ConfigError(
        "could not infer the frequency of 'ds'; pass freq explicitly (e.g. 'D', 'W-SUN', 'h')"
    )


def anchored_freq(step: pd.Timedelta, dates: pd.DatetimeIndex) -> str | None:
    """The calendar alias of a step of a day, a week, a month, a quarter or a year whose
    every date sits on the same anchor ('D', 'W-MON', 'MS', 'QE-DEC', 'YS-JAN' ...), or
    None: a month is 28 to 31 days, so its step alone cannot name it."""
    if len(dates) == 0 or (dates != dates.normalize()).any():
        return None
    days = step / pd.Timedelta(days=1)
    if days == 1:
        return "D"
    if days == 7:
        weekdays = set(dates.weekday)
        return f"W-{_WEEKDAY_NAMES[weekdays.pop()]}" if len(weekdays) == 1 else None
    kinds = {(28, 31): 1, (89, 92): 3, (365, 366): 12}
    months = next((m for (low, high), m in kinds.items() if low <= days <= high), None)
    if months is None:
        return None
    phases = set((dates.month - 1) % months)  # 0-based month, within the cycle
    starts, ends = bool((dates.day == 1).all()), bool(dates.is_month_end.all())
    if len(phases) != 1 or starts == ends:
        return None
    if months == 1:
        return "MS" if starts else "ME"
    phase = phases.pop()
    if months == 3:
        # pandas names a quarter by a month of the first quarter of the year when it
        # starts the quarter (QS-JAN..QS-MAR), of the last when it ends it (QE-OCT..QE-DEC).
        return f"QS-{_MONTH_NAMES[phase]}" if starts else f"QE-{_MONTH_NAMES[9 + phase]}"
    return f"{'YS' if starts else 'YE'}-{_MONTH_NAMES[phase]}"
