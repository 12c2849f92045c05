"""CLI commands on series: ``forecast`` and ``backtest``."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import typer

from forecasting.demand.config import (
    BacktestConfig,
    GlobalModelConfig,
    ParallelConfig,
)
from forecasting.demand.frames import (
    check_series_columns,
    check_series_frame,
    parse_ds,
    regularize,
)
from forecasting.demand.frequency import infer_freq
from forecasting.demand.seasonality import default_seasons
from forecasting.errors import ConfigError
from forecasting.series import canonical_freq
from ordercast.outputs import frame_writer, output_file, read_frame, write_frame
from ordercast.series_chunks import SeriesIndex, read_chunk, rows_named_in_file, series_index

if TYPE_CHECKING:
    from forecasting.demand.reconcile import Method

# The models (scikit-learn, statsmodels) and the training pipeline (MLflow) are imported
# in the commands' bodies: `forecast --help` took 4.6 s when they came with the module.

logger = logging.getLogger(__name__)

SERIES_HELP = (
    "Long series file (CSV or Parquet) with series_id, ds, y — e.g. from `ordercast series`."
)
DATE_FORMAT_HELP = (
    "The form of ds when it is not ISO (YYYY-MM-DD), in strptime codes, e.g. %d/%m/%Y. "
    "Without it such dates are an error, not a guess."
)


def read_series(path: Path, date_format: str | None) -> pd.DataFrame:
    """A series (or future-values) file with its ds read in ``date_format`` when given."""
    return _dated(read_frame(path), date_format)


def _dated(frame: pd.DataFrame, date_format: str | None) -> pd.DataFrame:
    """``frame`` with its ds read in ``date_format`` when given."""
    if date_format and "ds" in frame.columns:
        frame = frame.assign(ds=parse_ds(frame["ds"], date_format))
    return frame


def parse_quantiles(text: str) -> tuple[float, ...]:
    """'0.1,0.5,0.9' -> (0.1, 0.5, 0.9); each strictly between 0 and 1."""
    try:
        values = tuple(sorted(float(v) for v in text.split(",") if v.strip()))
    except ValueError as exc:
        raise ConfigError(f"--quantiles '{text}': write numbers like 0.1,0.5,0.9") from exc
    if not values or any(not 0 < q < 1 for q in values):
        raise ConfigError(f"--quantiles '{text}': each quantile must be between 0 and 1")
    return values


def parse_seasons(text: str | None, freq: str) -> tuple[int, ...]:
    if not text:
        return default_seasons(freq)
    try:
        seasons = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise ConfigError(f"--season '{text}': write whole numbers like 7 or 24,168") from exc
    if not seasons or any(s < 1 for s in seasons):
        raise ConfigError(f"--season '{text}': periods must be at least 1")
    return seasons


@contextlib.contextmanager
def dask_client(address: str | None) -> Iterator[object | None]:
    """A ``dask.distributed.Client`` for ``--dask ADDRESS`` (None without the option)."""
    if not address:
        yield None
        return
    from distributed import Client

    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()


def forecast(
    series: Path = typer.Argument(..., help=SERIES_HELP),
    horizon: int = typer.Option(..., "--horizon", "-H", min=1, help="Periods to forecast."),
    out: Path = typer.Option(
        ..., "--out", callback=output_file, help="Forecast file (.csv, .csv.gz or .parquet)."
    ),
    freq: str | None = typer.Option(
        None, help="Pandas offset alias (h, D, W, MS, ME, QS, YS, ...); inferred when omitted."
    ),
    season: str | None = typer.Option(
        None, help="Seasonal period(s), e.g. 7 or 24,168; default by frequency."
    ),
    quantiles: str = typer.Option(
        "0.1,0.5,0.9",
        help="Quantile levels to write. The models are chosen on P10/P50/P90 whatever these are.",
    ),
    models: str = typer.Option(
        "auto", help="'auto' (chosen per series by backtest) or model names, comma-separated."
    ),
    windows: int = typer.Option(3, min=1, help="Backtest windows used to choose the model."),
    n_jobs: int = typer.Option(-1, help="Parallel workers (-1: all cores)."),
    dask: str | None = typer.Option(None, "--dask", help="Run on this Dask scheduler address."),
    selection_out: Path | None = typer.Option(
        None,
        "--selection-out",
        callback=output_file,
        help="Also write the chosen model and score per series.",
    ),
    reconcile: str = typer.Option(
        "auto",
        help=(
            "Make hierarchy levels add up: mint_shrink, bottom_up, ols or none. 'auto': "
            "mint_shrink when SERIES has a level column with several levels (from "
            "`ordercast series --levels`), else none."
        ),
    ),
    exog: str | None = typer.Option(
        None,
        help=(
            "Comma-separated numeric columns of SERIES known in advance (price, promo...), "
            "used by the global model; their future values come from --future."
        ),
    ),
    future: Path | None = typer.Option(
        None, help="Future values of the --exog columns: series_id, ds and those columns."
    ),
    holidays: str | None = typer.Option(
        None, help="Country code (US, DE, GB...) whose public holidays the global model uses."
    ),
    adjusted: bool = typer.Option(
        False,
        "--adjusted",
        help="Apply the planners' adjustments in force (the order store at database.url) as "
        "the service does: mean and quantiles become the plan, 'statistical' keeps the "
        "model's mean, 'adjustments' names the ids. Needs a hierarchy series file.",
    ),
    config: Path | None = typer.Option(
        None, help="YAML overriding configs/default.yaml (for --adjusted: database.url)."
    ),
    date_format: str | None = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
    chunk_series: int = typer.Option(
        10_000,
        "--chunk-series",
        min=0,
        help=(
            "Forecast a larger panel this many series at a time, each chunk with its own "
            "global model, so that memory stays flat whatever the panel's size; the "
            "forecast file is written as the chunks finish. 0: all at once. A hierarchy "
            "(a level column) and --adjusted are always forecast at once."
        ),
    ),
) -> None:
    """Forecast every series with the model chosen for it by backtest, with quantiles.

    Writes series_id, ds, model, fallback, mean and one column per quantile (q10, q50,
    q90); a hierarchy (a level column) also gets level and its key columns (sku, site...,
    empty where a level sums over that key) after series_id, and a model moved by
    reconciliation reads e.g. "ets (mint_shrink)". Short, constant or all-zero series,
    and every series when the horizon is too long for the history to backtest, get a
    rule-based model: its reason is in the fallback column (and in --selection-out),
    and a warning counts them. With 20 or more long-enough series a global boosted
    model, trained across all of them, competes with the local models for every series.
    A panel of more than --chunk-series series is read, forecast and written that many
    series at a time (a global model per chunk), so memory does not grow with the panel.
    """
    from forecasting.demand.auto import AutoForecaster
    from forecasting.demand.reconcile import with_key_columns
    from forecasting.demand.selection import fallback_summary, with_fallback_column
    from training.pipelines.demand import reconciled

    levels = parse_quantiles(quantiles)
    exog_columns = tuple(c.strip() for c in (exog or "").split(",") if c.strip())
    index = _chunk_index(series, chunk_series, adjusted)
    parts: Iterable[pd.DataFrame] = (
        [read_series(series, date_format)]
        if index is None
        else _chunks(index, chunk_series, date_format)
    )
    future_frame = None if future is None else read_series(future, date_format)
    inferred = canonical_freq(freq) if freq else None
    chosen: list[pd.DataFrame] = []
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if index is not None:
            stack.enter_context(
                rows_named_in_file(
                    lambda: check_series_frame(read_series(series, date_format), exog_columns)
                )
            )
        client = stack.enter_context(dask_client(dask))
        writer = stack.enter_context(frame_writer(out))
        selection_writer = (
            None if selection_out is None else stack.enter_context(frame_writer(selection_out))
        )
        for number, frame in enumerate(parts, 1):
            inferred = inferred or _infer(frame)
            seasons = parse_seasons(season, inferred)
            method = reconcile_method(reconcile, frame)
            model = AutoForecaster(
                horizon=horizon,
                season_length=seasons[0],
                freq=inferred,
                models=models,
                # The backtest scores its own grid (P10/P50/P90): asking for other columns
                # must not change which model each series gets, nor its mean.
                exog=exog_columns,
                backtest=BacktestConfig(n_windows=windows),
                global_model=GlobalModelConfig(seasons=seasons, holidays=holidays),
                parallel=ParallelConfig(n_jobs=n_jobs, dask_client=client),
            ).fit(frame, future=_future_part(future_frame, frame, index))
            result = model.predict(horizon, levels)
            if method is not None:
                result = reconciled(model, result, frame, method)
            result = with_key_columns(with_fallback_column(result, model.selection_), frame)
            if adjusted:
                result = _with_adjustments(result, levels, inferred, config)
            writer.write(result)
            if selection_writer is not None:
                selection_writer.write(model.selection_)
            chosen.append(model.selection_[["model", "fallback"]])
            if index is not None:
                done = sum(len(c) for c in chosen)
                logger.info(
                    "chunk %d of %d: %s of %s series forecast in %.0f s",
                    number,
                    index.chunk_count(chunk_series),
                    f"{done:,}",
                    f"{len(index.ids):,}",
                    time.monotonic() - started,
                )
            del model, result, frame
    selection = pd.concat(chosen, ignore_index=True)
    summary = fallback_summary(selection)
    if summary is not None:
        logger.warning("%s", summary)
    counts = selection["model"].value_counts().to_dict()
    fallbacks = int(selection["fallback"].notna().sum())
    typer.echo(
        f"wrote {writer.rows:,} forecast rows for {len(selection):,} series to {out}\n"
        f"models chosen: {counts}; fallbacks: {fallbacks}"
    )


def _chunk_index(series: Path, chunk_series: int, adjusted: bool) -> SeriesIndex | None:
    """The series file's index when it is forecast in chunks of ``chunk_series`` series:
    more series than that, and no hierarchy (reconciliation and the planners' adjustments
    need every level of it at once). None: read and forecast the whole file at once."""
    if chunk_series == 0 or adjusted:
        return None
    index = series_index(series)
    if index is None or len(index.ids) <= chunk_series:
        return None
    if "level" in index.columns:
        logger.info("a hierarchy is reconciled across all its levels: read whole, not in chunks")
        return None
    logger.info(
        "%s series: forecast %s at a time (--chunk-series), each chunk with its own global "
        "model and class defaults",
        f"{len(index.ids):,}",
        f"{chunk_series:,}",
    )
    return index


def _chunks(index: SeriesIndex, size: int, date_format: str | None) -> Iterator[pd.DataFrame]:
    """The file's series, ``size`` at a time."""
    for ids in index.chunks(size):
        yield _dated(read_chunk(index, ids), date_format)


