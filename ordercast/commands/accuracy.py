"""``ordercast accuracy``: what was published, held against what happened.

Exit codes: 0 (no drift, or no ``--check``), 2 (nothing published, bad option), 5 (``--check``
and the recent WAPE at some lag is over its backtest expectation by the set margin).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import typer

from forecasting.accuracy import AccuracyReport, accuracy_report, series_actuals
from forecasting.errors import ConfigError
from ordercast.outputs import output_file, write_frame
from ordercast.settings import Settings, load_settings
from store.database import OrderStore
from store.orders import read_orders
from store.publications import read_expectations, read_published_forecasts
from training.adjustments import fva_report

EXIT_DRIFT = 5
PERCENT = ("wape", "expected_wape", "bias", "coverage80", "expected_coverage80")
HEADINGS = {
    "n": "n",
    "wape": "WAPE",
    "expected_wape": "exp. WAPE",
    "bias": "bias",
    "mase": "MASE",
    "expected_mase": "exp. MASE",
    "coverage80": "cover80",
    "expected_coverage80": "exp. cover80",
}


def accuracy(
    since: str | None = typer.Option(
        None, help="Only forecasts for periods on or after this date (YYYY-MM-DD)."
    ),
    by: str = typer.Option(
        "lag",
        help="Group by any of level, lag, model, site, model_version, origin (comma-separated).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Exit 5 when the recent WAPE at some lag drifted (for schedulers)."
    ),
    out: Path | None = typer.Option(
        None,
        callback=output_file,
        help="Also write the table (.csv, .csv.gz or .parquet), numbers unrounded.",
    ),
    fva: bool = typer.Option(
        False,
        "--fva",
        help="Forecast value added of planners' adjustments instead: per adjustment, the "
        "statistical forecast's error against the adjusted one, and the share that helped by "
        "reason code, author and level.",
    ),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
) -> None:
    """Accuracy of every published forecast whose period is complete: WAPE, bias, MASE and
    80% interval coverage next to the backtest's expectation, and the drift flag per lag."""
    settings = load_settings(config)
    if fva:
        added = fva_report(settings)
        typer.echo(render_fva(added.per_adjustment, added.summary))
        if out is not None:
            typer.echo(f"per-adjustment table written to {write_frame(added.per_adjustment, out)}")
        return
    report = read_report(settings, _since(since), by.split(","))
    typer.echo(render(report, settings))
    if out is not None:
        typer.echo(f"table written to {write_frame(report.table, out)}")
    if check and report.drifting_lags:
        raise typer.Exit(EXIT_DRIFT)


def read_report(settings: Settings, since: pd.Timestamp | None, by: list[str]) -> AccuracyReport:
    """The report over the order store at ``settings.database.url``."""
    store = OrderStore.open(settings.database.url)
    try:
        published = read_published_forecasts(store, since=since)
        ids = sorted(published["publication_id"].unique().tolist())
        expectations = read_expectations(store, publication_ids=ids)
        orders = read_orders(store)
    finally:
        store.dispose()
    demand, acc = settings.demand, settings.accuracy
    actuals = series_actuals(
        orders, levels=demand.levels, freq=demand.freq, date_col=demand.date_column
    )
    return accuracy_report(
        published,
        expectations,
        actuals,
        by=by,
        lags=acc.lags,
        periods=acc.drift_periods,
        margin=acc.drift_margin,
        min_rows=acc.drift_min_rows,
    )


def render(report: AccuracyReport, settings: Settings) -> str:
    """The table and the drift verdicts as text for a person."""
    lines = [
        f"{report.scored:,} of {report.published:,} published forecasts at lags "
        f"{', '.join(map(str, settings.accuracy.lags))} have an actual (a period counts once "
        "it is complete)"
    ]
    if report.unmatched_series:
        lines.append(
            f"warning: {report.unmatched_series:,} published series match no series built from "
            "the order store's orders with the demand settings (levels, freq, date_column); "
            "their forecasts are not scored"
        )
    if report.table.empty:
        lines.append("no published forecast has reached a complete period yet")
    else:
        lines += ["", _table_text(report.table)]
    lines += ["", _drift_text(report, settings)]
    return "\n".join(lines)


def render_fva(per_adjustment: pd.DataFrame, summary: pd.DataFrame) -> str:
    """Forecast value added for a person: a line per adjustment, then the groups."""
    shown = per_adjustment[
        ["adjustment_id", "author", "reason_code", "level", "periods", "actual"]
    ].copy()
    for name in ("statistical", "adjusted"):
        shown[f"WAPE {name}"] = per_adjustment[f"wape_{name}"].map(_percent)
    shown["FVA"] = per_adjustment["fva"].map(_percent)
    shown["helped"] = per_adjustment["helped"].map({True: "yes", False: "no"})
    groups = summary[["group_by", "group", "adjustments", "helped", "share_helped"]].copy()
    groups["share_helped"] = groups["share_helped"].map(_percent)
    groups["FVA"] = summary["fva"].map(_percent)
    return "\n".join(
        [
            f"forecast value added of {len(per_adjustment):,} adjustment(s) with actuals "
            "(FVA = WAPE of the statistical forecast - WAPE of the adjusted one; positive: "
            "the adjustment helped)",
            "",
            shown.to_string(index=False),
            "",
            groups.to_string(index=False),
        ]
    )


def _table_text(table: pd.DataFrame) -> str:
    shown = table.copy()
    for column in shown.columns:
        if column in PERCENT:
            shown[column] = shown[column].map(_percent)
        elif column in ("mase", "expected_mase"):
            shown[column] = shown[column].map(_number)
        elif column == "origin":
            shown[column] = pd.to_datetime(shown[column]).dt.strftime("%Y-%m-%d")
    return shown.rename(columns=HEADINGS).to_string(index=False)


def _drift_text(report: AccuracyReport, settings: Settings) -> str:
    acc = settings.accuracy
    drift = report.drift
    start, end = drift["window_start"].min(), drift["window_end"].max()
    window = f"{start:%Y-%m-%d} to {end:%Y-%m-%d}" if pd.notna(start) else "none yet"
    lines = [
        f"drift (targets in the last {acc.drift_periods} complete periods: {window}; raised when "
        f"WAPE > expected × {1 + acc.drift_margin:g} over at least {acc.drift_min_rows} "
        "forecasts):"
    ]
    for row in drift.itertuples(index=False):
        figures = (
            f"WAPE {_percent(row.observed_wape)} vs expected {_percent(row.expected_wape)}"
            f" (threshold {_percent(row.threshold)}), n={row.n}"
        )
        verdict = "DRIFT" if row.drift else str(row.status)
        if row.status == "too few rows":
            verdict = f"too few to judge (fewer than {acc.drift_min_rows} forecasts)"
        lines.append(f"  lag {row.lag}: {figures}: {verdict}")
    if report.drifting_lags:
        lags = ", ".join(map(str, report.drifting_lags))
        lines.append(f"drift at lag {lags}: consider `ordercast train demand`")
    return "\n".join(lines)


def _percent(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return f"{100 * number:.1f}%" if math.isfinite(number) else "-"


def _number(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return f"{number:.2f}" if math.isfinite(number) else "-"


def _since(text: str | None) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"--since '{text}' is not a date like 2025-06-30") from exc


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("accuracy")(accuracy)
