"""The forecaster interface every demand model follows.

Two layers, as in statsforecast: the per-series layer (:class:`SeriesModel`:
``fit_series`` / ``predict_series``) works on one series as a numpy array and is what
the automatic pipeline and the backtest call; :class:`LocalForecaster` adds the frame
layer, grouping the long frame by ``series_id``, fitting each series and returning the
long forecast frame ``series_id, ds, model, mean, q10, q50, q90``.

Estimators follow scikit-learn conventions: the constructor stores its arguments
and does nothing else, learned state ends in ``_`` and exists only after ``fit``,
``fit`` returns ``self``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from forecasting.demand.frequency import infer_freq
from forecasting.quantiles import quantile_column

DEFAULT_QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class SeriesForecast:
    """What a local model returns for one series.

    ``mean`` has shape ``(h,)``; ``quantiles`` has shape ``(len(levels), h)`` in the
    order of the requested levels, or is ``None`` when the model has no intervals of
    its own (the orchestrator then adds conformal intervals).
    """

    mean: np.ndarray
    quantiles: np.ndarray | None = None


StateT = TypeVar("StateT")


@runtime_checkable
class SeriesModel(Protocol):
    """The per-series interface: what the pipeline and the backtest need of a model.

    ``fit_series`` takes one series (float array, oldest first, NaN for missing
    periods) and returns an opaque fitted state; ``predict_series`` turns that state
    into a :class:`SeriesForecast` of ``h`` steps with one quantile row per level of
    ``quantiles`` (sorted ascending), or none. Both are pure: same input, same output.
    """

    name: str
    season_length: int

    # The state is each model's own type: Any lets every model's precise one conform.
    def fit_series(self, y: np.ndarray) -> Any: ...

    def predict_series(self, state: Any, h: int, quantiles: Sequence[float]) -> SeriesForecast: ...


class LocalForecaster(BaseEstimator, ABC, Generic[StateT]):
    """Base class of per-series models.

    Subclasses implement :meth:`fit_series` and :meth:`predict_series` (the
    :class:`SeriesModel` protocol); this class handles frames, grouping and output
    shape. ``season_length`` is the main seasonal period in steps (1 = none).
    """

    name: str = "local"

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    # -- per-series layer (numpy in, numpy out) ---------------------------------
    @abstractmethod
    def fit_series(self, y: np.ndarray) -> StateT:
        """Fit one series (float array, oldest first, NaN where missing): the model's state."""

    @abstractmethod
    def predict_series(self, state: StateT, h: int, quantiles: Sequence[float]) -> SeriesForecast:
        """Forecast ``h`` steps from a fitted state, with a row per level of ``quantiles``."""

    # -- frame layer ---------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, freq: str | None = None) -> LocalForecaster[StateT]:
        """Fit one model per ``series_id`` on the long frame (``series_id``, ``ds``, ``y``).

        ``freq`` (a pandas alias) is inferred from ``ds`` when not given.
        """
        ordered = frame.sort_values(["series_id", "ds"])
        self.freq_ = freq or infer_freq(ordered)
        self.states_: dict[str, StateT] = {}
        self.last_ds_: dict[str, pd.Timestamp] = {}
        for series_id, group in ordered.groupby("series_id", sort=False):
            y = group["y"].to_numpy(dtype=float)
            self.states_[str(series_id)] = self.fit_series(y)
            self.last_ds_[str(series_id)] = group["ds"].iloc[-1]
        return self

    def predict(self, horizon: int, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> pd.DataFrame:
        """Forecast ``horizon`` steps after each series' last date, as a long frame."""
        quantiles = sorted(quantiles)
        parts = []
        for series_id, state in self.states_.items():
            fc = self.predict_series(state, horizon, quantiles)
            parts.append(
                forecast_frame(
                    series_id, self.last_ds_[series_id], self.freq_, self.name, fc, quantiles
                )
            )
        return pd.concat(parts, ignore_index=True)


def forecast_frame(
    series_id: str,
    last_ds: pd.Timestamp,
    freq: str,
    model: str,
    fc: SeriesForecast,
    quantiles: Sequence[float],
) -> pd.DataFrame:
    """Build the long forecast rows of one series from a :class:`SeriesForecast`."""
    h = len(fc.mean)
    ds = pd.date_range(last_ds, periods=h + 1, freq=freq)[1:]
    out = pd.DataFrame({"series_id": series_id, "ds": ds, "model": model, "mean": fc.mean})
    if fc.quantiles is not None:
        qs = np.sort(np.asarray(fc.quantiles, dtype=float), axis=0)
        for level, row in zip(quantiles, qs, strict=True):
            out[quantile_column(level)] = row
    return out


def forecast_frames(
    forecasts: Sequence[tuple[str, pd.Timestamp, str, SeriesForecast]],
    freq: str,
    quantiles: Sequence[float],
) -> pd.DataFrame:
    """The long forecast rows of many series at once (``series_id, last_ds, model,
    forecast`` each): the same frame as concatenating :func:`forecast_frame` of each, built
    in one go (a frame per series costs milliseconds, which thousands of series feel).
    Quantile columns hold NaN for a series without intervals."""
    if not forecasts:
        return pd.DataFrame(columns=["series_id", "ds", "model", "mean"])
    dates: dict[tuple[pd.Timestamp, int], np.ndarray] = {}
    ids, ds, models, means, bands = [], [], [], [], []
    with_bands = any(fc.quantiles is not None for *_, fc in forecasts)
    for series_id, last_ds, model, fc in forecasts:
        h = len(fc.mean)
        key = (pd.Timestamp(last_ds), h)
        if key not in dates:
            dates[key] = pd.date_range(last_ds, periods=h + 1, freq=freq)[1:].to_numpy()
        ids.append(np.full(h, series_id, dtype=object))
        models.append(np.full(h, model, dtype=object))
        ds.append(dates[key])
        means.append(np.asarray(fc.mean, dtype=float))
        if with_bands:
            if fc.quantiles is None:
                bands.append(np.full((len(quantiles), h), np.nan))
            else:
                bands.append(np.sort(np.asarray(fc.quantiles, dtype=float), axis=0))
    out = pd.DataFrame(
        {
            "series_id": np.concatenate(ids),
            "ds": np.concatenate(ds),
            "model": np.concatenate(models),
            "mean": np.concatenate(means),
        }
    )
    if with_bands:
        stacked = np.concatenate(bands, axis=1)
        for level, row in zip(quantiles, stacked, strict=True):
            out[quantile_column(level)] = row
    return out
