"""``ordercast capacity forecast``: work arriving and available against capacity, per site-day."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer
import yaml

from forecasting.capacity.compare import compare_outlooks
from forecasting.capacity.plan import (
    DEFAULT_TARGET,
    Recommendation,
    ShiftSize,
    check_target,
    recommend_capacity,
)
from forecasting.capacity.scenario import CapacityScenario, parse_scenario
from forecasting.errors import ConfigError
from ordercast.outputs import atomic_path, output_file, write_frame
from ordercast.settings import load_settings

if TYPE_CHECKING:
    from forecasting.capacity import CapacityForecaster

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
    out: Path = typer.Option(
        ..., "--out", callback=output_file, help="Outlook file (.csv, .csv.gz or .parquet)."
    ),
    data: str | None = typer.Option(
        None, help="Order history: a file or a database URL (default: data.path in config)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help="Column mapping YAML."),
    calendar: Path | None = typer.Option(
        None,
        help="Capacity calendar (CSV or YAML: site; weekday (0 = Monday, or Monday, Mon) or "
        "date (YYYY-MM-DD); and capacity_units, or labour_hours and units_per_hour); in the "
        "--measure; default: estimated from history.",
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
        help="What-if YAML: capacity_factor or capacity_change_pct, overtime_pct, "
        "extra_units ({date: units}, or a number for every open day), extra_shift (hours, "
        "units_per_hour, weekdays and/or dates), closures (a date or a list), sites (a name "
        "or a list); as the API's scenario. The plan is written beside it (column case) "
        "with the per-site differences in OUT-comparison.",
    ),
    plot: Path | None = typer.Option(None, help="Write a PNG chart per site into this folder."),
) -> None:
    """Arrivals and work available (P10/P50/P90) against capacity, shortfall probability and
    backlog, per site-day."""
    what_if = read_scenario(scenario)  # a bad file is refused before the fit, not after
    model = fit_model(data, mapping, calendar, measure, as_of)
    outlook = model.predict(horizon, site or None, what_if)
    if what_if is None:
        write_frame(outlook, out)
        plan = None
    else:
        # The plan beside the scenario: the same days on the same simulated arrivals.
        plan = model.predict(horizon, site or None)
        both = pd.concat([plan.assign(case="plan"), outlook.assign(case="scenario")])
        write_frame(both[["case", *outlook.columns]].reset_index(drop=True), out)
    first = model.first_shortfall_dates(outlook)
    for name, group in outlook.groupby("site"):
        when = first.get(name)
        typer.echo(
            f"{name}{'' if plan is None else ' (scenario)'}: peak load ratio "
            f"{group['load_ratio'].max():.0%}, backlog at the end "
            f"{group['backlog_days'].iloc[-1]:.1f} days of capacity, first likely "
            f"shortfall {'none' if pd.isna(when) else f'{when:%Y-%m-%d}'}"
        )
    if plan is not None:
        table = compare_outlooks(plan, outlook)
        target = comparison_path(out)
        write_frame(table, target)
        for row in table.itertuples(index=False):
            typer.echo(describe_comparison(row, measure.value))
        typer.echo(f"plan and scenario in {out} (column case); per-site differences in {target}")
    if plot is not None:
        from training.plots import capacity_plot

        plot.mkdir(parents=True, exist_ok=True)
        for name, group in outlook.groupby("site"):
            beside = None if plan is None else plan[plan["site"] == name]
            with atomic_path(plot / f"capacity-{name}.png") as temp:
                figure = capacity_plot(
                    group if beside is None else beside,
                    str(name),
                    measure=measure.value,
                    scenario=None if beside is None else group,
                )
                figure.savefig(temp, dpi=90, format="png")


def fit_model(
    data: str | None,
    mapping: Path | None,
    calendar: Path | None,
    measure: Measure,
    as_of: str | None,
) -> CapacityForecaster:
    """The capacity model fitted on the order history as of ``as_of`` (default: the last
    order date)."""
    from forecasting.capacity import CapacityForecaster
    from forecasting.loaders import load_orders

    source = data or load_settings().data.path
    orders = load_orders(source, mapping)
    cutoff = None
    if as_of is not None:
        try:
            cutoff = pd.Timestamp(as_of)
        except ValueError as exc:
            raise ConfigError(f"--as-of '{as_of}' is not a date like 2025-06-30") from exc
    return CapacityForecaster(measure=measure.value).fit(orders, cutoff, read_calendar(calendar))


def comparison_path(out: Path) -> Path:
    """Where the per-site comparison goes beside ``out``: ``outlook.csv`` ->
    ``outlook-comparison.csv`` (``.csv.gz`` and ``.parquet`` alike)."""
    name = out.name
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if name.endswith(suffix):
            return out.with_name(f"{name[: -len(suffix)]}-comparison{suffix}")
    return out.with_name(f"{name}-comparison.csv")


def describe_comparison(row: Any, measure: str) -> str:
    """One site's comparison (a row of :func:`compare_outlooks`) in a sentence."""

    def day(value: Any) -> str:
        return "none" if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"

    delay = (
        ""
        if pd.isna(row.delay_days_saved)
        else f", {row.delay_days_saved:+.1f} days of delay saved on average"
    )
    return (
        f"{row.site}: scenario against plan: backlog at the end {row.backlog_end_scenario:,.0f} "
        f"vs {row.backlog_end_plan:,.0f} {measure} ({row.backlog_cleared:+,.0f} cleared){delay}; "
        f"open days likely short {row.shortfall_days_scenario} vs {row.shortfall_days_plan}; "
        f"shortfall-free from {day(row.first_shortfall_free_scenario)} vs "
        f"{day(row.first_shortfall_free_plan)}"
    )


