"""The plan and a what-if side by side: what the scenario changes at each site.

Both outlooks come from the same model and the same simulated arrivals (the forecaster
seeds every ``predict`` alike), so every difference is the capacity's doing. Pure: two
outlook frames in, one row per site out.

A *shortfall-free* day is judged on open days only (capacity above zero): on a closed
day any work waiting counts as a shortfall, which no change on the open days can avoid,
so a weekend would otherwise hide every improvement the week brings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError

SHORTFALL_THRESHOLD = 0.5  # "likely": the threshold first_shortfall_dates uses too

COMPARISON_COLUMNS = [
    "site",
    "backlog_end_plan",
    "backlog_end_scenario",
    "backlog_cleared",
    "delay_days_saved",
    "shortfall_days_plan",
    "shortfall_days_scenario",
    "first_shortfall_free_plan",
    "first_shortfall_free_scenario",
]


def first_shortfall_free_day(
    ds: pd.Series | pd.DatetimeIndex,
    p_shortfall: np.ndarray,
    capacity: np.ndarray,
    threshold: float = SHORTFALL_THRESHOLD,
) -> pd.Timestamp | None:
    """The first open day from which ``p_shortfall`` stays below ``threshold`` on every
    open day to the end of the outlook; None when the last open day is not below it (or
    no day is open). ``ds``, ``p_shortfall`` and ``capacity`` are one site's days, in
    order."""
    days = pd.DatetimeIndex(ds)
    open_days = np.flatnonzero(np.asarray(capacity, dtype=float) > 0)
    if open_days.size == 0:
        return None
    risky = np.asarray(p_shortfall, dtype=float)[open_days] >= threshold
    if risky[-1]:
        return None
    last_risky = np.flatnonzero(risky)
    start = 0 if last_risky.size == 0 else int(last_risky[-1]) + 1
    return pd.Timestamp(days[open_days[start]])


def compare_outlooks(
    plan: pd.DataFrame, scenario: pd.DataFrame, threshold: float = SHORTFALL_THRESHOLD
) -> pd.DataFrame:
    """One row per site (:data:`COMPARISON_COLUMNS`) of what ``scenario`` changes
    against ``plan``; both are outlooks of the same sites and days (columns ``site, ds,
    capacity, p_shortfall, backlog_p50``, and ``expected_delay_days`` if given).

    * ``backlog_end_plan`` / ``_scenario``: the median backlog at the end of the last day
      (the model's measure, e.g. units); ``backlog_cleared`` is plan minus scenario
      (negative: the scenario leaves more work waiting).
    * ``delay_days_saved``: mean over the days of plan minus scenario
      ``expected_delay_days`` (how many days sooner the work available each day has all
      shipped); NaN when neither outlook gives it.
    * ``shortfall_days_*``: open days with ``p_shortfall >= threshold``.
    * ``first_shortfall_free_*``: see :func:`first_shortfall_free_day` (NaT: none).

    Raises :class:`ConfigError` when the two outlooks do not cover the same site-days.
    """
    keys = ["site", "ds"]
    left = plan.sort_values(keys, kind="stable").reset_index(drop=True)
    right = scenario.sort_values(keys, kind="stable").reset_index(drop=True)
    if len(left) != len(right) or not left[keys].equals(right[keys]):
        raise ConfigError("the plan and the scenario outlooks must cover the same sites and days")
    rows = []
    for site in dict.fromkeys(plan["site"]):
        a = left[left["site"] == site]
        b = right[right["site"] == site]
        end_a, end_b = float(a["backlog_p50"].iloc[-1]), float(b["backlog_p50"].iloc[-1])
        delay = np.nan
        if "expected_delay_days" in a.columns and "expected_delay_days" in b.columns:
            saved = a["expected_delay_days"].to_numpy(float) - b["expected_delay_days"].to_numpy(
                float
            )
            delay = float(np.nanmean(saved)) if np.isfinite(saved).any() else np.nan
        rows.append(
            {
                "site": site,
                "backlog_end_plan": end_a,
                "backlog_end_scenario": end_b,
                "backlog_cleared": end_a - end_b,
                "delay_days_saved": delay,
                "shortfall_days_plan": _shortfall_days(a, threshold),
                "shortfall_days_scenario": _shortfall_days(b, threshold),
                "first_shortfall_free_plan": _free(a, threshold),
                "first_shortfall_free_scenario": _free(b, threshold),
            }
        )
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    for column in ("first_shortfall_free_plan", "first_shortfall_free_scenario"):
        out[column] = pd.to_datetime(out[column])
    return out


def _shortfall_days(outlook: pd.DataFrame, threshold: float) -> int:
    open_days = outlook["capacity"].to_numpy(float) > 0
    return int((outlook["p_shortfall"].to_numpy(float)[open_days] >= threshold).sum())


def _free(outlook: pd.DataFrame, threshold: float) -> pd.Timestamp | None:
    return first_shortfall_free_day(
        outlook["ds"],
        outlook["p_shortfall"].to_numpy(float),
        outlook["capacity"].to_numpy(float),
        threshold,
    )
