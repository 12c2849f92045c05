"""CLI commands on order data: ``generate``, ``validate``, ``series``."""

from __future__ import annotations

import logging
from datetime import date
from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer

from forecasting.errors import ConfigError
from forecasting.loaders import check_orders, load_orders
from ordercast.outputs import output_file, write_frame

logger = logging.getLogger(__name__)

MAPPING_HELP = "YAML column mapping from your export to ordercast's contract (see README)."
DATA_HELP = "Order history: .csv, .csv.gz, .parquet, or a database URL (sqlite:///orders.db)."


class Measure(StrEnum):
    quantity = "quantity"
    lines = "lines"
    orders = "orders"


class DateColumn(StrEnum):
    order_date = "order_date"
    ship_date = "ship_date"
    promised_date = "promised_date"


def generate(
    out: Path = typer.Option(
        ...,
        "--out",
        callback=output_file,
        help="Where to write the order lines (.csv.gz, .csv or .parquet).",
    ),
    sites: int = typer.Option(3, min=1, help="Number of fulfilment sites."),
    skus: int = typer.Option(200, min=1, help="Number of SKUs."),
    days: int = typer.Option(730, min=28, help="Days of history."),
    start: str = typer.Option("2024-01-01", help="First order date (YYYY-MM-DD)."),
    seed: int = typer.Option(7, min=0, help="Random seed: the same seed gives the same history."),
) -> None:
    """Generate a realistic synthetic order history (and its true capacity calendar).

    Writes OUT and, beside it, <stem>-capacity.csv with the true daily capacity per site.
    """
    from forecasting.synthetic import capacity_path_for, generate_orders

    try:
        first_day = date.fromisoformat(start)
    except ValueError as exc:
        raise typer.BadParameter(f"--start '{start}' is not a date like 2024-01-01") from exc
    history = generate_orders(sites=sites, skus=skus, days=days, start=first_day, seed=seed)
    write_frame(history.orders, out)
    capacity_file = write_frame(history.capacity, capacity_path_for(out))
    open_lines = int(history.orders["delivered_date"].isna().sum())
    typer.echo(
        f"wrote {len(history.orders):,} order lines ({open_lines:,} open) to {out}\n"
        f"wrote the true capacity calendar to {capacity_file}"
    )


def validate(
    data: str = typer.Argument(..., help=DATA_HELP),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    report: Path | None = typer.Option(
        None,
        "--report",
        callback=output_file,
        help="Also write every problem to this CSV (row, column, message).",
    ),
) -> None:
    """Check an order history against the contract; exit 0 when valid, 2 listing every problem."""
    result = check_orders(data, mapping)
    if report is not None:
        write_frame(result.summary(), report)
    if result.ok:
        frame = result.frame
        typer.echo(
            f"{data}: valid — {len(frame):,} order lines, {frame['sku'].nunique():,} SKUs, "
            f"{frame['site'].nunique():,} sites, orders from {frame['order_date'].min():%Y-%m-%d} "
            f"to {frame['order_date'].max():%Y-%m-%d}, "
            f"{int(frame['delivered_date'].isna().sum()):,} open"
        )
        return
    result.raise_if_invalid()


def series(
    data: str = typer.Argument(..., help=DATA_HELP),
    out: Path = typer.Option(
        ..., "--out", callback=output_file, help="Output long frame (.csv, .csv.gz or .parquet)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    by: str = typer.Option(
        "sku,site",
        help="Comma-separated keys, e.g. 'sku,site', 'site', 'sku,site,channel'; '' for the total.",
    ),
    freq: str = typer.Option("D", help="Period: any pandas alias, e.g. D, W, W-MON, MS."),
    date_column: DateColumn = typer.Option(
        DateColumn.order_date, "--date", help="Which date places a line in a period."
    ),
    measure: Measure = typer.Option(
        Measure.quantity, help="What y counts: units, lines, or distinct orders."
    ),
    levels: str | None = typer.Option(
        None,
        help=(
            "A hierarchy instead of --by: levels separated by ';', keys by ',', 'total' "
            "for the grand total, e.g. 'sku,site;sku;site;total'. Adds a level column and "
            "prefixes each series_id with its level; `ordercast forecast --reconcile` "
            "then makes the levels add up."
        ),
    ),
    keep_partial: bool = typer.Option(
        False,
        "--keep-partial",
        help="Keep a first or last period the data do not fully cover (dropped by default: "
        "a week holding two days of orders reads as a slump every model would follow).",
    ),
) -> None:
    """Turn order lines into the long series frame (series_id, ds, y + keys), zeros filled."""
    from forecasting.series import (
        build_hierarchy,
        build_series,
        drop_partial_first_period,
        drop_partial_last_period,
        prefix_levels,
    )

    orders = load_orders(data, mapping)
    if levels:
        parsed = parse_levels(levels)
        frame = prefix_levels(
            build_hierarchy(
                orders,
                levels=parsed,
                freq=freq,
                date_col=date_column.value,
                measure=measure.value,
            )
        )
    else:
        keys = [k.strip() for k in by.split(",") if k.strip()]
        frame = build_series(
            orders, by=keys, freq=freq, date_col=date_column.value, measure=measure.value
        )
    if not keep_partial:
        dates = orders[date_column.value]
        first, last = pd.Timestamp(dates.min()), pd.Timestamp(dates.max())
        whole = drop_partial_last_period(frame, freq, last)
        if len(whole) < len(frame):
            typer.echo(
                f"dropped the last period ({pd.Timestamp(frame['ds'].max()):%Y-%m-%d}): the "
                f"data end on {last:%Y-%m-%d}, before it does (--keep-partial keeps it)"
            )
        frame, whole = whole, drop_partial_first_period(whole, freq, first)
        if len(whole) < len(frame):
            typer.echo(
                f"dropped the first period ({pd.Timestamp(frame['ds'].min()):%Y-%m-%d}): the "
                f"data start on {first:%Y-%m-%d}, after it does (--keep-partial keeps it)"
            )
        frame = whole
    write_frame(frame, out)
    typer.echo(
        f"wrote {frame['series_id'].nunique():,} series x {frame['ds'].nunique():,} periods "
        f"({len(frame):,} rows) to {out}"
    )


def parse_levels(text: str) -> list[tuple[str, ...]]:
    """'sku,site;sku;total' -> [('sku', 'site'), ('sku',), ()]."""
    parsed = []
    for part in text.split(";"):
        keys = tuple(k.strip() for k in part.split(",") if k.strip())
        parsed.append(() if keys in ((), ("total",)) else keys)
    if len(set(parsed)) != len(parsed):
        raise ConfigError(f"--levels '{text}' names a level twice")
    return parsed


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(generate)
    app.command()(validate)
    app.command()(series)
