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
from forecasting.demand.adjustments import AdjustedForecast, Adjustment, apply_adjustments
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
    return [
        Adjustment(
            id=str(row["id"]),
            level=str(row["level"]),
            series_id=str(row["series_id"]),
            start=pd.Timestamp(row["start"]),
            end=pd.Timestamp(row["end"]),
            kind=row["kind"],
            value=float(row["value"]),
            author=str(row["author"]),
            reason=str(row["reason"]),
            reason_code=None if pd.isna(row["reason_code"]) else str(row["reason_code"]),
            split=row["split"] if isinstance(row["split"], dict) else None,
            created_at=pd.Timestamp(row["created_at"]),
        )
        for row in records
    ]


def first_period(model: DemandServingModel) -> pd.Timestamp:
    """The first period the model forecasts: adjustments ending before it have expired."""
    first = next(iter(next(iter(model.paths.values())).values()))
    return pd.Timestamp(first.ds[0])


def expire_passed(store: OrderStore, model: DemandServingModel) -> list[str]:
    """Mark active adjustments whose last period is before the first served one as expired
    (an audited event by ``ordercast``); their kept values stay for forecast value added."""
    cut = first_period(model)
    passed = [a for a in stored_adjustments(store) if a.end < cut]
    values = read_values(store)
    for adjustment in passed:
        own = values[values["adjustment_id"] == adjustment.id]
        close_adjustment(store, adjustment.id, "expired", SYSTEM_AUTHOR, own)
        logger.info(
            "adjustment %s (%s %s) expired", adjustment.id, adjustment.level, adjustment.series_id
        )
    return [a.id for a in passed]


def reapply(store: OrderStore, model: DemandServingModel) -> AdjustedForecast:
    """Expire the passed adjustments, apply the active ones to ``model`` and keep the values
    each one now sets in the periods not yet begun; logs each one that no longer applies."""
    expire_passed(store, model)
    adjusted = apply_adjustments(model, stored_adjustments(store))
    origin = first_period(model) - pd.Timedelta(days=1)
    record_values(store, adjusted.applied, origin)
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
