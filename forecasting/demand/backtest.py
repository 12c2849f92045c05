"""Rolling-origin backtests: refit on each window's past, score on its future.

Per-series work is pure numpy (:func:`backtest_values`); :func:`backtest` runs it over
a long frame and returns one row per series, window and model with every metric of
:mod:`forecasting.demand.metrics`, plus the series' demand class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.demand.base import DEFAULT_QUANTILES, SeriesForecast
from forecasting.demand.classify import classify_values
from forecasting.demand.metrics import naive_scale, pinball, series_metrics
from forecasting.demand.registry import make_model
from forecasting.errors import ConfigError

ENSEMBLE = "ensemble"


@dataclass(frozen=True)
class Windows:
    """Where the backtest windows start: ``cutoffs[i]`` is the training length of window i."""

    cutoffs: tuple[int, ...]
    horizon: int


def plan_windows(
    n: int, horizon: int, n_windows: int, step: int | None = None, min_train: int = 4
) -> Windows:
    """The last ``n_windows`` windows of ``horizon`` steps that leave ``min_train`` points."""
    if step is not None and step < 1:
        # a step of 0 scores one window n times; a negative one reaches past the data
        raise ConfigError(f"step must be at least 1 period between windows, got {step}")
    step = step or horizon
    cutoffs = [n - horizon - step * i for i in range(n_windows)]
    usable = tuple(sorted(c for c in cutoffs if c >= min_train))
    return Windows(usable, horizon)


def forecast_values(
    name: str, y: np.ndarray, h: int, season_length: int, quantiles: Sequence[float]
) -> SeriesForecast:
    """Fit one named model on one series and forecast ``h`` steps."""
    model = make_model(name, season_length)
    return model.predict_series(model.fit_series(y), h, quantiles)


def combine(forecasts: Sequence[SeriesForecast]) -> SeriesForecast:
    """Equal-weight combination: means averaged, quantiles averaged level by level."""
    mean = np.mean([f.mean for f in forecasts], axis=0)
    with_q = [f.quantiles for f in forecasts if f.quantiles is not None]
    quantiles = np.sort(np.mean(with_q, axis=0), axis=0) if with_q else None
    return SeriesForecast(mean, quantiles)


def selection_score(
    actual: np.ndarray, fc: SeriesForecast, quantiles: Sequence[float], scale: float
) -> float:
    """Scaled mean pinball loss over the quantiles (falls back to scaled MAE without them)."""
    if fc.quantiles is None:
        return float(np.mean(np.abs(actual - fc.mean)) / scale)
    losses = [pinball(actual, fc.quantiles[i], q) for i, q in enumerate(quantiles)]
    return float(np.mean(losses) / scale)


def robust_scale(train: np.ndarray, m: int) -> float:
    """The naive scale, or the mean level, or 1: never zero, never NaN."""
    scale = naive_scale(train, m)
    if np.isfinite(scale):
        return scale
    level = float(np.mean(np.abs(train)))
    return level if level > 0 else 1.0


def backtest_values(
    y: np.ndarray,
    names: Sequence[str],
    windows: Windows,
    season_length: int,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    precomputed: dict[str, dict[int, SeriesForecast]] | None = None,
) -> tuple[list[dict], dict[str, dict[int, SeriesForecast]]]:
    """Metrics rows (window, model, metrics, score) and the forecasts made, per model.

    ``precomputed[name][cutoff]`` supplies forecasts made elsewhere (the global model,
    trained across series) for models that are not refitted here.
    """
    precomputed = precomputed or {}
    names = [*names, *(n for n in precomputed if n not in names)]
    rows: list[dict] = []
    made: dict[str, dict[int, SeriesForecast]] = {name: {} for name in names}
    qmap_levels = list(quantiles)
    for w, cutoff in enumerate(windows.cutoffs):
        train, actual = y[:cutoff], y[cutoff : cutoff + windows.horizon]
        scale = robust_scale(train, season_length)
        for name in names:
            if name in precomputed:
                given = precomputed[name][cutoff]
                fc = SeriesForecast(
                    given.mean[: len(actual)],
                    None if given.quantiles is None else given.quantiles[:, : len(actual)],
                )
            else:
                fc = forecast_values(name, train, len(actual), season_length, quantiles)
            made[name][w] = fc
            rows.append(_row(w, cutoff, name, actual, fc, train, season_length, qmap_levels, scale))
    return rows, made


def _row(
    w: int,
    cutoff: int,
    name: str,
    actual: np.ndarray,
    fc: SeriesForecast,
    train: np.ndarray,
    m: int,
    quantiles: list[float],
    scale: float,
) -> dict:
    qmap = {} if fc.quantiles is None else dict(zip(quantiles, fc.quantiles, strict=True))
    metrics = series_metrics(
        actual, fc.mean, qmap, train, m, interval=(quantiles[0], quantiles[-1])
    )
    return {
        "window": w,
        "cutoff": cutoff,
        "model": name,
        "score": selection_score(actual, fc, quantiles, scale),
        **metrics,
    }


def ensemble_rows(
    y: np.ndarray,
    members: Sequence[str],
    made: dict[str, dict[int, SeriesForecast]],
    windows: Windows,
    season_length: int,
    quantiles: Sequence[float],
    name: str = ENSEMBLE,
) -> list[dict]:
    """Backtest rows of the equal-weight combination of ``members`` (no refitting),
    recorded as model ``name``."""
    rows = []
    for w, cutoff in enumerate(windows.cutoffs):
        train, actual = y[:cutoff], y[cutoff : cutoff + windows.horizon]
        fc = combine([made[name][w] for name in members])
        rows.append(
            _row(
                w,
                cutoff,
                name,
                actual,
                fc,
                train,
                season_length,
                list(quantiles),
                robust_scale(train, season_length),
            )
        )
    return rows


METRIC_COLUMNS = ["mase", "rmsse", "smape", "wape", "bias", "scaled_pinball", "coverage"]
# A backtest's columns, so that one in which no series was long enough for a window is an
# empty frame that can still be merged and summarised (not one with no columns at all).
BACKTEST_COLUMNS = [
    "series_id", "demand_class", "window", "cutoff", "model", "score", *METRIC_COLUMNS
]  # fmt: skip
SCORE_COLUMNS = ("score", *METRIC_COLUMNS)


@dataclass(frozen=True, eq=False)
class BacktestRecord:
    """One series' backtest rows (:func:`backtest_values`, :func:`ensemble_rows`), compact.

    ``names`` are the models scored, ``model`` each row's index into them, ``window`` and
    ``cutoff`` each row's window and training length, ``scores`` each row's
    :data:`SCORE_COLUMNS` (float64, NaN where a row has no such value). A row as a dict
    costs ~700 bytes on the driver, which keeps every series' record until the end of a
    fit (#20: 10 kB of the ~40 kB a series held there); this holds the same numbers in
    ~100 bytes a row.
    """

    names: tuple[str, ...]
    model: np.ndarray  # (rows,) int8
    window: np.ndarray  # (rows,) int32
    cutoff: np.ndarray  # (rows,) int32
    scores: np.ndarray  # (rows, len(SCORE_COLUMNS)) float64

    def __len__(self) -> int:
        return len(self.model)


def compact_rows(rows: Sequence[dict]) -> BacktestRecord:
    """Backtest rows (dicts with ``window, cutoff, model`` and :data:`SCORE_COLUMNS`) as a
    :class:`BacktestRecord`; a row lacking a score column gets NaN there."""
    names = tuple(dict.fromkeys(row["model"] for row in rows))
    index = {name: i for i, name in enumerate(names)}
    nan = float("nan")
    return BacktestRecord(
        names=names,
        model=np.array([index[row["model"]] for row in rows], dtype=np.int8),
        window=np.array([row["window"] for row in rows], dtype=np.int32),
        cutoff=np.array([row["cutoff"] for row in rows], dtype=np.int32),
        scores=np.array(
            [[row.get(c, nan) for c in SCORE_COLUMNS] for row in rows], dtype=np.float64
        ).reshape(len(rows), len(SCORE_COLUMNS)),
    )


def record_rows(record: BacktestRecord | Sequence[dict]) -> list[dict]:
    """The rows of a record as dicts again (a sequence of dicts, as older fits hold, as is)."""
    if not isinstance(record, BacktestRecord):
        return list(record)
    return [
        {
            "window": int(record.window[i]),
            "cutoff": int(record.cutoff[i]),
            "model": record.names[record.model[i]],
            **dict(zip(SCORE_COLUMNS, map(float, record.scores[i]), strict=True)),
        }
        for i in range(len(record))
    ]


def records_frame(records: Sequence[tuple[str, str, BacktestRecord]]) -> pd.DataFrame:
    """``(series_id, demand_class, record)`` triples as one frame, as :func:`backtest_frame`
    makes of their rows, built column by column (no dict per row)."""
    records = [item for item in records if len(item[2])]
    if not records:
        return backtest_frame([])
    lengths = np.array([len(r) for _, _, r in records])
    ids = np.array([sid for sid, _, _ in records], dtype=object)
    classes = np.array([klass for _, klass, _ in records], dtype=object)
    models = [np.array(r.names, dtype=object)[r.model] for _, _, r in records]
    scores = np.vstack([r.scores for _, _, r in records])
    columns = {
        "series_id": np.repeat(ids, lengths),
        "demand_class": np.repeat(classes, lengths),
        "window": np.concatenate([r.window for _, _, r in records]).astype(np.int64),
        "cutoff": np.concatenate([r.cutoff for _, _, r in records]).astype(np.int64),
        "model": np.concatenate(models) if models else np.array([], dtype=object),
        **{c: scores[:, i] for i, c in enumerate(SCORE_COLUMNS)},
    }
    return pd.DataFrame(columns)[BACKTEST_COLUMNS]


def backtest_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """Backtest rows as a frame with :data:`BACKTEST_COLUMNS` (first), even when empty."""
    frame = pd.DataFrame(list(rows))
    extra = [c for c in frame.columns if c not in BACKTEST_COLUMNS]
    return frame.reindex(columns=[*BACKTEST_COLUMNS, *extra])


def backtest(
    frame: pd.DataFrame,
    horizon: int,
    models: Sequence[str],
    season_length: int = 1,
    n_windows: int = 3,
    step: int | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> pd.DataFrame:
    """Rolling-origin backtest of ``models`` on every series of a long frame.

    Returns one row per ``series_id``, window and model: ``cutoff`` (training length),
    ``demand_class``, the metrics and the selection ``score`` (scaled pinball).
    Series too short for any window are left out.
    """
    out: list[dict] = []
    for series_id, group in frame.sort_values(["series_id", "ds"]).groupby("series_id"):
        y = group["y"].to_numpy(dtype=float)
        windows = plan_windows(len(y), horizon, n_windows, step)
        if not windows.cutoffs:
            continue
        rows, _ = backtest_values(y, models, windows, season_length, quantiles)
        klass = classify_values(y)[2]
        out.extend({"series_id": series_id, "demand_class": klass, **r} for r in rows)
    return backtest_frame(out)


def summarize(metrics: pd.DataFrame, by: Sequence[str] = ("model",)) -> pd.DataFrame:
    """Mean of each metric by ``by`` (e.g. model, or model and demand class)."""
    numeric = [*METRIC_COLUMNS, "score"]
    present = [c for c in numeric if c in metrics.columns]
    return metrics.groupby(list(by))[present].mean().reset_index()
