"""Which features make a score a property of the line rather than of its day.

Walked forward on SCMS (#21), the at-risk model ranked lines well within each monthly
window but badly across them: its score followed features that are nearly the same for
every line on a given day — the site's load, and the track records of groups most lines
belong to (the site, who manages the line, first-line designation) — so every line's
p_late rose and fell together month to month. A plain booster on the lines' own
attributes, retrained monthly, ranked better. This module narrows the model's feature
space to what differs between the lines of one day:

- ``raw_categories``: every categorical attribute (2 to ``MAX_CATEGORIES`` values) enters
  the boosters as a category, as the static baseline reads it, instead of only the site;
- ``records``: which track records are kept: ``"all"``, ``"split"`` (only groups whose
  commonest value holds at most :data:`MAX_SHARED` of the history's lines: a record most
  lines share moves them all at once) or ``"none"``;
- the site-load features (:data:`SITE_LOAD`) and the line's clock (:data:`CLOCK`) are the
  model's to drop (:func:`day_features`).
"""

from __future__ import annotations

import pandas as pd

from forecasting.risk.features import FeatureSpace
from forecasting.risk.history import joined

RECORD_CHOICES = ("all", "split", "none")
# A group whose commonest value holds more of the lines than this shares its record with
# most lines on any day (SCMS: the site 56%, managed_by 100%, product group 83%).
MAX_SHARED = 0.5
# Computed from the site's open work and shipping on the scoring day: one value per site
# and day.
SITE_LOAD = (
    "site_open_units",
    "site_overdue_lines",
    "site_backlog_days",
    "site_utilization",
    "site_backlog_days_at_promise",
)

# How far the scoring moment is from the line's own dates: at training a line is seen at
# its order and at points while open, at scoring (a walk) close to its promise, open or
# already delivered; the booster took "close to the promise" for "still open, so late".
CLOCK = ("time_left_days", "age_days", "days_until_ordered")


def day_features(features: pd.DataFrame, site_load: bool, clock: bool) -> list[str]:
    """The columns of ``features`` to leave out: the site load's unless ``site_load``, the
    line's clock unless ``clock``."""
    drop = (() if site_load else SITE_LOAD) + (() if clock else CLOCK)
    return [c for c in drop if c in features.columns]


def shared_groups(history: pd.DataFrame, groups: dict[str, tuple[str, ...]]) -> list[str]:
    """The record groups of ``groups`` whose commonest value (the columns' values joined)
    holds more than :data:`MAX_SHARED` of ``history``'s lines, in ``groups``' order."""
    if history.empty:
        return []
    return [
        name
        for name, cols in groups.items()
        if joined(history, cols).value_counts(normalize=True).iloc[0] > MAX_SHARED
    ]


def line_space(
    space: FeatureSpace, history: pd.DataFrame, raw_categories: bool, records: str
) -> FeatureSpace:
    """``space`` narrowed as the parameters say (module docstring); ``space`` itself, changed
    in place (a fresh one is made for each fit)."""
    if raw_categories:
        space.native = dict(space.categorical)
    if records == "none":
        space.groups = {}
    elif records == "split":
        shared = set(shared_groups(history, space.groups))
        space.groups = {name: cols for name, cols in space.groups.items() if name not in shared}
    return space
