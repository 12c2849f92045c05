"""``ordercast refresh [KIND]``: the daily job, every model brought up to date without a retrain.

Exit codes: 0 something was published, 2 bad input (or no champion of a kind asked for by
name), 3 nothing new since the champions' data for every kind, 4 another training or
refresh of some kind held its lock past --lock-timeout (the other kinds are still
refreshed; run again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from forecasting.errors import ConfigError
from ordercast.commands.outcome import announce
from ordercast.logs import json_logging_active, say_error
from ordercast.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from training.pipelines.common import TrainOutcome

logger = logging.getLogger(__name__)

# The pipelines (MLflow) and the store are imported when a refresh runs, not for `--help`
# (4.7 s when they came with the module).
KINDS = ("demand", "capacity", "risk")


def refreshes() -> dict[str, Callable[[Settings, pd.DataFrame], TrainOutcome]]:
    """Each kind's refresh."""
    from training.pipelines import refresh as refresh_demand
    from training.pipelines import refresh_capacity, refresh_risk

    return {
        "demand": refresh_demand.refresh,
        "capacity": refresh_capacity.refresh,
        "risk": refresh_risk.refresh,
    }


class Kind(StrEnum):
    demand = "demand"
    capacity = "capacity"
    risk = "risk"
    all = "all"


def refresh(
    kind: Kind = typer.Argument(
        Kind.all, help="Which champion to refresh: demand, capacity, risk or all."
    ),
    data: str | None = typer.Option(
        None,
        help="Order history: a file or a database URL (default: the order store, "
        "database.url in config or ORDERCAST_DATABASE_URL).",
    ),
    mapping: Path | None = typer.Option(None, help="Column mapping YAML for --data."),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
    lock_timeout: float = typer.Option(
        600.0,
        min=0,
        help="Seconds to wait for a training or refresh of the same kind (then that kind is "
        "skipped and the exit code is 4).",
    ),
) -> None:
    """Bring the champions up to date with the latest orders, without retraining.

    demand: each series' chosen model re-estimated on the new periods; forecasts published.

    risk: the track records and site load take in the lines delivered since training.

    capacity: the outlook starts from today's open orders; the new work is forecast again.

    Each result is a new version (a refresh of its champion) and becomes the champion.

    KIND all (the default) skips, with a note, a kind that was never trained.
    """
    from training.pipelines.common import EXIT_LOCKED, LockBusyError, training_lock
    from training.pipelines.refresh_common import NoChampionError

    settings = load_settings(config)
    orders = _orders(settings, data, mapping)
    kinds = list(KINDS) if kind is Kind.all else [kind.value]
    run = refreshes()
    codes = []
    for name in kinds:
        try:
            with training_lock(settings, name, lock_timeout):
                outcome = run[name](settings, orders)
        except LockBusyError as exc:
            say_error(f"error: {exc}")
            codes.append(EXIT_LOCKED)
            continue
        except NoChampionError as exc:
            if kind is not Kind.all:
                raise
            _note(f"note: {name} skipped: {exc}")
            continue
        announce(outcome)
        codes.append(outcome.exit_code)
    if not codes:
        raise ConfigError(
            "no champion of any kind to refresh: run `ordercast train all` (or "
            "`ordercast train demand`) first"
        )
    raise typer.Exit(_exit_code(codes))


def _exit_code(codes: list[int]) -> int:
    """4 when a kind's lock was busy (the job must run again), else 0 when any kind was
    published, else 3 (nothing new anywhere)."""
    from training.pipelines.common import EXIT_LOCKED
    from training.pipelines.refresh_common import EXIT_NOTHING_NEW

    if EXIT_LOCKED in codes:
        return EXIT_LOCKED
    return 0 if 0 in codes else EXIT_NOTHING_NEW


def _note(message: str) -> None:
    """A kind skipped: a warning record with --log-json, else a line on stderr."""
    if json_logging_active():
        logger.warning(message)
    else:
        typer.secho(message, err=True, fg=typer.colors.YELLOW)


def _orders(settings: Settings, data: str | None, mapping: Path | None) -> pd.DataFrame:
    from forecasting.loaders import load_orders
    from store.database import OrderStore
    from store.orders import read_orders

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
