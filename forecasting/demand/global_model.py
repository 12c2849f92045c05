"""A global gradient-boosting model trained across all series (scikit-learn HistGradientBoosting).

Local models see one series; a global model learns the shapes many series share (daily
and weekly cycles, how a spike decays) and lends them to short or noisy series. The
recipe follows what wins forecasting competitions with boosted trees:

* **Scale-free rows.** Every training row is the window of the ``window`` points before
  a target, divided by that window's mean absolute level. Series of any scale then look
  alike, and a forecast is multiplied back by the level at its origin.
* **Features**: lags (1..m and multiples of each seasonal period), window means and
  standard deviations, the last season against the one before, calendar fields of the
  target period (hour, weekday, day of month, week and month, as the frequency allows),
  and any exogenous columns in the frame (taken as known in advance).
* **Recursive multi-step**: one model predicts one step; each prediction joins the history
  for the next, the features recomputed exactly as in training.
* **Intervals by conformal residuals**: the signed scaled errors of held-out forecasts,
  pooled across series per horizon step, give each step's error quantiles; a series'
  interval is its point forecast plus those quantiles times its own level.

All series are predicted together, step by step, so a forecast of thousands of series is
a few dozen vectorised booster calls.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.isotonic import isotonic_regression

from forecasting.demand.base import DEFAULT_QUANTILES, SeriesForecast
from forecasting.demand.calendar_features import (
    calendar_fields,
    calendar_matrix,
    check_country,
    holiday_matrix,
)
from forecasting.demand.frames import series_rows
from forecasting.demand.intervals import finish
from forecasting.threads import prediction_threads

MIN_POINTS = 8


def default_lags(seasons: Sequence[int], window: int) -> tuple[int, ...]:
    """1..m of the main period, then each period's multiples that fit in the window."""
    main = max(1, int(seasons[0])) if seasons else 1
    lags = set(range(1, min(max(main, 8), window) + 1))
    for period in seasons:
        for multiple in range(1, 8):
            for offset in (-1, 0, 1):
                lag = period * multiple + offset
                if 1 <= lag <= window:
                    lags.add(lag)
    return tuple(sorted(lags))


def default_window(seasons: Sequence[int]) -> int:
    """Context length: two of the longest seasons that are not yearly-long, at least 16."""
    usable = [p for p in seasons if p <= 200]
    return int(max(16, 2 * max(usable))) if usable else 16


@dataclass(frozen=True)
class _Design:
    lags: tuple[int, ...]
    window: int
    seasons: tuple[int, ...]
    freq: str
    calendar: tuple[str, ...]
    holidays: str | None
    exog: tuple[str, ...]


def _target_features(ds: pd.DatetimeIndex, design: _Design, exog: np.ndarray | None) -> np.ndarray:
    """What is known in advance of a target period: calendar, holidays, exogenous values."""
    parts = [calendar_matrix(ds, design.calendar)]
    if design.holidays:
        parts.append(holiday_matrix(ds, design.freq, design.holidays))
    if design.exog:
        parts.append(np.full((len(ds), len(design.exog)), np.nan) if exog is None else exog)
    return np.hstack(parts)


