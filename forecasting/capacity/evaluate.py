"""Scoring a projected backlog against the backlog that came about (pure, frames in/out)."""

from __future__ import annotations

import pandas as pd

TOLERANCE = 0.5  # units: a band [0, 0] around a true backlog of 0 covers it


def backlog_scores(
    outlook: pd.DataFrame, truth: pd.DataFrame, as_of: pd.Timestamp, lead: int
) -> pd.DataFrame:
    """One row per site for the day ``lead`` days after ``as_of``: ``site, as_of, lead,
    p10, p50, p90, actual, persisted, covered, error, persisted_error``.

    ``outlook`` is :meth:`CapacityForecaster.predict`'s frame; ``truth`` has ``site, date,
    backlog`` (end-of-day backlog that came about, every day from ``as_of``). ``covered``:
    the P10-P90 band holds the actual backlog (within :data:`TOLERANCE`); ``error`` and
    ``persisted_error``: absolute errors of the P50 and of "today's backlog persists".
    """
    day = as_of + pd.Timedelta(days=lead)
    ends = outlook[outlook["ds"] == day].set_index("site")
    actual = truth[truth["date"] == day].set_index("site")["backlog"]
    today = truth[truth["date"] == as_of].set_index("site")["backlog"]
    sites = ends.index.intersection(actual.index)
    out = pd.DataFrame(
        {
            "site": sites,
            "as_of": as_of,
            "lead": lead,
            "p10": ends.loc[sites, "backlog_p10"].to_numpy(float),
            "p50": ends.loc[sites, "backlog_p50"].to_numpy(float),
            "p90": ends.loc[sites, "backlog_p90"].to_numpy(float),
            "actual": actual.loc[sites].to_numpy(float),
            "persisted": today.reindex(sites).fillna(0.0).to_numpy(float),
        }
    )
    out["covered"] = (out["actual"] >= out["p10"] - TOLERANCE) & (
        out["actual"] <= out["p90"] + TOLERANCE
    )
    out["error"] = (out["p50"] - out["actual"]).abs()
    out["persisted_error"] = (out["persisted"] - out["actual"]).abs()
    return out
