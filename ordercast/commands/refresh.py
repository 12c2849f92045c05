"""``ordercast refresh``: the daily job, forecasts brought up to date without a retrain.

Exit codes as ``train``: 0 published, 2 bad input or no champion to refresh, 3 nothing new
since the champion's data, 4 another demand training or refresh holds the lock.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import typer

from forecasting.errors import ConfigError
from forecasting.loaders import load_orders
from ordercast.logs import json_logging_active, say_error
from ordercast.settings import Settings, load_settings
from store.database import OrderStore
from store.orders import read_orders
from training.pipelines.common import EXIT_LOCKED, LockBusyError, training_lock
from training.pipelines.refresh import refresh as refresh_demand

logger = logging.getLogger(__name__)


def refresh(
    data: str | None = typer.Option(
        None,
        help="Order history: a file or a database URL (default: the order store, "
        "database.url in config or ORDERCAST_DATABASE_URL).",
    ),
    mapping: Path | None = typer.Option(None, help="Column mapping YAML for --data."),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
    lock_timeout: float = typer.Option(
        600.0, help="Seconds to wait for a demand training or refresh (then exit 4)."
    ),
) -> None:
    """Re-forecast every series from the latest actuals with the champion's model choices.

    No reselection and no backtest: each series keeps the model the last training chose,
    re-estimated on the new periods; the global model forecasts from the new lags. The
    result is registered as a new demand version (a refresh of the champion), becomes the
    champion, is served by the API on its next poll, and its forecasts are published to the
    order store for accuracy tracking.
    """
    settings = load_settings(config)
    orders = _orders(settings, data, mapping)
    try:
        with training_lock(settings, "demand", lock_timeout):
            outcome = refresh_demand(settings, orders)
    except LockBusyError as exc:
        say_error(f"error: {exc}")
        raise typer.Exit(EXIT_LOCKED) from exc
    logger.info(
        outcome.message,
        extra={"ctx_exit_code": outcome.exit_code, "ctx_version": outcome.version},
    )
    if not json_logging_active():
        typer.echo(outcome.message)
    raise typer.Exit(outcome.exit_code)


def _orders(settings: Settings, data: str | None, mapping: Path | None) -> pd.DataFrame:
    if data is not None:
        return load_orders(data, mapping or settings.data.mapping)
    store = OrderStore.open(settings.database.url)
    try:
        orders = read_orders(store)
    finally:
        store.dispose()
    if orders.empty:
        raise ConfigError(
            f"the order store at {store.url} holds no order lines: load them with "
            "`ordercast ingest FILE`, or give --data"
        )
    return orders


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(refresh)
