"""``ordercast risk``: score open order lines, or evaluate the model on a later period."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import typer

from forecasting.errors import ConfigError
from forecasting.risk.bands import check_bands
from forecasting.risk.choices import Cadence, Profile
from ordercast.outputs import output_file, write_frame
from ordercast.settings import load_settings

if TYPE_CHECKING:
    from forecasting.risk.model import AtRiskModel

# The model (scikit-learn) and the loaders are imported in the commands' bodies: `risk
# score --help` took 3.6 s when they came with the module.

logger = logging.getLogger(__name__)
risk_app = typer.Typer(help="Late-delivery risk of open order lines.", no_args_is_help=True)
MAPPING_HELP = "YAML column mapping from your export to ordercast's contract."
TOLERANCE_HELP = "A line is late when delivered more than this many days after its promise."
BANDS_HELP = "p_late thresholds for the medium and high risk bands, e.g. 0.2,0.5."


def _bands(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise ConfigError(
            f"--bands '{text}' is not two probabilities separated by a comma, e.g. 0.2,0.5"
        ) from exc
    return check_bands((low, high))


def _date(text: str, option: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"{option} '{text}' is not a date like 2025-06-30") from exc


TRUST_HELP = (
    "Load a --model joblib FILE from outside the model registry. Loading a joblib file "
    "unpickles it, and unpickling runs whatever code the file holds: pass --trust only for "
    "a file you made yourself (--save-model). A models:/ reference needs no --trust: its "
    "files are checked against the hash recorded when it was registered."
)


def _load_model(reference: str, config: Path | None, trust: bool) -> AtRiskModel:
    """A saved model: an MLflow reference (models:/ordercast-risk@champion, runs:/<run id>/model
    of a registered version) looked up in the configured store, where `train` registers, and
    verified before it is loaded; or a joblib file, loaded only when ``trust`` says so."""
    import joblib

    from forecasting.risk.model import AtRiskModel

    if reference.startswith(("models:/", "runs:/")):
        from training.serving import RegistryReader

        reader = RegistryReader(load_settings(config).mlflow.tracking_uri)
        model = getattr(reader.load_reference(reference).unwrap_python_model(), "core", None)
    else:
        path = Path(reference)
        if not path.is_file():
            raise ConfigError(f"--model {reference}: no such file or MLflow model reference")
        if not trust:  # refused before the file is opened: unpickling is running its code
            raise ConfigError(
                f"--model {reference} is a file outside the model registry, and loading it "
                "would unpickle it, which runs any code it holds. Add --trust if you made "
                "this file yourself (e.g. with --save-model), or use a registered model: "
                "--model models:/ordercast-risk@champion"
            )
        model = joblib.load(path)
    if not isinstance(model, AtRiskModel):
        raise ConfigError(f"--model {reference} is not an ordercast at-risk model")
    return model


@risk_app.command()
def score(
    orders: str = typer.Argument(..., help="Order lines (CSV, Parquet or a database URL)."),
    as_of: str = typer.Option(
        ...,
        "--as-of",
        help="Score the lines open at this date. Without --model, at most 28 days after the "
        "last order or delivery ORDERS records (said past 7): the lines delivered since are "
        "not in it and would look overdue.",
    ),
    out: Path = typer.Option(
        ..., "--out", callback=output_file, help="Scored lines (.csv, .csv.gz or .parquet)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    model: str | None = typer.Option(
        None,
        help="Saved model (joblib path or models:/ordercast-risk@champion). It remembers "
        "the lines delivered before its training date, so ORDERS may then hold just the "
        "open lines. Default: train on ORDERS as of --as-of.",
    ),
    save_model: Path | None = typer.Option(None, help="Also save the trained model here."),
    trust: bool = typer.Option(False, "--trust", help=TRUST_HELP),
    tolerance_days: int | None = typer.Option(
        None, "--tolerance-days", min=0, help=TOLERANCE_HELP + " Default 0."
    ),
    bands: str = typer.Option("0.2,0.5", "--bands", help=BANDS_HELP),
    config: Path | None = typer.Option(
        None,
        help="YAML overriding configs/default.yaml (the store --model models:/... reads, and "
        "the `risk.profile` a model trained here uses).",
    ),
    profile: Profile | None = typer.Option(
        None,
        "--profile",
        help="Without --model: the at-risk model's features, 'queue' or 'line' (see `risk "
        "evaluate --help`). Default: the config's `risk.profile`, what the service trains.",
    ),
) -> None:
    """Probability that each open line misses its promised date, with the top three reasons.

    Writes every line of ORDERS, in its order: order_id, line_id, promised_date, p_late,
    risk_band, expected_delay_days, reason_1..3, scored, status, unscored_reason. A line
    is scored when open at --as-of (ordered by then and not delivered before it,
    whatever the file says about later); the others have empty scores, a status
    (delivered_before_as_of, ordered_after_as_of, invalid_dates, unknown_site: a site with no
    line in the model's history nor in ORDERS before --as-of) and the reason in words.
    """
    import joblib

    from forecasting.loaders import load_orders
    from forecasting.queries import answer_risk
    from forecasting.risk.validation import check_history_reaches
    from forecasting.risk.walk_forward import walk_forward_model

    cutoff = _date(as_of, "--as-of")
    thresholds = _bands(bands)
    lines = load_orders(orders, mapping)
    if model is not None and profile is not None:
        raise ConfigError(
            "--profile chooses the features of a model trained here: leave out --model, or "
            "--profile (a saved model keeps the profile it was trained with)"
        )
    if model is None:
        # ORDERS is the whole history here (with --model it may be the open lines alone)
        check_history_reaches(lines, cutoff)
        chosen = profile or load_settings(config).risk.profile
        logger.info(
            "no --model given: training the '%s' profile on %s as of %s",
            chosen,
            orders,
            f"{cutoff:%Y-%m-%d}",
        )
        fitted = walk_forward_model(tolerance_days or 0, thresholds, chosen)
        fitted.fit(lines, as_of=cutoff)
        if save_model is not None:
            joblib.dump(fitted, save_model)
    else:
        fitted = _load_model(model, config, trust)
        if tolerance_days is not None and tolerance_days != fitted.tolerance_days:
            raise ConfigError(
                f"--model {model} was trained with a tolerance of {fitted.tolerance_days} "
                f"days, not {tolerance_days}: what counts as late is learnt, so retrain "
                "(leave out --model) to change it"
            )
        fitted.bands = thresholds  # bands only sort the scores: safe to change after fitting
    # The API's path: every line of ORDERS comes back, scored or with the reason it is not.
    answer = answer_risk(fitted, lines, cutoff)
    write_frame(answer, out)
    scored = answer[answer["scored"]]
    counts = scored["risk_band"].value_counts().to_dict()
    unscored = answer.loc[~answer["scored"], "status"].value_counts().to_dict()
    typer.echo(
        f"scored {len(scored):,} open lines as of {cutoff:%Y-%m-%d} -> {out}; bands: {counts}; "
        f"not scored: {len(answer) - len(scored):,} {unscored or ''}".rstrip()
    )


WALK_FORWARD_HELP = (
    "Evaluate as the service runs: retrain at --split-date and then every month (monthly, "
    "on the 1st) or every 7 days (weekly) on what was known at that date; score each line "
    "promised before the next retraining on its scoring day (its order date, or the "
    "retraining date if it was ordered before), with track records and site load from the "
    "deliveries known that day. Without it: one training as of --split-date, records "
    "frozen there."
)


@risk_app.command()
def evaluate(
    data: str = typer.Argument(
        ..., help="Order history with deliveries (a file or a database URL)."
    ),
    split_date: str = typer.Option(
        ..., "--split-date", help="Train as of this date (walk-forward: the first retraining)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    out: Path | None = typer.Option(
        None, "--out", callback=output_file, help="Also write the scored lines."
    ),
    tolerance_days: int = typer.Option(0, "--tolerance-days", min=0, help=TOLERANCE_HELP),
    bands: str = typer.Option("0.2,0.5", "--bands", help=BANDS_HELP),
    walk_forward: Cadence | None = typer.Option(
        None, "--walk-forward", help=WALK_FORWARD_HELP, case_sensitive=False
    ),
    until: str | None = typer.Option(
        None,
        "--until",
        help="Walk-forward only: score the lines promised up to this date (inclusive), e.g. "
        "to choose settings on an earlier period. Default: the last promised date with a "
        "known delivery.",
    ),
    profile: Profile = typer.Option(
        "line",
        "--profile",
        help="The at-risk model's features (walk-forward or one split). 'line': the line's own "
        "attributes, the records of groups no value of which holds most lines and the site "
        "load, learnt from every snapshot (uncalibrated); 'queue': track records, site load "
        "and the line's clock. Train the service with the same `risk.profile` in the "
        "config to serve what was measured.",
    ),
) -> None:
    """Score every line promised on or after --split-date with what was known before it;
    print the metrics.

    ROC-AUC, PR-AUC, Brier score beside the training base rate's, expected calibration
    error and the precision among the 10% riskiest lines. --out writes the scored lines
    in the columns of `risk score` plus `late`, so anyone can recompute them.

    With --walk-forward the model is retrained on a schedule (see the option) and two
    baselines are scored on the same lines by the same walk: plain gradient boosting on
    the lines' own attributes (no track records, no site load), retrained on the same
    dates, and the late rate of the line's lane (site x shipment mode, or site x region)
    over the 365 days before its scoring day. The Brier score is compared with each
    window's training base rate (the late share of the lines promised before its
    retraining date). --out then writes line_id, scored_at, trained_at, p_late,
    risk_band, reason_1..3, late, base_rate and the baselines' p_late_static_booster and
    p_late_lane_rate.
    """
    from forecasting.loaders import load_orders
    from forecasting.risk.evaluate import evaluate as evaluate_model
    from forecasting.risk.walk_forward import walk_forward_metrics, walk_forward_model

    split = _date(split_date, "--split-date")
    thresholds = _bands(bands)
    if walk_forward is None:
        if until is not None:
            raise ConfigError("--until applies to a --walk-forward evaluation only")
        lines = load_orders(data, mapping)
        model = walk_forward_model(tolerance_days, thresholds, profile)
        scored, metrics = evaluate_model(model, lines, split, tolerance_days)
        if out is not None:
            write_frame(scored, out)
        for name, value in metrics.items():
            typer.echo(f"{name:>16}: {value:,.4f}")
        return
    last = None if until is None else _date(until, "--until")
    lines = load_orders(data, mapping)
    scored = _walk(lines, split, walk_forward, last, tolerance_days, thresholds, profile)
    if out is not None:
        write_frame(scored, out)
    table = walk_forward_metrics(scored)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        typer.echo(table.round(4).to_string(index=False))
    first, end = scored["scored_at"].min(), scored["scored_at"].max()
    typer.echo(
        f"{len(scored):,} lines scored {first:%Y-%m-%d}..{end:%Y-%m-%d}, "
        f"{scored['trained_at'].nunique()} trainings ({walk_forward})"
        + (f" -> {out}" if out is not None else "")
    )


def _walk(
    lines: pd.DataFrame,
    split: pd.Timestamp,
    cadence: Cadence,
    until: pd.Timestamp | None,
    tolerance_days: int,
    bands: tuple[float, float],
    profile: Profile,
) -> pd.DataFrame:
    """The walk-forward rows, with a progress bar of its windows on a terminal's stderr."""
    from tqdm.auto import tqdm

    from forecasting.risk.walk_forward import walk_forward as walk_forward_scores
    from forecasting.risk.walk_forward import walk_forward_model

    bar = tqdm(desc="walk forward", unit="window", disable=not sys.stderr.isatty(), leave=False)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        return walk_forward_scores(
            lines,
            split,
            cadence,
            until=until,
            tolerance_days=tolerance_days,
            model_factory=lambda: walk_forward_model(tolerance_days, bands, profile),
            progress=progress,
        )
    finally:
        bar.close()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(risk_app, name="risk")


