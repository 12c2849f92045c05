"""Keep every published demand forecast in the order store, with what it should score.

A training that promotes a version, and every refresh, publishes the forecasts the
service now serves: each series at each level, each period ahead, the mean and the
P10/P50/P90, and beside them the backtest's accuracy at each lag. Accuracy tracking holds
these against the actuals as they arrive (``ordercast accuracy``, ``GET /v1/accuracy``).
"""

from __future__ import annotations

import logging

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.expectations import backtest_expectations
from forecasting.demand.serving import DemandServingModel
from forecasting.errors import OrdercastError
from ordercast.settings import Settings
from store.database import OrderStore
from store.publications import publish_forecasts
from training.adjustments import reapply

logger = logging.getLogger(__name__)
PUBLISHED_QUANTILES = (0.1, 0.5, 0.9)


def publish_demand(
    settings: Settings,
    *,
    kind: str,
    model_name: str,
    version: str,
    parent_version: str | None,
    model: AutoForecaster,
    core: DemandServingModel,
    series: pd.DataFrame,
) -> int:
    """Write the served forecasts of ``core`` and their expectations; the publication id."""
    expectations = backtest_expectations(
        model.backtest_residuals(), series, model.backtest_, model.selection_
    )
    store = OrderStore.open(settings.database.url)
    try:
        publication = publish_forecasts(
            store,
            kind=kind,
            model_name=model_name,
            model_version=version,
            parent_version=parent_version,
            origin=pd.Timestamp(series["ds"].max()),
            freq=core.freq,
            forecasts=core.to_frame(PUBLISHED_QUANTILES),
            expectations=expectations,
        )
        logger.info("published %s v%s as publication %d", model_name, version, publication)
        _reapply_adjustments(store, core)
    finally:
        store.dispose()
    return publication


def _reapply_adjustments(store: OrderStore, core: DemandServingModel) -> None:
    """Planners' adjustments follow their series and periods onto the new forecast: expire
    the passed ones, keep what the active ones now set, name those that no longer apply.
    A failure here is logged, not raised: the new version is already published and served,
    and the service applies the adjustments itself."""
    try:
        adjusted = reapply(store, core)
    except (OrdercastError, SQLAlchemyError) as exc:
        logger.error("planner adjustments were not re-applied to the new forecast: %s", exc)
        return
    if len(adjusted.applied_ids):
        logger.info(
            "re-applied %d planner adjustment(s) to the new forecast%s",
            len(adjusted.applied_ids),
            f"; {len(adjusted.orphaned)} no longer apply" if len(adjusted.orphaned) else "",
        )
