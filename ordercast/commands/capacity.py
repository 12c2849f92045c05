"""``ordercast capacity forecast``: work arriving and available against capacity, per site-day."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pandas as pd
import typer
import yaml

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.scenario import CapacityScenario, parse_scenario
from forecasting.errors import ConfigError
from forecasting.loaders import load_orders
from ordercast.outputs import atomic_path, write_frame
from ordercast.settings import load_settings

capacity_app = typer.Typer(
    help="Site capacity: arrivals, work available, shortfall risk, backlog, scenarios.",
    no_args_is_help=True,
)


class Measure(StrEnum):
    units = "units"
    lines = "lines"
    orders = "orders"


def read_calendar(path: Path | None) -> pd.DataFrame | None:
    """The calendar rules in a CSV or YAML file (a list, or a dict with ``rules``); None if
    no file is given. Checked later, against the sites in the data."""
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"calendar file {path} does not exist")
    if path.suffix in (".yaml", ".yml"):
        rules = yaml.safe_load(path.read_text()) or []
        return pd.DataFrame(rules if isinstance(rules, list) else rules.get("rules", []))
    return pd.read_csv(path)


def read_scenario(path: Path | None) -> CapacityScenario | None:
    """The what-if scenario in a YAML file, checked as the API checks one (the fields of
    :class:`CapacityScenario`); None if no file is given."""
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"scenario file {path} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML text: {exc}") from exc
    return parse_scenario(loaded, source=str(path))


@capacity_app.command()
def forecast(
    horizon: int = typer.Option(..., "--horizon", min=1, help="Days ahead."),
    out: Path = typer.Option(..., "--out", help="Outlook file (.csv, .csv.gz or .parquet)."),
    data: str | None = typer.Option(
        None, help="Order history: a file or a database URL (default: data.path in config)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help="Column mapping YAML."),
    calendar: Path | None = typer.Option(
        None,
        help="Capacity calendar (CSV or YAML: site; weekday (0 = Monday) or date; and "
        "capacity_units, or labour_hours and units_per_hour); in the --measure; "
        "default: estimated from history.",
    ),
    measure: Measure = typer.Option(
        Measure.units,
        "--measure",
        help="Work in units (quantity), order lines or orders; capacity, backlog and a "
        "--calendar (capacity_units, units_per_hour) are read in the same measure.",
    ),
    site: list[str] | None = typer.Option(None, "--site", help="Only these sites (repeatable)."),
    as_of: str | None = typer.Option(None, help="Forecast from this date (default: last order)."),
    scenario: Path | None = typer.Option(
        None,
        help="What-if YAML: capacity_factor or capacity_change_pct, extra_units {date: "
        "units}, closures (a date or a list), sites (a name or a list); as the API's scenario.",
    ),
    plot: Path | None = typer.Option(None, help="Write a PNG chart per site into this folder."),
) -> None:
    """Arrivals and work available (P10/P50/P90) against capacity, shortfall probability and
    backlog, per site-day."""
    what_if = read_scenario(scenario)  # a bad file is refused before the fit, not after
    source = data or load_settings().data.path
    orders = load_orders(source, mapping)
    cutoff = None
    if as_of is not None:
        try:
            cutoff = pd.Timestamp(as_of)
        except ValueError as exc:
            raise ConfigError(f"--as-of '{as_of}' is not a date like 2025-06-30") from exc
    model = CapacityForecaster(measure=measure.value).fit(orders, cutoff, read_calendar(calendar))
    outlook = model.predict(horizon, site or None, what_if)
    write_frame(outlook, out)
    first = model.first_shortfall_dates(outlook)
    for name, group in outlook.groupby("site"):
        when = first.get(name)
        typer.echo(
            f"{name}: peak load ratio {group['load_ratio'].max():.0%}, backlog at the end "
            f"{group['backlog_days'].iloc[-1]:.1f} days of capacity, first likely "
            f"shortfall {'none' if pd.isna(when) else f'{when:%Y-%m-%d}'}"
        )
    if plot is not None:
        from training.plots import capacity_plot

        plot.mkdir(parents=True, exist_ok=True)
        for name, group in outlook.groupby("site"):
            with atomic_path(plot / f"capacity-{name}.png") as temp:
                capacity_plot(group, str(name)).savefig(temp, dpi=90, format="png")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(capacity_app, name="capacity")