def _window_features(windows: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
    """Scaled features of context windows (rows, ``window`` points, oldest first).

    Returns the feature matrix and each row's scale (mean |level| of its window). Short
    histories leave the oldest points NaN, and so some features: the booster treats NaN
    as missing, so numpy's empty-slice warnings say nothing worth hearing here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _window_features_of(windows, design)


def _window_features_of(windows: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
    level = np.nanmean(np.abs(windows), axis=1)
    scale = np.where(np.isfinite(level) & (level > 0), level, 1.0)
    scaled = windows / scale[:, None]
    w = design.window
    parts = [scaled[:, w - lag][:, None] for lag in design.lags]
    for span in sorted({*design.seasons, w}):
        if span <= w:
            tail = scaled[:, w - span :]
            parts.append(np.nanmean(tail, axis=1)[:, None])
            parts.append(np.nanstd(tail, axis=1)[:, None])
    for period in design.seasons:
        if 2 * period <= w:
            last = np.nanmean(scaled[:, w - period :], axis=1)
            before = np.nanmean(scaled[:, w - 2 * period : w - period], axis=1)
            parts.append((last - before)[:, None])
    parts.append(np.log1p(level)[:, None])  # the absolute level, for scale-dependent shapes
    return np.hstack(parts), scale


class GlobalBoostedForecaster(BaseEstimator):
    """One HistGradientBoosting model for all series, recursive, with conformal intervals.

    Parameters: ``seasons`` (periods in steps; default by frequency), ``window`` (context
    length; default two of the longest season up to 200 steps), ``max_iter``,
    ``learning_rate``, ``max_leaf_nodes``, ``loss`` (``squared_error`` or
    ``absolute_error``), ``max_rows`` (training rows kept, newest first per series, so
    memory and time stay bounded), ``random_state``.
    """

    name = "global_gbm"

    def __init__(
        self,
        seasons: Sequence[int] = (),
        window: int | None = None,
        max_iter: int = 500,
        learning_rate: float = 0.08,
        max_leaf_nodes: int = 63,
        loss: str = "absolute_error",
        max_rows: int = 400_000,
        random_state: int = 0,
        holidays: str | None = None,
        exog: Sequence[str] = (),
    ) -> None:
        self.seasons = seasons
        self.window = window
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.loss = loss
        self.max_rows = max_rows
        self.random_state = random_state
        self.holidays = holidays
        self.exog = exog

    # -- training -----------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, freq: str) -> GlobalBoostedForecaster:
        """Fit on a regular long frame (``series_id, ds, y``; NaN allowed in ``y``)."""
        seasons = tuple(int(p) for p in self.seasons if int(p) > 1)
        window = int(self.window or default_window(seasons))
        self.design_ = _Design(
            default_lags(seasons or (1,), window),
            window,
            seasons,
            freq,
            calendar_fields(freq),
            check_country(self.holidays) if self.holidays else None,
            tuple(self.exog),
        )
        self.freq_ = freq
        X, y = self._training_rows(frame)
        # A feature no training row has (a lag longer than every series) would break the
        # booster's binning; leave it out, here and at prediction.
        self.features_ = np.isfinite(X).any(axis=0)
        if not self.features_.all():  # a copy of every training row only when needed
            X = X[:, self.features_]
        self.model_ = HistGradientBoostingRegressor(
            loss=self.loss,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=40,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(X, y)
        self.training_rows_ = len(y)
        return self

    def _training_rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        design = self.design_
        w = design.window
        # Slices of the columns, one series at a time: a list of every series' sub-frame
        # cost ~8 kB a series on the driver for the whole training (#20: 0.8 GB at 100,000
        # series), and a groupby's iteration a sorted copy of the frame.
        rows = series_rows(frame)
        y_all = rows.frame["y"].to_numpy(float)
        ds_all = rows.frame["ds"].to_numpy()
        exog_all = rows.frame[list(design.exog)].to_numpy(float) if design.exog else None
        per_series = max(1, self.max_rows // max(1, len(rows.ids)))
        # Filled in place: a list of every series' rows stacked at the end held the
        # training rows twice for a moment, at the driver's peak (#20).
        bound = int(np.clip(rows.ends - rows.starts - MIN_POINTS, 0, per_series).sum())
        features: np.ndarray | None = None
        targets = np.empty(bound)
        filled = 0
        for _, first, end in rows.spans():
            values = y_all[first:end]
            if np.isfinite(values).sum() < MIN_POINTS:
                continue
            padded = np.concatenate([np.full(w, np.nan), values])
            # Row t: the w points before values[t]; keep targets with at least a few points
            # of context, newest rows first when the budget is tight.
            start = max(MIN_POINTS, len(values) - per_series)
            windows = np.lib.stride_tricks.sliding_window_view(padded[:-1], w)[start:]
            target = values[start:]
            ds = pd.DatetimeIndex(ds_all[first:end][start:])
            keep = np.isfinite(target)
            if not keep.any():
                continue
            X, scale = _window_features(windows[keep], design)
            exog = None if exog_all is None else exog_all[first:end][start:][keep]
            made = np.hstack([X, _target_features(ds[keep], design, exog)])
            if features is None:
                features = np.empty((bound, made.shape[1]))
            features[filled : filled + len(made)] = made
            targets[filled : filled + len(made)] = target[keep] / scale
            filled += len(made)
        if features is None:
            raise ValueError("no series has enough points for the global model")
        return features[:filled], targets[:filled]

    # -- forecasting --------------------------------------------------------------
    def forecast_paths(
        self,
        histories: Sequence[np.ndarray],
        last_ds: Sequence[pd.Timestamp],
        h: int,
        future_exog: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """Point forecasts ``(len(histories), h)``, all series stepped together.

        ``future_exog[i]`` holds series i's exogenous values for the ``h`` target periods
        (``(h, len(exog))``; NaN where unknown), when the model was fitted with ``exog``.
        """
        w = self.design_.window
        context = np.full((len(histories), w + h), np.nan)
        for i, values in enumerate(histories):
            tail = np.asarray(values, dtype=float)[-w:]
            context[i, w - len(tail) : w] = tail
        offset = pd.tseries.frequencies.to_offset(self.freq_)
        with prediction_threads(len(histories)):
            return self._step_forward(context, last_ds, h, offset, future_exog)

    def _step_forward(
        self,
        context: np.ndarray,
        last_ds: Sequence[pd.Timestamp],
        h: int,
        offset: BaseOffset,
        future_exog: Sequence[np.ndarray] | None,
    ) -> np.ndarray:
        w = self.design_.window
        origins = pd.DatetimeIndex(list(last_ds))
        for step in range(h):
            windows = context[:, step : step + w]
            X, scale = _window_features(windows, self.design_)
            ds = pd.DatetimeIndex(origins + offset * (step + 1))
            exog = None
            if future_exog is not None and self.design_.exog:
                exog = np.vstack([values[step] for values in future_exog])
            X = np.hstack([X, _target_features(ds, self.design_, exog)])
            context[:, w + step] = self.model_.predict(X[:, self.features_]) * scale
        return context[:, w:]


@dataclass(frozen=True)
class ConformalErrors:
    """Signed errors of held-out forecasts divided by each series' level, per horizon step."""

    errors: np.ndarray  # shape (n_forecasts, h)
    # Offsets by (h, quantile levels): the same for every series, so computed once.
    _offsets: dict[tuple[int, tuple[float, ...]], np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def quantiles(self, mean: np.ndarray, level: float, quantiles: Sequence[float]) -> np.ndarray:
        """``(len(quantiles), h)``: the forecast plus the step's error quantiles times level."""
        key = (len(mean), tuple(float(q) for q in quantiles))
        if key not in self._offsets:
            self._offsets[key] = self._step_offsets(*key)
        return mean[None, :] + self._offsets[key] * level

    def _step_offsets(self, h: int, quantiles: tuple[float, ...]) -> np.ndarray:
        errors = self.errors[:, :h]
        levels = np.asarray(quantiles, float)
        offsets = np.nanquantile(errors, levels, axis=0)
        # Uncertainty does not shrink further ahead; sampling noise in the pooled
        # quantiles says otherwise here and there, so each band edge is fitted as the
        # nearest monotone sequence (isotonic least squares averages the violators rather
        # than taking their maximum, so it does not inflate the band).
        for row, q in enumerate(levels):
            if q != 0.5:
                offsets[row] = isotonic_regression(offsets[row], increasing=bool(q > 0.5))
        return offsets


def series_level(values: np.ndarray, window: int, period: int = 1) -> float:
    """How much a series moves beyond what a naive rule explains.

    The smaller of the mean |y_t - y_(t-1)| and mean |y_t - y_(t-period)| over the last
    ``window`` points: the in-sample error of the better of naive and seasonal naive (the
    scale MASE uses). Conformal errors are divided by this before pooling across series,
    so a volatile series gets a wide interval and a calm one a narrow one; taking the
    better rule keeps a trend (which inflates seasonal differences) or a strong cycle
    (which inflates first differences) from passing for noise. Falls back to the mean
    level, then to 1.
    """
    values = np.asarray(values, dtype=float)
    spreads = []
    for lag in {1, max(1, int(period))}:
        tail = values[-(window + lag) :]
        if len(tail) > lag:
            moves = np.abs(tail[lag:] - tail[:-lag])
            if np.isfinite(moves).any():
                spread = float(np.nanmean(moves))
                if spread > 0:
                    spreads.append(spread)
    if spreads:
        return min(spreads)
    level = np.abs(values[-window:])
    mean = float(np.nanmean(level)) if np.isfinite(level).any() else 0.0
    return mean if mean > 0 else 1.0


@dataclass(frozen=True)
class GlobalForecasts:
    """What :func:`global_forecasts` made: held-out forecasts by origin, final forecasts."""

    backtest: dict[str, dict[int, SeriesForecast]]  # series -> training length -> forecast
    final: dict[str, SeriesForecast]
    levels: dict[str, float]  # each series' level at the end, to rescale the errors
    nonnegative: dict[str, bool]  # series with no negative history: forecasts floored at 0
    errors: ConformalErrors
    model: GlobalBoostedForecaster


def global_forecasts(
    frame: pd.DataFrame,
    freq: str,
    seasons: Sequence[int],
    horizon: int,
    holdout_windows: int = 1,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    exog: Sequence[str] = (),
    future: pd.DataFrame | None = None,
    **params: object,
) -> GlobalForecasts:
    """Backtest and final forecasts of the global model for every series of a frame.

    The model is trained once on every series cut ``holdout_windows * horizon`` steps
    before its end and forecasts each held-out window from the true history before it
    (no refit per window); the errors of those forecasts calibrate the intervals. It is
    then refitted on everything and forecasts ``horizon`` steps past the end.

    ``backtest[series_id][cutoff]`` is the forecast made after the first ``cutoff``
    points: the windows of :func:`~forecasting.demand.backtest.plan_windows` with
    step = horizon.

    ``exog`` names columns of ``frame`` the model uses as known-in-advance features;
    held-out windows read them from ``frame``, the final forecast from ``future``
    (``series_id, ds`` and those columns for the ``horizon`` periods after each series'
    end; absent values are NaN, which the booster treats as missing).
    """
    levels = sorted(quantiles)
    exog = tuple(exog)
    params = {**params, "exog": exog}
    # Views into the frame's columns, not a copy of every series (#20: driver memory).
    rows = series_rows(frame)
    frame = rows.frame
    y_all = frame["y"].to_numpy(float)
    ds_all = frame["ds"].to_numpy()
    exog_all = frame[list(exog)].to_numpy(float) if exog else None
    ids = rows.ids
    histories = [y_all[first:end] for _, first, end in rows.spans()]
    last_ds = [pd.Timestamp(ds) for ds in ds_all[rows.ends - 1]]
    exog_history = [
        None if exog_all is None else exog_all[first:end] for _, first, end in rows.spans()
    ]
    cut = holdout_windows * horizon
    lengths = rows.ends - rows.starts
    position = np.arange(len(frame)) - np.repeat(rows.starts, lengths)
    train = frame[position < np.repeat(lengths - cut, lengths)]
    model = GlobalBoostedForecaster(seasons=seasons, **params).fit(train, freq)  # type: ignore[arg-type]  # params: its own options, passed through
    window = model.design_.window
    period = int(seasons[0]) if seasons and seasons[0] <= window else 1
    step = pd.tseries.frequencies.to_offset(freq)
    # Per series: origin -> (point forecast, the series' level at that origin).
    held_out: list[dict[int, tuple[np.ndarray, float]]] = [{} for _ in ids]
    scaled_errors = []
    for back in range(holdout_windows, 0, -1):  # oldest window first
        removed = back * horizon
        usable = [i for i, y in enumerate(histories) if len(y) - removed >= MIN_POINTS]
        if not usable:
            continue
        fc = model.forecast_paths(
            [histories[i][: len(histories[i]) - removed] for i in usable],
            [last_ds[i] - step * removed for i in usable],
            horizon,
            [_window_exog(exog_history[i], len(histories[i]) - removed, horizon) for i in usable]
            if exog
            else None,
        )
        for row, i in enumerate(usable):
            y = histories[i]
            origin = len(y) - removed
            level = series_level(y[:origin], window, period)
            held_out[i][origin] = (fc[row], level)
            actual = y[origin : origin + horizon]
            scaled_errors.append((actual - fc[row]) / level)
    errors = ConformalErrors(np.vstack(scaled_errors) if scaled_errors else np.zeros((1, horizon)))
    nonnegative = {
        sid: bool(np.nanmin(y, initial=0.0) >= 0) for sid, y in zip(ids, histories, strict=True)
    }
    backtest = {
        sid: {
            origin: SeriesForecast(
                *finish(mean, errors.quantiles(mean, level, levels), nonnegative[sid])
            )
            for origin, (mean, level) in held_out[i].items()
        }
        for i, sid in enumerate(ids)
    }
    final_model = GlobalBoostedForecaster(seasons=seasons, **params).fit(frame, freq)  # type: ignore[arg-type]  # as above
    fc = final_model.forecast_paths(
        histories,
        last_ds,
        horizon,
        _future_exog(future, ids, last_ds, step, horizon, exog) if exog else None,
    )
    series_levels = {sid: series_level(histories[i], window, period) for i, sid in enumerate(ids)}
    final = {
        sid: SeriesForecast(
            *finish(fc[i], errors.quantiles(fc[i], series_levels[sid], levels), nonnegative[sid])
        )
        for i, sid in enumerate(ids)
    }
    return GlobalForecasts(backtest, final, series_levels, nonnegative, errors, final_model)


def _window_exog(values: np.ndarray | None, origin: int, horizon: int) -> np.ndarray:
    """Rows ``origin .. origin + horizon`` of a series' exogenous values, NaN past its end."""
    assert values is not None
    out = np.full((horizon, values.shape[1]), np.nan)
    part = values[origin : origin + horizon]
    out[: len(part)] = part
    return out


def _future_exog(
    future: pd.DataFrame | None,
    ids: Sequence[str],
    last_ds: Sequence[pd.Timestamp],
    step: BaseOffset,
    horizon: int,
    exog: Sequence[str],
) -> list[np.ndarray]:
    """Each series' exogenous values for its next ``horizon`` periods (NaN where absent)."""
    by_series = {} if future is None else dict(iter(future.groupby("series_id", sort=False)))
    out = []
    for sid, end in zip(ids, last_ds, strict=True):
        dates = pd.DatetimeIndex([end + step * (k + 1) for k in range(horizon)])
        rows = by_series.get(sid)
        if rows is None:
            out.append(np.full((horizon, len(exog)), np.nan))
            continue
        aligned = rows.set_index("ds")[list(exog)].reindex(dates)
        out.append(aligned.to_numpy(float))
    return out
