"""What the pages keep per app: the session signer, the templates, the store figures and
the demand series index of the serving model; and the thread that computes the figures
when the app starts (:meth:`WebState.start_warming`, from the app's lifespan)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated

import pandas as pd
from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from api.accuracy_cache import AccuracyCache
from api.model_store import LoadedModel, ModelStore, Snapshot
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
GRACE = 0.1  # seconds a page waits for a figure still being computed, then says so
MODELS_POLL = 0.2  # seconds between looks at the model store while its first load runs
REFRESH_AFTER = 5  # seconds: a page with figures still being computed reloads itself


def pending_page(response: Response) -> Response:
    """``response`` (a page that says some figures are still being computed) reloading
    itself after a few seconds."""
    response.headers["Refresh"] = str(REFRESH_AFTER)
    return response


@dataclass
class WebState:
    settings: Settings
    sessions: Sessions
    templates: Jinja2Templates
    figures: OverviewFigures
    accuracy: AccuracyCache
    grace: float = GRACE  # how long a page waits for a figure being computed
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _index: tuple[object, SeriesIndex] | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _warming: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """True once the start-up warm-up computed the pages' figures (or gave up)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def start_warming(self, store: ModelStore) -> None:
        """Compute the pages' figures in a background thread, once the model store's first
        load has answered (the app's lifespan calls this: a planner's first page finds them
        ready instead of waiting 15 s on the demo store)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._warm_up, args=(store,), name="web-warm-up", daemon=True
            )
        self._thread.start()

    def stop_background_work(self, timeout: float = 5.0) -> None:
        """Stop the pages' background work as the app shuts down. The warm-up stops waiting
        for the models and starts no further figure; a figure under way finishes, waited
        for up to ``timeout`` s (an app shut down mid-figure would otherwise go on reading
        the store and logging after its logs and database are closed). Refreshes of stale
        figures queued by requests are dropped (:meth:`OverviewFigures.close`) for the
        same reason."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.figures.close()

    def _warm_up(self, store: ModelStore) -> None:
        try:
            snapshot = store.snapshot
            # The poller's first load: a service started without models (or a registry
            # that does not answer) is checked again, a warm-up waits for the answer.
            while snapshot.checked_at is None and not self._stop.wait(MODELS_POLL):
                snapshot = store.snapshot
            if not self._stop.is_set():
                with self._warming:
                    self._warm(snapshot)
        finally:
            self._ready.set()

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
        models = self.models_now(snapshot, None)
        assert models is not None  # without a wait, the figures wait for it
        return models

    def models_now(self, snapshot: Snapshot, wait: float | None) -> list[KindModels] | None:
        """:meth:`models`, or None while it is computed (waiting at most ``wait`` s)."""
        served = tuple(sorted((k, m.version, m.loaded_at) for k, m in snapshot.models.items()))
        return self.figures.get(
            ("models", served), lambda: list_models(snapshot, "read", self.accuracy), wait
        )

    def accuracy_by_lag(self) -> tuple[list[AccuracyRow], str | None]:
        """GET /v1/accuracy's rows by lag (the first four lags), or why there are none."""
        rows = self.accuracy_by_lag_now(None)
        assert rows is not None  # without a wait, the figures wait for it
        return rows

    def accuracy_by_lag_now(
        self, wait: float | None
    ) -> tuple[list[AccuracyRow], str | None] | None:
        """:meth:`accuracy_by_lag`, or None while it is computed (at most ``wait`` s)."""

        def compute() -> tuple[list[AccuracyRow], str | None]:
            try:
                answer = accuracy("read", self.accuracy, since=None, by="lag")
            except HTTPException as exc:  # 404: nothing published yet; 503: store down
                return [], str(exc.detail)
            return [row for row in answer.rows if row.lag is not None][:4], None

        return self.figures.get(("accuracy",), compute, wait)

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
        """Compute what the first pages need from the store (called while a planner signs
        in); nothing while the start-up warm-up runs (the same figures, computed once)."""
        if not self._warming.acquire(blocking=False):
            return
        try:
            self._warm(snapshot)
        finally:
            self._warming.release()

    def _warm(self, snapshot: Snapshot) -> None:
        """The overview's and at-risk page's figures first, then the accuracy, the models'
        drift check and the demand history."""
        self.figures.warm(snapshot)
        try:
            for figure in (
                self.accuracy_by_lag,
                lambda: self.models(snapshot),
                self.actuals,
                self.fva,
            ):
                if self._stop.is_set():
                    return
                figure()
        except Exception:  # the pages will show the error; a warm-up must not
            logger.exception("computing the pages' figures failed")

    def published(self) -> pd.DataFrame:
        """The lag-1 forecasts published for each series and period (level-prefixed ids)."""
        return self.figures.published()

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