@risk_app.command()
def promise(
    orders: str = typer.Argument(
        ...,
        help="New order lines (CSV, Parquet or a database URL): site, order date, "
        "quantity and attributes; a promised date is not needed.",
    ),
    target: float = typer.Option(
        ..., "--target", help="On-time probability the quoted date must reach, e.g. 0.9."
    ),
    model: str = typer.Option(
        "models:/ordercast-risk@champion",
        "--model",
        help="Saved at-risk model (models:/ordercast-risk@champion, or a joblib path with "
        "--trust). Its memory of settled lines gives the records and site load.",
    ),
    out: Path = typer.Option(
        ..., "--out", callback=output_file, help="Quotes (.csv, .csv.gz or .parquet)."
    ),
    mapping: Path | None = typer.Option(None, "--mapping", "-m", help=MAPPING_HELP),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Quote as of this day (default: each line at its order date)."
    ),
    max_days: int = typer.Option(
        180,
        "--max-days",
        help="Latest candidate date, in days after the quoting day (1-366).",
    ),
    curve: Path | None = typer.Option(
        None,
        "--curve",
        callback=output_file,
        help="Also write each line's curve: line_id, date, p_on_time.",
    ),
    calibration: Path | None = typer.Option(
        None,
        "--calibration",
        help='JSON {"coef": [5 numbers]} mapping the model\'s P(on time) and the days '
        "ahead to the rate observed in a replay (benchmarks/promise.py --calibration-out).",
    ),
    trust: bool = typer.Option(False, "--trust", help=TRUST_HELP),
    config: Path | None = typer.Option(
        None, help="YAML overriding configs/default.yaml (the store --model models:/... reads)."
    ),
) -> None:
    """The earliest promise date of each new line whose on-time probability reaches --target.

    Every candidate date from 1 to --max-days days after the line's order date (or --as-of,
    if later) is scored by the at-risk model; the on-time probability 1 - p_late is made
    non-decreasing in the date (a line in time for a promise is in time for any later one),
    and the first date reaching the target is quoted. Writes one row per line, in the
    order of ORDERS: order_id, line_id, quoted_from, quoted_date, p_on_time, target,
    reason_1..3 (the model's reasons at the quoted date), actions (what would change it:
    another shipment mode, carrier or site, a later or earlier date, with their
    probabilities; joined by ' | ') and note (why a line has no quote: no date within
    --max-days reaches the target). Exit 2, nothing written, for a target outside (0, 1),
    --max-days outside 1-366, an unreadable --calibration or a line without order date,
    site or quantity.
    """
    import json

    from forecasting.risk.promise import (
        check_max_days,
        check_target,
        parse_calibration,
        quote_promise,
    )
    from ordercast.new_lines import load_new_lines

    # Checked before the model and the data are read: a typo fails fast.
    wanted, days = check_target(target), check_max_days(max_days)
    mapping_of_p = None
    if calibration is not None:
        try:
            mapping_of_p = parse_calibration(json.loads(calibration.read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"--calibration {calibration}: not a readable JSON file ({exc})"
            ) from exc
    moment = None if as_of is None else _date(as_of, "--as-of")
    lines = load_new_lines(orders, mapping)
    fitted = _load_model(model, config, trust)
    quotes = quote_promise(
        fitted, lines, wanted, as_of=moment, max_days=days, calibration=mapping_of_p
    )
    table = quotes.quotes.assign(actions=[" | ".join(said) for said in quotes.quotes["actions"]])
    write_frame(table, out)
    if curve is not None:
        write_frame(quotes.curve, curve)
    quoted = int(table["quoted_date"].notna().sum())
    # A line at a site the model has no history of has no curve at all.
    strangers = len(table) - int(quotes.curve["line_id"].nunique())
    missed = len(table) - quoted - strangers
    typer.echo(
        f"quoted {quoted:,} of {len(table):,} lines at {wanted:.0%} on time -> {out}"
        + (f"; {missed:,} reach it on no date within {days} days (see note)" if missed else "")
        + (f"; {strangers:,} at a site the model has no history of (see note)" if strangers else "")
    )
