"""``ordercast ingest``: order lines from an export into the order store.

Exit codes: 0 the batch landed (even when nothing changed), 2 the batch was refused (rows
that break the contract under the mapping's ``invalid_rows: error``) or the source, the
mapping or the store could not be used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from tqdm.auto import tqdm

from forecasting.errors import DataContractError
from ordercast.commands.data import DATA_HELP, MAPPING_HELP
from ordercast.settings import load_settings
from store.database import OrderStore
from store.ingest import IngestSummary, ingest_source


def ingest(
    source: str = typer.Argument(..., help=DATA_HELP),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
) -> None:
    """Add or update order lines in the order store (database.url, ORDERCAST_DATABASE_URL).

    Lines are matched by line_id: new lines are added, lines with other values (a delivered
    date filled in) are updated, identical lines are left alone, so ingesting the same file
    twice changes nothing. The whole batch is one transaction. Rows that break the contract
    refuse the whole batch (exit 2, nothing lands, the reasons are kept in the store), unless
    the mapping says invalid_rows: drop: then the good rows land and the bad ones are
    reported. Prints what changed: new, updated, unchanged and rejected lines.
    """
    settings = load_settings(config)
    store = OrderStore.open(settings.database.url)
    try:
        summary = _run(store, source, mapping or settings.data.mapping)
    finally:
        store.dispose()
    typer.echo(summary.describe())
    if summary.refused:
        raise DataContractError.from_message(
            f"batch {summary.batch_id} refused: nothing landed in the order store at {store.url}"
        )


def _run(store: OrderStore, source: str, mapping: Path | None) -> IngestSummary:
    bar = tqdm(desc="ingest", unit="line", disable=not sys.stderr.isatty(), leave=False, total=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return ingest_source(store, source, mapping, command="ingest", progress=progress)
    finally:
        bar.close()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(ingest)
