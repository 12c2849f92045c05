"""What the pages keep per app: the session signer, the templates, the store figures and
the demand series index of the serving model."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated

import pandas as pd
from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates

from api.accuracy_cache import AccuracyCache
from api.model_store import LoadedModel, Snapshot
from api.routes.accuracy import AccuracyRow, accuracy
from api.routes.models import KindModels, list_models
from api.web.demand_view import SeriesIndex
from api.web.figures import OverviewFigures
from api.web.session import Sessions
from forecasting.accuracy import NothingPublishedError, series_actuals
from forecasting.cores import DemandCore
from ordercast.settings import Settings
from training.adjustments import fva_report

logger = logging.getLogger(__name__)


@dataclass
class WebState:
    settings: Settings
    sessions: Sessions
    templates: Jinja2Templates
    figures: OverviewFigures
    accuracy: AccuracyCache
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

    def models(self, snapshot: Snapshot) -> list[KindModels]:
        """GET /v1/models' answer, kept per set of served versions: its drift flag reads
        every order line and the published forecasts (seconds on the demo history)."""
        served = tuple(sorted((k, m.version, m.loaded_at) for k, m in snapshot.models.items()))
        return self.figures.kept(
            ("models", served), lambda: list_models(snapshot, "read", self.accuracy)
        )

    def accuracy_by_lag(self) -> tuple[list[AccuracyRow], str | None]:
        """GET /v1/accuracy's rows by lag (the first four lags), or why there are none."""

        def compute() -> tuple[list[AccuracyRow], str | None]:
            try:
                answer = accuracy("read", self.accuracy, since=None, by="lag")
            except HTTPException as exc:  # 404: nothing published yet; 503: store down
                return [], str(exc.detail)
            return [row for row in answer.rows if row.lag is not None][:4], None

        return self.figures.kept(("accuracy",), compute)

    def fva(self) -> dict[str, float | None] | None:
        """Forecast value added per adjustment id, from GET /v1/accuracy/fva's own
        function (positive: the adjustment helped; None: no complete period yet); None
        while it is first computed in the background (it reads every order line)."""

        def compute() -> dict[str, float | None]:
            try:
                report = fva_report(self.settings)
            except NothingPublishedError:  # no adjustment has an actual yet
                return {}
            rows = report.per_adjustment
            return {
                str(i): (float(v) if pd.notna(v) else None)
                for i, v in zip(rows["adjustment_id"], rows["fva"], strict=True)
            }

        return self.figures.peek(("fva",), compute)

    def warm(self, snapshot: Snapshot) -> None:
        """Compute what the first pages need from the store: the overview's figures and
        the demand history (called while a planner signs in)."""
        self.figures.warm(snapshot)
        try:
            self.models(snapshot)
            self.accuracy_by_lag()
            self.actuals()
            self.fva()
        except Exception:  # the pages will show the error; a warm-up must not
            logger.exception("computing the pages' figures failed")

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