def _future_part(
    future: pd.DataFrame | None, frame: pd.DataFrame, index: SeriesIndex | None
) -> pd.DataFrame | None:
    """The future values of ``frame``'s series (all of them when not in chunks)."""
    if future is None or index is None or "series_id" not in future.columns:
        return future
    ids = set(frame["series_id"].astype(str))
    return future[future["series_id"].astype(str).isin(ids)]


def _with_adjustments(
    result: pd.DataFrame, grid: tuple[float, ...], freq: str, config: Path | None
) -> pd.DataFrame:
    from forecasting.demand.adjusted_frame import adjust_forecast_frame
    from ordercast.settings import load_settings
    from store.database import OrderStore
    from training.adjustments import stored_adjustments

    store = OrderStore.open(load_settings(config).database.url)
    try:
        adjustments = stored_adjustments(store)
    finally:
        store.dispose()
    planned, orphaned = adjust_forecast_frame(result, adjustments, grid, freq)
    for row in orphaned.itertuples(index=False):
        logger.warning(
            "adjustment %s on %s %s does not apply to this forecast: %s",
            row.adjustment_id,
            row.level,
            row.series_id,
            row.problem,
        )
    moved = int((planned["adjustments"] != "").sum())
    logger.info("applied %d adjustment(s): %d forecast rows changed", len(adjustments), moved)
    return planned


