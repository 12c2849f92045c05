"""What a fitted at-risk model remembers of its training history.

A planner's batch (an API call) carries the open lines only. The features of those
lines also count what happened before: each vendor's, lane's and site's on-time record,
the site's throughput and recent orders. Without that history every record is empty and
every site looks idle, and a batch scored in the middle of a backlog comes out as calm
as any other. So the model keeps the lines settled (delivered) before its training date
as the events the features count, and adds them to whatever a batch brings.

Only the compact lines are pickled; the sorted event tables are built on first use.
Lines the model remembers are recognised by a hash of their ``line_id`` and left out of
a batch's own history, so a file that repeats them is not counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forecasting.risk.history import (
    GroupEvents,
    WorkEvents,
    joined,
    outcome_events,
    work_events,
)
from forecasting.risk.labels import is_late
from forecasting.risk.site_load import daily_flows

DATES = ("order_date", "promised_date", "delivered_date", "ship_date")


def line_hashes(line_ids: pd.Series) -> np.ndarray:
    """A 64-bit hash per line id (a batch is matched against up to millions of them)."""
    return pd.util.hash_pandas_object(line_ids.astype(str), index=False).to_numpy()


class HistoryMemory:
    """The lines of ``history`` delivered before ``as_of``, by the groups of ``groups``."""

    def __init__(
        self,
        history: pd.DataFrame,
        as_of: pd.Timestamp,
        groups: Mapping[str, tuple[str, ...]],
    ) -> None:
        settled = history[history["delivered_date"] < pd.Timestamp(as_of)]
        lines = pd.DataFrame(index=pd.RangeIndex(len(settled)))
        for column in DATES:
            if column in settled.columns:
                lines[column] = settled[column].to_numpy("datetime64[ns]")
        lines["quantity"] = settled["quantity"].to_numpy(float)
        lines["late"] = is_late(settled).to_numpy(float)
        lines["site"] = pd.Categorical(settled["site"].astype(str).to_numpy())
        self.groups = {
            name: cols for name, cols in groups.items() if all(c in settled.columns for c in cols)
        }
        for name, cols in self.groups.items():
            lines[f"group:{name}"] = pd.Categorical(joined(settled, cols).to_numpy())
        self.lines = lines
        self.hashes = np.sort(line_hashes(settled["line_id"]))
        self._tables: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.lines)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tables": {}}

    def unseen(self, orders: pd.DataFrame) -> np.ndarray:
        """True for the rows of ``orders`` whose line the model does not remember."""
        hashes = line_hashes(orders["line_id"])
        if len(self.hashes) == 0:
            return np.ones(len(hashes), dtype=bool)
        at = np.clip(np.searchsorted(self.hashes, hashes), 0, len(self.hashes) - 1)
        return np.asarray(self.hashes[at] != hashes)

    def outcomes(self, name: str) -> list[GroupEvents]:
        """The outcome events of group ``name`` (none if the training data lacked it)."""
        if name not in self.groups:
            return []
        key = f"outcomes:{name}"
        if key not in self._tables:
            group = self.lines[f"group:{name}"].astype(str)
            self._tables[key] = outcome_events(self.lines, group)
        return [self._tables[key]]

    def work(self) -> list[WorkEvents]:
        """The order flow of each site."""
        if "work" not in self._tables:
            self._tables["work"] = work_events(self.lines, self.lines["site"].astype(str))
        return [self._tables["work"]]

    def daily(self) -> pd.DataFrame:
        """Units ordered and shipped per site and day."""
        if "daily" not in self._tables:
            self._tables["daily"] = daily_flows(self.lines)
        return self._tables["daily"]

    def warm(self) -> None:
        """Build every table now (a service does it on load, not on its first request)."""
        for name in self.groups:
            self.outcomes(name)
        self.work()
        self.daily()
