"""User capacity calendars: weekday patterns and dated rules (closures, extra shifts).

A calendar frame has ``site``, either ``weekday`` (0 = Monday, a recurring pattern) or
``date`` (one day as YYYY-MM-DD, overriding the pattern), and the capacity of each rule: either
``capacity_units`` (0 = closed), or ``labour_hours`` and ``units_per_hour`` (the work one
labour hour handles), giving ``capacity_units = labour_hours * units_per_hour``. Capacity
is in the forecast's measure (units, lines or orders; see
:mod:`forecasting.capacity.flows`), so with lines ``units_per_hour`` is lines per hour.
"""

from __future__ import annotations

import contextlib
import math
from numbers import Real

import pandas as pd

from forecasting.errors import ConfigError
from forecasting.parsing import parse_dates

AMOUNTS = ("capacity_units", "labour_hours", "units_per_hour")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def check_calendar(calendar: pd.DataFrame, known_sites: set[str]) -> pd.DataFrame:
    """A validated copy; :class:`ConfigError` naming the rule (1-based row) otherwise.

    In the copy every rule has a numeric ``capacity_units``: as given, or
    ``labour_hours * units_per_hour``.
    """
    columns = set(calendar.columns)
    if (
        "site" not in columns
        or not ({"capacity_units", "labour_hours"} & columns)
        or not ({"weekday", "date"} & columns)
    ):
        raise ConfigError(
            "a capacity calendar needs columns site, capacity_units (or labour_hours and "
            "units_per_hour) and weekday or date "
            f"(columns present: {', '.join(map(str, calendar.columns))})"
        )
    data = calendar.copy()
    data["site"] = data["site"].astype(str)
    given = data.reindex(columns=list(AMOUNTS))  # a missing column reads as blank
    capacity = []
    for i, (site, values) in enumerate(
        zip(data["site"], given.itertuples(index=False), strict=True), start=1
    ):
        capacity.append(rule_capacity(i, dict(zip(AMOUNTS, values, strict=True))))
        if site not in known_sites:
            raise ConfigError(
                f"calendar rule {i}: unknown site '{site}'; sites in the "
                f"data: {', '.join(sorted(known_sites))}"
            )
    data["capacity_units"] = capacity
    data = _with_rule_days(data)
    for key in ("weekday", "date"):
        if key not in data.columns:
            continue
        rules = data.dropna(subset=[key])
        clash = rules.duplicated(["site", key], keep=False)
        if clash.any():
            first = rules[clash].iloc[0]
            raise ConfigError(
                f"calendar rules overlap: site '{first['site']}' has more than one rule for "
                f"{key} {first[key]}; keep one"
            )
    return data


def rule_capacity(i: int, values: dict[str, object]) -> float:
    """Capacity of calendar rule ``i`` (1-based) from its ``AMOUNTS`` (blank = not given)."""
    units, hours, rate = (values[name] for name in AMOUNTS)
    if not blank(units) and not (blank(hours) and blank(rate)):
        raise ConfigError(
            f"calendar rule {i}: give capacity_units or labour_hours with units_per_hour, not both"
        )
    if not blank(units):
        return number(i, "capacity_units", units, ">= 0")
    if blank(hours) and blank(rate):
        raise ConfigError(
            f"calendar rule {i}: no capacity; give capacity_units, or labour_hours and "
            "units_per_hour"
        )
    if blank(hours):
        raise ConfigError(
            f"calendar rule {i}: units_per_hour needs labour_hours (hours of labour that day)"
        )
    labour = number(i, "labour_hours", hours, ">= 0")
    if blank(rate):
        raise ConfigError(
            f"calendar rule {i}: labour_hours needs units_per_hour (the work one labour hour "
            "handles, in the forecast's measure)"
        )
    return labour * number(i, "units_per_hour", rate, "> 0")


def blank(value: object) -> bool:
    """Not given: missing from the rule (NaN or None in the frame)."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))  # type: ignore[call-overload]  # a scalar, checked just before


def number(i: int, name: str, value: object, bound: str) -> float:
    """``value`` as a finite float satisfying ``bound`` (">= 0" or "> 0"); ConfigError if not."""
    out = math.nan
    if isinstance(value, Real | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):  # a word, not a number
            out = float(value)
    if not math.isfinite(out) or out < 0 or (bound == "> 0" and out == 0):
        shown = f"'{value}'" if isinstance(value, str) else str(value)
        raise ConfigError(f"calendar rule {i}: {name} must be a number {bound}, not {shown}")
    return out


def _with_rule_days(data: pd.DataFrame) -> pd.DataFrame:
    """``weekday`` as a number 0-6 (a name such as Monday or Mon reads as its number) and
    ``date`` as a day; each rule has exactly one of them. A value neither reads as used
    to become blank and its rule was dropped without a word; a day-first date was guessed."""
    none = pd.Series(None, index=data.index, dtype=object)
    weekday, date = data.get("weekday", none), data.get("date", none)
    for i, (day, when) in enumerate(zip(weekday, date, strict=True), start=1):
        if blank(day) == blank(when):
            raise ConfigError(
                f"calendar rule {i}: give either a weekday (0 = Monday, a recurring pattern) "
                "or a date (one day), " + ("not both" if not blank(day) else "not neither")
            )
    out = data.copy()
    if "weekday" in out.columns:
        days = [None if blank(day) else _weekday(i, day) for i, day in enumerate(weekday, 1)]
        out["weekday"] = pd.Series(days, index=out.index, dtype="Int64")
    if "date" in out.columns:
        out["date"], bad = parse_dates(date, ())
        if bad:
            position, raw = bad[0]
            raise ConfigError(
                f"calendar rule {position + 1}: date '{raw}' is not a date; write it as YYYY-MM-DD"
            )
    return out


def _weekday(i: int, value: object) -> int:
    text = str(value).strip().lower()
    for position, name in enumerate(WEEKDAYS):
        if text in (name, name[:3]):
            return position
    with contextlib.suppress(ValueError):
        given = float(text)
        if given in range(7):
            return int(given)
    raise ConfigError(
        f"calendar rule {i}: weekday '{value}' is not a day of the week; write 0 (Monday) to 6 "
        "(Sunday), or its name"
    )