def backtest(
    series: Path = typer.Argument(..., help=SERIES_HELP),
    horizon: int = typer.Option(..., "--horizon", "-H", min=1, help="Periods per window."),
    out: Path = typer.Option(
        ...,
        "--out",
        callback=output_file,
        help="Metrics file: one row per series, window, model.",
    ),
    windows: int = typer.Option(3, min=1, help="Rolling-origin windows."),
    step: int | None = typer.Option(
        None, min=1, help="Periods between window starts (default: horizon)."
    ),
    models: str = typer.Option(
        "naive,seasonal_naive,ets,sba,tsb,window_average", help="Models to compare."
    ),
    freq: str | None = typer.Option(None, help="Pandas offset alias; inferred when omitted."),
    season: str | None = typer.Option(None, help="Seasonal period; default by frequency."),
    quantiles: str = typer.Option("0.1,0.5,0.9", help="Quantile levels to score."),
    date_format: str | None = typer.Option(None, "--date-format", help=DATE_FORMAT_HELP),
) -> None:
    """Rolling-origin backtest: MASE, RMSSE, sMAPE, WAPE, bias, scaled pinball, coverage.

    Prints the summary per model and per demand class; writes every row to OUT.
    """
    from forecasting.demand.backtest import backtest as run_backtest
    from forecasting.demand.backtest import summarize
    from forecasting.demand.registry import parse_model_list

    frame = check_series_frame(read_series(series, date_format))
    inferred = canonical_freq(freq) if freq else _infer(frame)
    seasons = parse_seasons(season, inferred)
    names = parse_model_list(models)
    metrics = run_backtest(
        regularize(frame, inferred),
        horizon,
        names,
        seasons[0],
        windows,
        step,
        parse_quantiles(quantiles),
    )
    if metrics.empty:
        raise ConfigError(
            f"no series is long enough for a {horizon}-period window plus 8 points of history"
        )
    write_frame(metrics, out)
    typer.echo(summarize(metrics).round(3).to_string(index=False))
    typer.echo("")
    typer.echo(summarize(metrics, ("demand_class", "model")).round(3).to_string(index=False))
    note = _seasonal_naive_note(metrics, seasons[0])
    if note:
        typer.echo(f"\n{note}")


