"""``ordercast risk``: score open order lines, or evaluate the model on a later period."""

from __future__ import annotations

import logging
from pathlib import Path

import joblib
import pandas as pd
import typer

from forecasting.errors import ConfigError
from forecasting.loaders import load_orders
from forecasting.risk.evaluate import evaluate as evaluate_model
from forecasting.risk.model import AtRiskModel
from training.outputs import write_frame

logger = logging.getLogger(__name__)
risk_app = typer.Typer(help="Late-delivery risk of open order lines.", no_args_is_help=True)
MAPPING_HELP = "YAML column mapping from your export to ordercast's contract."


def _date(text: str, option: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"{option} '{text}' is not a date like 2025-06-30") from exc


def _load_model(reference: str) -> AtRiskModel:
    """A saved model: a joblib file or an MLflow reference (models:/ordercast-risk@champion)."""
    if reference.startswith(("models:/", "runs:/")):
        import mlflow

        return mlflow.pyfunc.load_model(reference).unwrap_python_model().core
    path = Path(reference)
    if not path.is_file():
        raise ConfigError(f"--model {reference}: no such file or MLflow model reference")
    model = joblib.load(path)
    if not isinstance(model, AtRiskModel):
        raise ConfigError(f"--model {reference} is not an ordercast at-risk model")
    return model


@risk_app.command()
def score(
    orders: Path = typer.Argument(..., help="Order lines (CSV, Parquet or a database URL)."),
    as_of: str = typer.Option(..., "--as-of", help="Score the lines open at this date."),
    out: Path = typer.Option(..., "--out", help="Scored lines (.csv, .csv.gz or .parquet)."),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    model: str | None = typer.Option(
        None,
        help="Saved model (joblib path or models:/ordercast-risk@champion); "
        "default: train on ORDERS as of --as-of.",
    ),
    save_model: Path | None = typer.Option(None, help="Also save the trained model here."),
) -> None:
    """Probability that each open line misses its promised date, with the top three reasons.

    Writes order_id, line_id, promised_date, p_late, risk_band, expected_delay_days,
    reason_1..3. A line is open when ordered by --as-of and not delivered before it,
    whatever the file says about later.
    """
    cutoff = _date(as_of, "--as-of")
    lines = load_orders(orders, mapping)
    if model is None:
        logger.info("no --model given: training on %s as of %s", orders, f"{cutoff:%Y-%m-%d}")
        fitted = AtRiskModel().fit(lines, cutoff)
        if save_model is not None:
            joblib.dump(fitted, save_model)
    else:
        fitted = _load_model(model)
    scored = fitted.score(lines, cutoff)
    write_frame(scored, out)
    bands = scored["risk_band"].value_counts().to_dict()
    typer.echo(
        f"scored {len(scored):,} open lines as of {cutoff:%Y-%m-%d} -> {out}; bands: {bands}"
    )


@risk_app.command()
def evaluate(
    data: Path = typer.Argument(..., help="Order history with deliveries."),
    split_date: str = typer.Option(..., "--split-date", help="Train as of this date."),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    out: Path | None = typer.Option(None, "--out", help="Also write the scored lines."),
) -> None:
    """Train as of --split-date; score every line promised on or after it; print metrics."""
    split = _date(split_date, "--split-date")
    lines = load_orders(data, mapping)
    scored, metrics = evaluate_model(AtRiskModel(), lines, split)
    if out is not None:
        write_frame(scored, out)
    for name, value in metrics.items():
        typer.echo(f"{name:>16}: {value:,.4f}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(risk_app, name="risk")
