"""Default seasonal periods and backtest horizons by frequency."""

from __future__ import annotations

from pandas.tseries.frequencies import to_offset

# Main period first: the one short-series models use.
SEASONS: dict[str, tuple[int, ...]] = {
    "h": (24, 168),
    "min": (60,),
    "D": (7, 365),
    "B": (5,),
    "W": (52,),
    "M": (12,),
    "Q": (4,),
    "Y": (1,),
}
HORIZONS: dict[str, int] = {"h": 48, "min": 60, "D": 28, "B": 20, "W": 13, "M": 12, "Q": 8, "Y": 4}


def frequency_family(freq: str) -> str:
    """'W-SUN' -> 'W', 'MS'/'ME' -> 'M', 'QS-JAN' -> 'Q', 'h'/'H' -> 'h'."""
    code = to_offset(freq).rule_code.split("-")[0]
    if code.upper() == "H":
        return "h"
    for family in ("min", "D", "B", "W", "M", "Q", "Y"):
        if code == family or code.startswith(family) or code.upper().startswith(family):
            return family
    return "D"


def default_seasons(freq: str) -> tuple[int, ...]:
    return SEASONS[frequency_family(freq)]


def default_horizon(freq: str) -> int:
    return HORIZONS[frequency_family(freq)]
