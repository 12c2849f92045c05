"""The served demand forecast with the planners' adjustments applied, kept until either
changes: a new champion, or a new adjustment event in the order store (made by this worker,
another worker, or the CLI), which is looked for at most every ``check_seconds``.

Forecasts never wait on the order store: when it cannot be read, the statistical forecast
is served with a warning saying so.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from fastapi import HTTPException

from api.model_store import LoadedModel
from api.order_store import OrderStoreHandle
from forecasting.cores import DemandCore
from forecasting.demand.adjustments import AdjustedForecast, active, apply_adjustments
from forecasting.demand.serving import DemandServingModel
from store.schema import adjustment_events
from training.adjustments import first_period, stored_adjustments

logger = logging.getLogger(__name__)
RETRY_SECONDS = 30.0  # after the order store failed to answer, before asking it again
UNAVAILABLE = (
    "planner adjustments could not be read from the order store; these are the statistical "
    "forecasts"
)


@dataclass(frozen=True)
class Adjusted:
    """What a demand answer needs: the adjusted forecast (None: no active adjustment), or
    the warning that adjustments could not be read; ``revision`` keys response caches."""

    forecast: AdjustedForecast | None
    revision: tuple[int, int]
    warning: str | None = None
    _ids: dict[tuple[str, str], list[list[str]]] = field(default_factory=dict, repr=False)

    def ids(self, level: str, series_id: str) -> list[list[str]]:
        """Per served period, the adjustments that change the series (empty lists when
        none do); worked out once per series for this revision."""
        key = (level, series_id)
        found = self._ids.get(key)
        if found is None:
            plan = self.forecast
            if plan is None or not plan.touching(level, series_id):
                found = []
            else:
                found = [list(ids) for ids in plan.points(level, series_id)["adjustments"]]
            self._ids[key] = found  # a race computes the same value twice: harmless
        return found


OUT_OF_REACH = Adjusted(None, (-1, -1), UNAVAILABLE)


class AdjustmentsView:
    """One per app; thread-safe."""

    def __init__(self, handle: OrderStoreHandle, check_seconds: float = 1.0) -> None:
        self._handle = handle
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._retry_after = float("-inf")
        self._revision: tuple[int, int] | None = None
        self._key: tuple[object, ...] | None = None
        self._current: Adjusted | None = None

    def fresh(self, loaded: LoadedModel[DemandCore]) -> Adjusted | None:
        """The answer without touching the store, when the last look is recent enough and was
        for this model (what an event-loop handler calls first); None: call :meth:`current`
        (in a thread: it may read the store and rebuild)."""
        current, key = self._current, self._key
        now = time.monotonic()
        recent = now - self._checked_at < self._check_seconds
        if not isinstance(loaded.core, DemandServingModel):
            return Adjusted(None, (0, 0))
        if now < self._retry_after:
            return OUT_OF_REACH
        if (
            recent
            and current is not None
            and key is not None
            and key[:2]
            == (
                loaded.version,
                loaded.loaded_at,
            )
        ):
            return current
        return None

    def current(self, loaded: LoadedModel[DemandCore]) -> Adjusted:
        core = loaded.core
        if not isinstance(core, DemandServingModel):  # a model that cannot be adjusted
            return Adjusted(None, (0, 0))
        with self._lock:
            if time.monotonic() < self._retry_after:
                return OUT_OF_REACH
            try:
                revision = self._latest_revision()
            except (HTTPException, sa.exc.SQLAlchemyError) as exc:
                # Not again for a while: a store that is down must not slow every forecast.
                self._retry_after = time.monotonic() + RETRY_SECONDS
                logger.warning("%s: %s", UNAVAILABLE, getattr(exc, "detail", exc))
                return OUT_OF_REACH
            key = (loaded.version, loaded.loaded_at, revision)
            if self._key != key or self._current is None:
                self._current = self._build(core, revision)
                self._key = key
            return self._current

    def changed(self) -> None:
        """This worker changed the adjustments: look again on the next request."""
        with self._lock:
            self._checked_at = float("-inf")

    def _latest_revision(self) -> tuple[int, int]:
        now = time.monotonic()
        if self._revision is not None and now - self._checked_at < self._check_seconds:
            return self._revision
        e = adjustment_events.c
        store = self._handle.get()
        with store.engine.connect() as connection:
            count, last = connection.execute(sa.select(sa.func.count(), sa.func.max(e.id))).one()
        self._revision = (int(count), int(last or 0))
        self._checked_at = now
        return self._revision

    def _build(self, core: DemandServingModel, revision: tuple[int, int]) -> Adjusted:
        if revision[0] == 0:
            return Adjusted(None, revision)
        store = self._handle.get()
        adjustments = active(stored_adjustments(store), first_period(core))
        if not adjustments:
            return Adjusted(None, revision)
        return Adjusted(apply_adjustments(core, adjustments), revision)
