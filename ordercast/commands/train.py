"""``ordercast train``: the scheduler's one command.

Exit codes: 0 trained and promoted (or already up to date), 3 trained but the gate kept
the champion (the new version scored no better on the same window), 2 bad input or
configuration (nothing registered), 1 failure, 4 another training of the same kind held
the lock past --lock-timeout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from forecasting.errors import ConfigError
from ordercast.commands.outcome import announce
from ordercast.logs import say_error
from ordercast.settings import Settings, load_settings

if TYPE_CHECKING:
    import pandas as pd

    from training.pipelines.common import TrainOutcome

logger = logging.getLogger(__name__)

# The pipelines, MLflow and pandas are imported when a training runs, not for `--help`
# (which took 4.6 s to show these options when they were imported with the module).
KINDS = ("demand", "capacity", "risk")


def pipelines() -> dict[str, Callable[..., TrainOutcome]]:
    """Each kind's training pipeline."""
    from training.pipelines import capacity, demand, risk

    return {"demand": demand.train, "capacity": capacity.train, "risk": risk.train}


class Kind(StrEnum):
    demand = "demand"
    capacity = "capacity"
    risk = "risk"
    all = "all"


def train(
    kind: Kind = typer.Argument(..., help="Which model to train: demand, capacity, risk or all."),
    data: str | None = typer.Option(
        None,
        help="Order history: a file or a database URL. Default: the order store "
        "(database.url, filled by `ordercast ingest`), or data.path when the store is empty.",
    ),
    mapping: Path | None = typer.Option(None, help="Column mapping YAML for the history."),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
    as_of: str | None = typer.Option(None, help="Train on orders up to this date (YYYY-MM-DD)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Train even when the champion (or a challenger the gate kept) was already "
        "trained on this data with this configuration. The gate still decides on promotion.",
    ),
    promote: bool = typer.Option(
        False,
        "--promote",
        help="Promote the new version whatever its score (the decision says so, with both "
        "scores). Does not retrain an up-to-date champion: add --force for that.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate the data and configuration; write nothing."
    ),
    lock_timeout: float = typer.Option(
        600.0, min=0, help="Seconds to wait for another training of the same kind (then exit 4)."
    ),
    dask: str | None = typer.Option(
        None,
        "--dask",
        help="Run demand's per-series fits on this Dask scheduler (e.g. tcp://host:8786), "
        "as `ordercast forecast --dask` does; capacity and risk train here as before.",
    ),
) -> None:
    """Train, track in MLflow, register, and promote when the new version is better.

    Every score is a loss (lower is better). The new version is promoted only when it beats
    the champion's score on the same evaluation window by more than gate.margin: demand's
    champion is scored by its model choices on the new backtest windows, capacity's and
    risk's by their recipe rerun there (a refit of the same recipe on newer data scores
    what the champion's does, and is kept as challenger: exit 3; `ordercast refresh`
    brings newer orders to the champion). --promote promotes anyway. Idempotent: the same
    data and configuration leave the registry as it is.
    """
    from forecasting.loaders import is_database_url
    from training.pipelines.common import EXIT_LOCKED, LockBusyError, training_lock

    settings = load_settings(config)
    history = _order_store_history(settings) if data is None and mapping is None else None
    source = data or settings.data.path
    default_file = history is None and data is None and not is_database_url(source)
    if default_file and not Path(source).exists():
        _generate_default(Path(source))
    cutoff = _parse_date(as_of)
    kinds = list(KINDS) if kind is Kind.all else [kind.value]
    run = pipelines()
    codes = []
    for name in kinds:
        try:
            with training_lock(settings, name, lock_timeout), _cluster(dask, name):
                outcome: TrainOutcome = run[name](
                    settings,
                    Path(source) if history is None else history,
                    mapping or settings.data.mapping,
                    cutoff,
                    force,
                    dry_run,
                    promote,
                )
        except LockBusyError as exc:
            say_error(f"error: {exc}")
            raise typer.Exit(EXIT_LOCKED) from exc
        announce(outcome)
        codes.append(outcome.exit_code)
    raise typer.Exit(max(codes))


@contextlib.contextmanager
def _cluster(address: str | None, kind: str) -> Iterator[None]:
    """Demand's joblib work (per-series backtests and fits) on the Dask cluster at
    ``address`` while the pipeline runs; nothing for other kinds or without an address."""
    if address is None or kind != "demand":
        yield
        return
    from joblib import parallel_config

    from ordercast.commands.demand import dask_client

    with dask_client(address), parallel_config(backend="dask"):
        yield


def _order_store_history(settings: Settings) -> pd.DataFrame | None:
    """Every line in the order store, or None (with a note) when it holds none yet."""
    from store.database import OrderStore
    from store.orders import read_orders

    store = OrderStore.open(settings.database.url)
    try:
        orders = read_orders(store)
    finally:
        store.dispose()
    if orders.empty:
        logger.info(
            "the order store at %s holds no order lines yet (`ordercast ingest` fills it): "
            "training on %s",
            store.url,
            settings.data.path,
        )
        return None
    logger.info(
        "training on the %s order lines in the order store at %s", f"{len(orders):,}", store.url
    )
    return orders


def _parse_date(text: str | None) -> pd.Timestamp | None:
    import pandas as pd

    if text is None:
        return None
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"--as-of '{text}' is not a date like 2025-06-30") from exc


def _generate_default(path: Path) -> None:
    """A fresh machine has no history: make the synthetic demo one, so training just works."""
    from forecasting.synthetic import capacity_path_for, generate_orders
    from ordercast.outputs import write_frame

    logger.info("no order history at %s: generating the synthetic demo history", path)
    history = generate_orders()
    write_frame(history.orders, path)
    write_frame(history.capacity, capacity_path_for(path))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(train)
