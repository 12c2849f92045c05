"""Planner adjustments between the order store and the served demand forecast: read the
stored ones, apply them to a statistical forecast, keep what each one set, expire the ones
whose periods have passed, and measure forecast value added once actuals arrive.

The service (on every change) and publishing (after every training or refresh) call
:func:`reapply`, so an adjustment follows the series and periods it names through new
model versions, and says so when its series is gone.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from forecasting.accuracy import NothingPublishedError, series_actuals
from forecasting.demand.adjustments import (
    AdjustedForecast,
    Adjustment,
    active,
    apply_adjustments,
)
from forecasting.demand.fva import ForecastValueAdded, forecast_value_added
from forecasting.demand.serving import DemandServingModel
from ordercast.settings import Settings
from store.adjustments import close_adjustment, read_adjustments, read_values, record_values
from store.database import OrderStore
from store.orders import read_orders

logger = logging.getLogger(__name__)
SYSTEM_AUTHOR = "ordercast"  # who expires an adjustment whose periods have passed


def stored_adjustments(store: OrderStore, status: str | None = "active") -> list[Adjustment]:
    """The store's adjustments (active ones by default) as the domain's values."""
    records: list[dict[Any, Any]] = read_adjustments(store, status=status).to_dict("records")
    return [Adjustment.from_record(record) for record in records]


def first_period(model: DemandServingModel) -> pd.Timestamp:
    """The first period the model forecasts: adjustments ending before it have expired."""
    first = next(iter(next(iter(model.paths.values())).values()))
    return pd.Timestamp(first.ds[0])


def reapply(store: OrderStore, model: DemandServingModel) -> AdjustedForecast:
    """Expire the adjustments whose last period is before the first one ``model`` serves
    (an audited event by ``ordercast``; their kept values stay for forecast value added),
    apply the others and keep the values each one now sets in the periods not yet begun;
    logs each one that no longer applies."""
    cut = first_period(model)
    adjustments = stored_adjustments(store)
    still = active(adjustments, cut)
    passed = [a for a in adjustments if a not in still]
    values = read_values(store) if passed else pd.DataFrame(columns=["adjustment_id"])
    for adjustment in passed:
        own = values[values["adjustment_id"] == adjustment.id]
        close_adjustment(store, adjustment.id, "expired", SYSTEM_AUTHOR, own)
        logger.info(
            "adjustment %s (%s %s) expired", adjustment.id, adjustment.level, adjustment.series_id
        )
    adjusted = apply_adjustments(model, still)
    record_values(store, adjusted.applied, cut - pd.Timedelta(days=1))
    for row in adjusted.orphaned.itertuples(index=False):
        logger.warning(
            "adjustment %s by %s on %s %s no longer applies: %s",
            row.adjustment_id,
            row.author,
            row.level,
            row.series_id,
            row.problem,
        )
    return adjusted


def fva_report(settings: Settings) -> ForecastValueAdded:
    """Forecast value added of every adjustment whose periods have actuals in the store.

    Raises :class:`NothingPublishedError` when no adjustment has an actual yet."""
    store = OrderStore.open(settings.database.url)
    try:
        values = read_values(store)
        orders = read_orders(store) if not values.empty else pd.DataFrame()
    finally:
        store.dispose()
    if values.empty:
        raise NothingPublishedError(
            "no planner adjustments are stored yet: POST /v1/forecasts/demand/adjustments makes one"
        )
    demand = settings.demand
    actuals = series_actuals(
        orders, levels=demand.levels, freq=demand.freq, date_col=demand.date_column
    )
    actuals = actuals.assign(series_id=actuals["series_id"].str.split(":", n=1).str[1])
    report = forecast_value_added(values, actuals)
    if report.per_adjustment.empty:
        raise NothingPublishedError(
            f"none of the {values['adjustment_id'].nunique():,} adjustments has a complete "
            "period with actuals yet"
        )
    return report