def _seasonal_naive_note(metrics: pd.DataFrame, season: int) -> str | None:
    """Why seasonal_naive scored as naive did, where it did: with a season of 1, or in the
    windows whose history is shorter than one season (it repeats the last value there)."""
    rows = metrics[metrics["model"] == "seasonal_naive"]
    if rows.empty:
        return None
    if season <= 1:
        return "seasonal_naive is naive with a season of 1 period (pass --season to compare)."
    short = int((rows["cutoff"] < season).sum())
    if not short:
        return None
    return (
        f"seasonal_naive repeated the last value, as naive does, in {short:,} of {len(rows):,} "
        f"series windows: their history is shorter than one season ({season} periods)."
    )


def reconcile_method(text: str, frame: pd.DataFrame) -> Method | None:
    """The reconciliation method for --reconcile TEXT on this series frame (None: none)."""
    from forecasting.demand.reconcile import METHODS

    hierarchical = "level" in frame.columns and frame["level"].nunique() > 1
    if text == "auto":
        return "mint_shrink" if hierarchical else None
    if text == "none":
        return None
    if text not in METHODS:
        raise ConfigError(f"--reconcile '{text}': use auto, none or one of {', '.join(METHODS)}")
    if not hierarchical:
        raise ConfigError(
            f"--reconcile {text} needs several hierarchy levels in the series file: a level "
            "column and key columns, as `ordercast series --levels 'sku,site;sku;site;total'` "
            "writes"
        )
    return METHODS[METHODS.index(text)]


def _infer(frame: pd.DataFrame) -> str:
    """The frequency of the series' dates (their values are checked where they are used)."""
    check_series_columns(frame)
    dates = frame[[c for c in ("series_id", "ds") if c in frame.columns]].assign(y=0.0)
    return infer_freq(check_series_frame(dates))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(forecast)
    app.command()(backtest)
