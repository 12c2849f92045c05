"""What a fitted at-risk model remembers of its training history.

A planner's batch (an API call) carries the open lines only. The features of those
lines also count what happened before: each vendor's, lane's and site's on-time record,
the site's throughput and recent orders. Without that history every record is empty and
every site looks idle, and a batch scored in the middle of a backlog comes out as calm
as any other. So the model keeps the lines settled (delivered) before its training date
as the events the features count, and adds them to whatever a batch brings.

Lines the model remembers are recognised by a hash of their ``line_id`` and left out of
a batch's own history, so a file that repeats them is not counted twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecasting.capacity.flows import daily_work
from forecasting.risk.history import (
    GroupEvents,
    WorkEvents,
    joined,
    outcome_events,
    work_events,
)


def line_hashes(line_ids: pd.Series) -> np.ndarray:
    """A 64-bit hash per line id (a batch is matched against up to millions of them)."""
    return pd.util.hash_pandas_object(line_ids.astype(str), index=False).to_numpy()


class HistoryMemory:
    """The lines of ``history`` delivered before ``as_of``, as the events the features count
    (late: delivered more than ``tolerance_days`` after the promise, as the records count).

    Kept as event tables with one entry per group and day (:meth:`GroupEvents.compact`),
    so the memory grows with the calendar and the number of groups rather than with the
    lines, plus a 64-bit hash per line to recognise them in a batch. ``as_of`` is kept:
    what the memory knows is as of that date (a refreshed model's memory is newer than its
    training date).
    """

    def __init__(
        self,
        history: pd.DataFrame,
        as_of: pd.Timestamp,
        groups: Mapping[str, tuple[str, ...]],
        tolerance_days: int = 0,
    ) -> None:
        self.as_of = pd.Timestamp(as_of)
        settled = history[history["delivered_date"] < self.as_of].reset_index(drop=True)
        self.groups = {
            name: cols for name, cols in groups.items() if all(c in settled.columns for c in cols)
        }
        self._outcomes = {
            name: outcome_events(settled, joined(settled, cols), tolerance_days).compact()
            for name, cols in self.groups.items()
        }
        site = settled["site"].astype(str)
        flows = work_events(settled, site)
        self._work = WorkEvents(
            *(getattr(flows, field.name).compact() for field in dataclasses.fields(flows))
        )
        self._daily = daily_work(settled)
        self.line_count = len(settled)
        self.hashes = np.sort(line_hashes(settled["line_id"]))

    def __len__(self) -> int:
        return self.line_count

    def unseen(self, orders: pd.DataFrame) -> np.ndarray:
        """True for the rows of ``orders`` whose line the model does not remember."""
        hashes = line_hashes(orders["line_id"])
        if len(self.hashes) == 0:
            return np.ones(len(hashes), dtype=bool)
        at = np.clip(np.searchsorted(self.hashes, hashes), 0, len(self.hashes) - 1)
        return np.asarray(self.hashes[at] != hashes)

    def outcomes(self, name: str) -> list[GroupEvents]:
        """The outcome events of group ``name`` (none if the training data lacked it)."""
        return [self._outcomes[name]] if name in self._outcomes else []

    def work(self) -> list[WorkEvents]:
        """The order flow of each site."""
        return [self._work]

    def daily(self) -> pd.DataFrame:
        """Units released (ordered) and shipped per site and day (a ``daily_work`` table)."""
        return self._daily
