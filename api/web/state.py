"""What the pages keep per app: the session signer, the templates, the store figures and
the demand series index of the serving model."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated

import pandas as pd
from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from api.model_store import LoadedModel, Snapshot
from api.web.demand_view import SeriesIndex
from api.web.figures import OverviewFigures
from api.web.session import Sessions
from forecasting.accuracy import series_actuals
from forecasting.cores import DemandCore
from ordercast.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class WebState:
    settings: Settings
    sessions: Sessions
    templates: Jinja2Templates
    figures: OverviewFigures
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _index: tuple[object, SeriesIndex] | None = None

    def series_index(self, loaded: LoadedModel[DemandCore]) -> SeriesIndex:
        """The picker's index of ``loaded``'s series, built once per model version (one
        pass over the served paths: ~10 ms for 10,000 series)."""
        key = (loaded.version, loaded.loaded_at)
        kept = self._index
        if kept is not None and kept[0] == key:
            return kept[1]
        index = SeriesIndex.of(loaded.core)
        with self._lock:
            self._index = (key, index)
        return index

    def warm(self, snapshot: Snapshot) -> None:
        """Compute what the first pages need from the store: the overview's figures and
        the demand history (called while a planner signs in)."""
        self.figures.warm(snapshot)
        try:
            self.actuals()
        except Exception:  # the demand page will show the error; a warm-up must not
            logger.exception("building the demand history failed")

    def actuals(self) -> pd.DataFrame:
        """Every served series' actuals by period (level-prefixed ids), as the accuracy
        check builds them, from the kept order lines."""
        demand = self.settings.demand
        return self.figures.kept(
            ("actuals",),
            lambda: series_actuals(
                self.figures.orders(),
                levels=demand.levels,
                freq=demand.freq,
                date_col=demand.date_column,
            ),
        )


async def get_web_state(request: Request) -> WebState:
    return request.app.state.web


WebStateDep = Annotated[WebState, Depends(get_web_state)]
