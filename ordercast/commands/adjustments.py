"""``ordercast adjustments``: the planners' adjustments and their audit trail, from the order
store (made and revoked over HTTP: POST/DELETE /v1/forecasts/demand/adjustments)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from ordercast.outputs import output_file, write_frame
from ordercast.settings import load_settings
from store.adjustments import read_adjustments, read_events
from store.database import OrderStore

adjustments_app = typer.Typer(
    help="Planner adjustments of the demand forecast: list them, export them with their "
    "audit trail. Forecast value added: `ordercast accuracy --fva`.",
    no_args_is_help=True,
)
CONFIG_HELP = "YAML overriding configs/default.yaml (for database.url)."
SHOWN = ["id", "level", "series_id", "start", "end", "kind", "value", "author", "reason_code"]


@adjustments_app.command("list")
def list_adjustments(
    all_: bool = typer.Option(False, "--all", help="Also revoked and expired ones."),
    series: str | None = typer.Option(None, help="Only this series id, e.g. SKU-00001|SITE-1."),
    level: str | None = typer.Option(None, help="Only this level, e.g. site or 'sku,site'."),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """The adjustments in force (with --all, every one ever made), oldest first."""
    frame = _read(config, series, level, None if all_ else "active")
    if frame.empty:
        typer.echo("no adjustments" + ("" if all_ else " in force (--all shows every one)"))
        return
    shown = frame[SHOWN + (["status"] if all_ else [])].copy()
    for column in ("start", "end"):
        shown[column] = pd.to_datetime(shown[column]).dt.strftime("%Y-%m-%d")
    typer.echo(shown.to_string(index=False))


@adjustments_app.command()
def export(
    out: Path = typer.Option(
        ..., "--out", callback=output_file, help="File (.csv, .csv.gz or .parquet)."
    ),
    events: bool = typer.Option(
        False, "--events", help="The audit trail (create, revoke, expire) instead."
    ),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Every adjustment with its status and reason, or (--events) every change to one:
    who, when, and the values before and after."""
    settings = load_settings(config)
    store = OrderStore.open(settings.database.url)
    try:
        frame = read_events(store) if events else read_adjustments(store)
    finally:
        store.dispose()
    if events:
        frame = frame.assign(before=frame["before"].map(str), after=frame["after"].map(str))
    else:
        frame = frame.assign(split=frame["split"].map(lambda v: "" if v is None else str(v)))
    typer.echo(f"{len(frame):,} rows written to {write_frame(frame, out)}")


def _read(
    config: Path | None, series: str | None, level: str | None, status: str | None
) -> pd.DataFrame:
    settings = load_settings(config)
    store = OrderStore.open(settings.database.url)
    try:
        return read_adjustments(store, level=level, series_id=series, status=status)
    finally:
        store.dispose()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(adjustments_app, name="adjustments")
