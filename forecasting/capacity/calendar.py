"""User capacity calendars: weekday patterns and dated rules (closures, extra shifts).

A calendar frame has ``site``, either ``weekday`` (0 = Monday, a recurring pattern) or
``date`` (one day, overriding the pattern), and the capacity of each rule: either
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

AMOUNTS = ("capacity_units", "labour_hours", "units_per_hour")


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
    if "date" in data.columns:
        data["date"] = pd.to_datetime(data["date"], errors="coerce")
    if "weekday" in data.columns:
        data["weekday"] = pd.to_numeric(data["weekday"], errors="coerce")
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