@capacity_app.command()
def plan(
    days: int = typer.Option(
        ..., "--days", min=1, help="Days ahead to plan for (the outlook's horizon)."
    ),
    target: float = typer.Option(
        DEFAULT_TARGET,
        "--target",
        help="The shortfall probability to stay under on every open day, strictly between 0 and 1.",
    ),
    grace_days: int = typer.Option(
        0,
        "--grace-days",
        min=0,
        help="First days not judged: today's backlog cannot all ship tomorrow (with 0, a "
        "large backlog makes the first day decide the answer).",
    ),
    shift_hours: float | None = typer.Option(
        None, "--shift-hours", help="Hours of one extra shift (with --units-per-hour)."
    ),
    units_per_hour: float | None = typer.Option(
        None,
        "--units-per-hour",
        help="Work one shift handles per hour, in the --measure (with --shift-hours): the "
        "answer is then also given in shifts.",
    ),
    site: list[str] | None = typer.Option(
        None, "--site", help="Only these sites (repeatable; default every site)."
    ),
    data: str | None = typer.Option(
        None, help="Order history: a file or a database URL (default: data.path in config)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help="Column mapping YAML."),
    calendar: Path | None = typer.Option(
        None, help="Capacity calendar, as for `capacity forecast` (default: estimated)."
    ),
    measure: Measure = typer.Option(
        Measure.units, "--measure", help="Work in units (quantity), order lines or orders."
    ),
    as_of: str | None = typer.Option(None, help="Plan from this date (default: last order)."),
    out: Path | None = typer.Option(
        None,
        "--out",
        callback=output_file,
        help="Also write the recommendations to this file (.csv or .parquet).",
    ),
) -> None:
    """The least extra capacity per site that keeps the shortfall risk under a target.

    For each site, the smallest amount to add on every open day (in the --measure per
    day, and in shifts when --shift-hours and --units-per-hour are given) for which the
    model's own outlook has p_shortfall (P(work available > capacity)) below --target on
    every open day of the next --days days; 0 for a site already under it. Re-run it with
    `capacity forecast --scenario` and a file holding the printed scenario.
    """
    check_target(target)  # refused before the fit, not after
    if (shift_hours is None) != (units_per_hour is None):
        raise ConfigError("give --shift-hours and --units-per-hour together (a shift's size)")
    shift = None
    if shift_hours is not None and units_per_hour is not None:
        shift = ShiftSize(shift_hours, units_per_hour)
    model = fit_model(data, mapping, calendar, measure, as_of)
    advice = recommend_capacity(
        model, site or [], days, target=target, shift=shift, grace_days=grace_days
    )
    for one in advice:
        typer.echo(describe_recommendation(one, measure.value))
    if out is not None:
        write_frame(recommendation_frame(advice), out)


def describe_recommendation(advice: Recommendation, measure: str) -> str:
    """One site's recommendation in a sentence (with the scenario that re-runs it)."""
    judged = f"every open day of the next {advice.days} days" + (
        f" after the first {advice.grace_days}" if advice.grace_days else ""
    )
    if advice.extra_units_per_day is None:
        return (
            f"{advice.site}: no extra capacity up to 1e9 {measure}/day brings p_shortfall "
            f"under {advice.target:g} on {judged}"
        )
    if advice.extra_units_per_day == 0:
        return (
            f"{advice.site}: no extra capacity needed: p_shortfall at most "
            f"{advice.max_p_shortfall_plan:.2f} < {advice.target:g} on {judged}"
        )
    shifts = "" if advice.shifts_per_day is None else f" ({advice.shifts_per_day:.2f} shifts)"
    first = advice.first_shortfall_plan
    binding = ", ".join(f"{day:%Y-%m-%d}" for day in advice.binding_days[:3])
    return (
        f"{advice.site}: add {advice.extra_units_per_day:,.0f} {measure} per open day{shifts} "
        f"for p_shortfall < {advice.target:g} on {judged} (plan: up to "
        f"{advice.max_p_shortfall_plan:.2f}, first from {first:%Y-%m-%d}; with it "
        f"{advice.max_p_shortfall:.2f}; set by {binding or 'no single day'}); scenario: "
        f"extra_units: {advice.extra_units_per_day:.1f}, sites: {advice.site}"
    )


def recommendation_frame(advice: list[Recommendation]) -> pd.DataFrame:
    """One row per site: the recommendation's numbers."""
    return pd.DataFrame(
        [
            {
                "site": one.site,
                "days": one.days,
                "target": one.target,
                "grace_days": one.grace_days,
                "extra_units_per_day": one.extra_units_per_day,
                "shifts_per_day": one.shifts_per_day,
                "tolerance": one.tolerance,
                "open_days": one.open_days,
                "max_p_shortfall_plan": one.max_p_shortfall_plan,
                "max_p_shortfall": one.max_p_shortfall,
                "first_shortfall_plan": one.first_shortfall_plan,
                "binding_days": " ".join(f"{day:%Y-%m-%d}" for day in one.binding_days),
            }
            for one in advice
        ]
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(capacity_app, name="capacity")
