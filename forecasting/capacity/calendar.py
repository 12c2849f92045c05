"""User capacity calendars: weekday patterns and dated rules (closures, extra shifts).

A calendar frame has ``site`` and ``capacity_units``, and either ``weekday`` (0 = Monday,
a recurring pattern) or ``date`` (one day, overriding the pattern; 0 = closed).
"""

from __future__ import annotations

import pandas as pd

from forecasting.errors import ConfigError


def check_calendar(calendar: pd.DataFrame, known_sites: set[str]) -> pd.DataFrame:
    """A validated copy; :class:`ConfigError` naming the rule (1-based row) otherwise."""
    missing = [c for c in ("site", "capacity_units") if c not in calendar.columns]
    if missing or not ({"weekday", "date"} & set(calendar.columns)):
        raise ConfigError(
            "a capacity calendar needs columns site, capacity_units and weekday or date "
            f"(columns present: {', '.join(calendar.columns)})"
        )
    data = calendar.copy()
    data["site"] = data["site"].astype(str)
    data["capacity_units"] = pd.to_numeric(data["capacity_units"], errors="coerce")
    for i, row in enumerate(data.itertuples(index=False), start=1):
        if pd.isna(row.capacity_units) or row.capacity_units < 0:
            raise ConfigError(
                f"calendar rule {i}: capacity_units must be a number >= 0, not {row.capacity_units}"
            )
        if row.site not in known_sites:
            raise ConfigError(
                f"calendar rule {i}: unknown site '{row.site}'; sites in the "
                f"data: {', '.join(sorted(known_sites))}"
            )
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
