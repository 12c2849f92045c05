"""The automatic pipeline: backtest candidates per series, pick the best, refit, forecast.

For each series: classify its demand (ADI/CV²), backtest the models that suit the class
on rolling-origin windows, and choose by :mod:`forecasting.demand.selection` (the best
single model, the ensemble of the best three, or a rule-based fallback for series too
short to backtest), recorded in ``selection_``.

With enough series (``GlobalModelConfig(mode="auto")``) a global gradient-boosting model
(:mod:`forecasting.demand.global_model`) is trained across all of them first; its
held-out forecasts join each series' backtest as one more candidate, so every series
still gets whichever model, local or global, forecast it best. When the global model
is on and the main season is long (more than 12 steps), local ETS is left out of the
candidates: its per-series fits would cost more than everything else together.

Per-series work (:func:`forecasting.demand.series_fit.select_and_fit`) runs in parallel
with joblib (all cores by default), or on a Dask cluster when
``ParallelConfig(dask_client=...)`` is given; results stream back one series at a time,
so memory stays flat as the number of series grows.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from forecasting.demand.backtest import BacktestRecord, records_frame
from forecasting.demand.base import DEFAULT_QUANTILES, SeriesForecast, forecast_frames
from forecasting.demand.classify import ADI_CUTOFF, demand_classes
from forecasting.demand.config import (
    BacktestConfig,
    GlobalModelConfig,
    ParallelConfig,
    SelectionConfig,
)
from forecasting.demand.frames import (
    SeriesRows,
    check_future,
    check_series_frame,
    regularize,
    series_rows,
)
from forecasting.demand.frequency import infer_freq
from forecasting.demand.global_model import MIN_POINTS as GLOBAL_MIN_POINTS
from forecasting.demand.global_model import GlobalForecasts, global_forecasts
from forecasting.demand.obsolescence import alive_of
from forecasting.demand.registry import GLOBAL, parse_model_list
from forecasting.demand.seasonality import default_horizon, default_seasons
from forecasting.demand.selection import (
    POOLED_CLASSES,
    PooledSeries,
    alive_choice,
    base_models,
    class_prior,
    pooled_choice,
    pooled_scores,
    pooled_series,
)
from forecasting.demand.series_fit import (
    GlobalState,
    SeriesFit,
    SeriesInput,
    SeriesSettings,
    predict_fit,
    residual_array,
    select_and_fit,
)
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError

logger = logging.getLogger(__name__)
MIN_GLOBAL_SERIES = 20  # fewer series teach a global model little a local one cannot


class AutoForecaster(BaseEstimator):
    """Per-series automatic model selection by rolling-origin backtest.

    Parameters
    ----------
    horizon: backtest horizon and the longest forecast served (default by frequency).
    season_length: main seasonal period (default by frequency: 7 for daily, 24 hourly...).
    freq: pandas alias; inferred from ``ds`` when None.
    models: ``"auto"`` (by demand class) or a list of model names.
    quantiles: quantile levels the backtest scores and ``predict`` returns by default.
    exog: numeric columns of the frame known in advance (prices, promotions, ...); the
    global model uses them, local models do not, and ``fit`` needs their future values
    (``fit(frame, future=...)``).
    backtest, selection, global_model, parallel: the options of each step
    (:mod:`forecasting.demand.config`).

    Learned: ``freq_``, ``season_length_``, ``max_horizon_`` (the longest forecast),
    ``global_`` (the global model's forecasts, or None), ``fits_`` (per series),
    ``selection_`` (one row per series: model, members, demand class, score, fallback),
    ``backtest_`` (one row per series, window and model), ``class_defaults_`` (the
    default each demand class got in this fit and which data chose it: one row per class,
    see :meth:`_class_defaults`) and ``notes_`` (those choices in words).
    """

    def __init__(
        self,
        horizon: int | None = None,
        season_length: int | None = None,
        freq: str | None = None,
        models: str | Sequence[str] = "auto",
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
        exog: Sequence[str] = (),
        backtest: BacktestConfig = BacktestConfig(),
        selection: SelectionConfig = SelectionConfig(),
        global_model: GlobalModelConfig = GlobalModelConfig(),
        parallel: ParallelConfig = ParallelConfig(),
    ) -> None:
        self.horizon = horizon
        self.season_length = season_length
        self.freq = freq
        self.models = models
        self.quantiles = quantiles
        self.exog = exog
        self.backtest = backtest
        self.selection = selection
        self.global_model = global_model
        self.parallel = parallel

    def fit(self, frame: pd.DataFrame, future: pd.DataFrame | None = None) -> AutoForecaster:
        """Backtest, select and refit every series of a long frame (``series_id, ds, y``).

        With ``exog`` columns, ``future`` gives their values for the ``horizon`` periods
        after each series' end (``series_id, ds`` and the same columns).
        """
        data = self._prepare(frame)
        named = None if self.models == "auto" else parse_model_list(self.models)
        use_global = self._wants_global(data, named)
        if use_global:
            logger.info(
                "global model: training across %s series", f"{data['series_id'].nunique():,}"
            )
        glob = self._fit_global(data, future) if use_global else None
        # The global model's held-out forecasts of a series are read once, by its task:
        # they leave the forecaster here, and each series' go as its task is sent (#20:
        # 2.6 kB a series the driver kept to the end of the fit and after).
        self.global_ = None if glob is None else replace(glob, backtest={})
        held_out = {} if glob is None else glob.backtest
        del glob
        unused = [
            *([f"exogenous columns {list(self.exog)}"] if self.exog else []),
            *([f"holidays of {self.global_model.holidays}"] if self.global_model.holidays else []),
        ]
        if not use_global and unused:
            warnings.warn(
                f"{' and '.join(unused)}: used only by the global model, which is off here "
                f"(global_model mode '{self.global_model.mode}', or fewer than "
                f"{MIN_GLOBAL_SERIES} series long enough); local models ignore them",
                UserWarning,
                stacklevel=2,
            )
        # Local ETS on long seasons is left out where the global model is on, and where it
        # is off only because few series are smooth or erratic: a mostly intermittent weekly
        # panel spent 90 s on the 52-season ETS fits of its 7 smooth series (#20).
        long_season_panel = use_global or self._declined_for_classes
        self.class_defaults_ = self._class_defaults(data, named)
        self.fits_, records = self._fit_each_series(
            data, series_settings(self, long_season_panel), held_out
        )
        self.selection_ = selection_frame(self.fits_.values())
        self.backtest_ = records_frame(records)
        return self

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The checked, gap-filled frame; sets ``freq_``, ``season_length_``, ``max_horizon_``."""
        data = check_series_frame(frame, tuple(self.exog))
        self.freq_ = self.freq or infer_freq(data)
        self.season_length_ = int(self.season_length or default_seasons(self.freq_)[0])
        self.max_horizon_ = int(self.horizon or default_horizon(self.freq_))
        return regularize(data, self.freq_)

    def _wants_global(self, data: pd.DataFrame, named: tuple[str, ...] | None) -> bool:
        self._declined_for_classes = False
        mode = self.global_model.mode
        if mode == "off":
            return False
        lengths = data.groupby("series_id").size()
        # The global model trains on every series cut n_windows x horizon before its end,
        # and needs GLOBAL_MIN_POINTS of what is left (a 39-month panel with 3 windows of
        # 12 keeps 3: it used to be switched on, then raised "no series has enough points").
        needed = max(
            2 * self.max_horizon_ + 8,
            self.backtest.n_windows * self.max_horizon_ + GLOBAL_MIN_POINTS + 1,
        )
        enough = int((lengths >= needed).sum())
        if mode == "on":
            if enough == 0:
                raise ConfigError(
                    f"global_model='on' needs series of at least {needed} points with "
                    f"{self.backtest.n_windows} backtest window(s) of {self.max_horizon_}; the "
                    f"longest has {int(lengths.max())}: use fewer windows or a shorter horizon"
                )
            return True
        if named is not None and GLOBAL not in named:
            return False
        if enough < MIN_GLOBAL_SERIES:
            logger.info(
                "global model: off, %d series have the %d points it needs (%d windows of %d "
                "held out, %d left to learn from); it needs %d such series",
                enough,
                needed,
                self.backtest.n_windows,
                self.max_horizon_,
                GLOBAL_MIN_POINTS + 1,
                MIN_GLOBAL_SERIES,
            )
            return False
        # It competes only for series that are not intermittent (selection.global_competes):
        # a panel of intermittent series would train it for nothing (#20: SCMS item x
        # country x month, 1,000 series, none of them smooth or erratic).
        long_enough = lengths.index[lengths >= needed]
        competing = int(_competing_classes(data).reindex(long_enough).fillna(False).sum())
        if competing < MIN_GLOBAL_SERIES:
            logger.info(
                "global model: off, %d of the %d series long enough for it are smooth or "
                "erratic, the only ones it competes for; it needs %d",
                competing,
                enough,
                MIN_GLOBAL_SERIES,
            )
            self._declined_for_classes = True
            return False
        return True

    def _class_defaults(self, data: pd.DataFrame, named: tuple[str, ...] | None) -> pd.DataFrame:
        """The default of each demand class for this panel, chosen by a backtest pooled
        over the class's series (``SelectionConfig.pooled_candidates``), and why.

        Intermittent and lumpy classes with at least ``min_pooled_series`` backtestable
        series get the candidate :func:`~forecasting.demand.selection.pooled_choice`
        picks; fewer keep ``class_defaults``. In a mostly intermittent panel (the global
        model declined because fewer than 20 series are smooth or erratic, and those are
        fewer than the intermittent and lumpy ones) the smooth and erratic series get the
        choice pooled over all intermittent and lumpy series: a per-series choice on 3
        windows is as noisy for them, and their ETS fits cost more than the rest of the
        panel (#20: SCMS item x month, 14 such series of 133 took 80% of the fit).
        Returns ``demand_class, members, source, series, mase, rmsse`` (the pooled scores
        of the chosen members; NaN for a fixed default) and writes ``notes_``.
        """
        config = self.selection
        self.notes_: list[str] = []
        rows = [
            {"demand_class": k, "members": v, "source": "fixed default", "series": 0}
            for k, v in config.class_defaults
        ]
        frame = pd.DataFrame(rows, columns=["demand_class", "members", "source", "series"])
        frame["mase"] = frame["rmsse"] = np.nan
        if named is not None or not config.pooled_candidates:
            return frame
        classes = demand_classes(data)
        pooled_ids = classes.index[classes.isin(POOLED_CLASSES)]
        if len(pooled_ids) == 0:
            return frame
        few_smooth = self._declined_for_classes and (~classes.isin(POOLED_CLASSES)).sum() < len(
            pooled_ids
        )
        fixed = dict(config.class_defaults)
        limit = config.max_pooled_series
        sample = pd.Index([]).append(
            [_spread(classes.index[classes == k], limit) for k in POOLED_CLASSES]
        )
        series = self._pooled_series(data[data["series_id"].isin(sample)], config)
        chosen: dict[str, dict] = {}
        groups = {k: [k] for k in POOLED_CLASSES}
        if few_smooth:
            for klass in ("smooth", "erratic"):
                if (classes == klass).any():
                    groups[klass] = list(POOLED_CLASSES)
        for klass, members_of in groups.items():
            ids = [sid for sid in series if classes[sid] in members_of]
            pool = [series[sid] for sid in _spread(pd.Index(ids), limit)]
            default = fixed.get(klass) or fixed.get(members_of[0]) or config.pooled_candidates[0]
            if len(pool) < config.min_pooled_series:
                if klass in fixed:
                    self.notes_.append(
                        f"{klass}: fixed default {'+'.join(default)} ({len(pool)} series to "
                        f"pool, fewer than {config.min_pooled_series})"
                    )
                continue
            candidates = list(dict.fromkeys([*config.pooled_candidates, default]))
            # Each candidate at its own alive prior: the chance its series still sell.
            estimate = None
            if config.alive_priors and config.alive_tolerance is not None:
                estimate = class_prior(pool)
            at_prior = {
                c: alive_choice(
                    pool, c, config.alive_priors, estimate, config.alive_tolerance or 0.0
                )
                for c in candidates
            }
            candidates, default = list(at_prior.values()), at_prior[default]
            scores = pooled_scores(pool, candidates)
            members = pooled_choice(scores, default, config.pooled_margin)
            row = scores[scores["members"] == members].iloc[0]
            of = klass if members_of == [klass] else " and ".join(members_of)
            source = f"pooled backtest of {len(pool)} {of} series"
            chosen[klass] = {
                "demand_class": klass,
                "members": members,
                "source": source,
                "series": len(pool),
                "mase": float(row["mase"]),
                "rmsse": float(row["rmsse"]),
            }
            self.notes_.append(
                f"{klass}: default {'+'.join(members)} from the {source} (MASE "
                f"{row['mase']:.3f}, RMSSE {row['rmsse']:.3f} of the mean forecast over "
                f"{len(candidates)} candidates)"
            )
        for note in self.notes_:
            logger.info("class default: %s", note)
        kept = frame[~frame["demand_class"].isin(chosen)]
        return pd.concat([kept, pd.DataFrame(list(chosen.values()))], ignore_index=True)

    def _pooled_series(
        self, data: pd.DataFrame, config: SelectionConfig
    ) -> dict[str, PooledSeries]:
        """The pooled backtest's forecasts of every series of ``data`` it can judge (as
        :func:`~forecasting.demand.series_fit.select_and_fit` plans its windows)."""
        models = base_models(
            [*(config.pooled_candidates or ()), *(d for _, d in config.class_defaults)]
        )
        out = {}
        rows = series_rows(data)
        y_all = rows.frame["y"].to_numpy(float)
        for sid, first, end in rows.spans():
            made = pooled_series(
                y_all[first:end],
                models,
                self.max_horizon_,
                self.backtest.n_windows,
                self.season_length_,
            )
            if made is not None:
                out[sid] = made
        return out

    def _fit_global(self, data: pd.DataFrame, future: pd.DataFrame | None) -> GlobalForecasts:
        config = self.global_model
        seasons = tuple(config.seasons or default_seasons(self.freq_))
        # An explicit main season the global model would not see otherwise joins its list.
        if self.season_length is not None and self.season_length_ not in seasons:
            seasons = (self.season_length_, *seasons)
        exog = tuple(self.exog)
        return global_forecasts(
            data,
            self.freq_,
            seasons,
            self.max_horizon_,
            holdout_windows=self.backtest.n_windows,
            quantiles=tuple(sorted(self.quantiles)),
            exog=exog,
            future=check_future(future, data, exog, self.freq_, self.max_horizon_),
            holidays=config.holidays,
            **dict(config.params or {}),
        )

    def _fit_each_series(
        self,
        data: pd.DataFrame,
        settings: SeriesSettings,
        held_out: dict[str, dict[int, SeriesForecast]],
    ) -> tuple[dict[str, SeriesFit], list[tuple[str, str, BacktestRecord]]]:
        """Each series' fit, without its backtest rows, and those rows apart (series id,
        demand class, record) for ``backtest_``; ``held_out`` (the global model's
        backtest forecasts by series) is emptied as the tasks are sent."""
        rows = series_rows(data)
        tasks = (
            delayed(select_and_fit)(item, settings)
            for item in series_inputs(rows, self.global_, held_out)
        )
        fits: dict[str, SeriesFit] = {}
        records: list[tuple[str, str, BacktestRecord]] = []
        with self._backend():
            for fit in stream_fits(tasks, len(rows.ids), self.parallel.n_jobs, "forecasting"):
                # The rows go to one frame at the end; the fit need not keep a second copy.
                if isinstance(fit.backtest, BacktestRecord):
                    records.append((fit.series_id, fit.demand_class, fit.backtest))
                    fit = replace(fit, backtest=())
                fits[fit.series_id] = fit
        return fits, records

    def _backend(self) -> contextlib.AbstractContextManager:
        if self.parallel.dask_client is None:
            return contextlib.nullcontext()
        import distributed  # noqa: F401  (registers joblib's "dask" backend)

        return parallel_config(backend="dask")

    def backtest_residuals(self) -> pd.DataFrame:
        """Errors of each series' chosen model in its backtest: ``series_id, ds, lag,
        residual`` (``lag`` 1 is a window's first period).

        Windows do not overlap (step = horizon) and the last one ends with the series, so
        each date has at most one error per series and its lag follows from its distance
        to the end; these feed MinT reconciliation's error covariance and the accuracy a
        published forecast is expected to have at each lag.
        """
        parts = []
        for sid, fit in self.fits_.items():
            residuals = residual_array(fit.residuals)
            if residuals.shape[1] == 0:
                continue
            back, errors = residuals[0].astype(np.int64), residuals[1]
            end = fit.last_ds if fit.backtest_end is None else fit.backtest_end
            dates = _dates_before(end, int(back.max()) + 1, self.freq_)
            lag = self.max_horizon_ - back % self.max_horizon_
            parts.append((np.full(len(back), sid, dtype=object), dates[::-1][back], lag, errors))
        if not parts:
            return pd.DataFrame(columns=["series_id", "ds", "lag", "residual"])
        ids, ds, lags, residuals = (np.concatenate(column) for column in zip(*parts, strict=True))
        return pd.DataFrame({"series_id": ids, "ds": ds, "lag": lags, "residual": residuals})

    def predict(
        self,
        horizon: int | None = None,
        quantiles: Sequence[float] | None = None,
        series_ids: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Forecast frame ``series_id, ds, model, mean, q..`` for the chosen model per series.

        ``horizon`` defaults to ``max_horizon_``, ``quantiles`` to the constructor's,
        ``series_ids`` to every series fitted.
        """
        h = int(horizon or self.max_horizon_)
        if h < 1:
            raise HorizonError(f"horizon must be at least 1, not {h}")
        levels = sorted(quantiles or self.quantiles)
        wanted = list(self.fits_) if series_ids is None else list(series_ids)
        unknown = [s for s in wanted if s not in self.fits_]
        if unknown:
            raise UnknownSeriesError(
                f"unknown series {unknown[:5]}; the model knows {len(self.fits_)} series"
            )
        errors = None if self.global_ is None else self.global_.errors
        made = []
        for sid in wanted:
            fit = self.fits_[sid]
            fc = predict_fit(fit, h, levels, self.season_length_, errors)
            made.append((sid, fit.last_ds, fit.model, fc))
        return forecast_frames(made, self.freq_, levels)


def _competing_classes(data: pd.DataFrame) -> pd.Series:
    """Per series: whether its demand class is one the global model competes for (smooth
    or erratic: demand in more than 1/ADI_CUTOFF of its periods), vectorised."""
    demand = data["y"].fillna(0.0).to_numpy() > 0
    counts = pd.DataFrame({"series_id": data["series_id"].to_numpy(), "demand": demand})
    stats = counts.groupby("series_id")["demand"].agg(["size", "sum"])
    return (stats["sum"] > 0) & (stats["size"] < ADI_CUTOFF * stats["sum"])


def stream_fits(tasks: Iterable, total: int, n_jobs: int, verb: str) -> Iterator[SeriesFit]:
    """Run per-series ``tasks`` (joblib ``delayed`` calls) and yield their fits as they come
    back, one at a time (memory stays flat), with a progress bar on a terminal, else a log
    line at each quarter."""
    results = Parallel(n_jobs=n_jobs, return_as="generator", batch_size="auto")(tasks)
    terminal = sys.stderr.isatty()
    quarters = {total * k // 4: k for k in range(1, 4)} if total >= 40 else {}
    started = time.perf_counter()
    if not terminal:
        logger.info("%s %s series", verb, f"{total:,}")
    for done, fit in enumerate(
        tqdm(results, total=total, desc=f"{verb} series", disable=not terminal, unit="series"),
        start=1,
    ):
        if not terminal and done in quarters:
            seconds = time.perf_counter() - started
            logger.info("%s series: %d of %d done in %.0f s", verb, done, total, seconds)
        yield fit


def series_settings(model: AutoForecaster, use_global: bool) -> SeriesSettings:
    """What every series' selection shares, from a model's options and learned frequency
    (``use_global``: local ETS is left out on seasons over 12 steps)."""
    named = None if model.models == "auto" else parse_model_list(model.models)
    selection = model.selection
    # The defaults this fit chose per class (fits pickled before #20 have none).
    chosen = getattr(model, "class_defaults_", None)
    if chosen is not None and named is None:
        defaults = tuple(
            (str(k), tuple(v))
            for k, v in zip(chosen["demand_class"], chosen["members"], strict=True)
        )
        selection = replace(selection, class_defaults=defaults)
    return SeriesSettings(
        horizon=model.max_horizon_,
        season_length=model.season_length_,
        quantiles=tuple(sorted(model.quantiles)),
        candidates=None if named is None else tuple(c for c in named if c != GLOBAL) or None,
        skip_ets=use_global and model.season_length_ > 12,
        backtest=model.backtest,
        selection=selection,
    )


def series_inputs(
    rows: SeriesRows,
    glob: GlobalForecasts | None,
    held_out: dict[str, dict[int, SeriesForecast]] | None = None,
) -> Iterator[SeriesInput]:
    """Each series of ``rows`` for a worker, made as it is asked for; a series' held-out
    global forecasts leave ``held_out`` as its input is made. Its values are a copy, so
    no input (nor the fit a sequential run keeps) holds a view of the whole frame."""
    y_all = rows.frame["y"].to_numpy(float)
    ds_all = rows.frame["ds"].to_numpy()
    for sid, first, end in rows.spans():
        backtest = None if held_out is None else held_out.pop(sid, None)
        yield series_input(
            sid, y_all[first:end].copy(), pd.Timestamp(ds_all[end - 1]), glob, backtest
        )


def series_input(
    series_id: str,
    y: np.ndarray,
    last_ds: pd.Timestamp,
    glob: GlobalForecasts | None,
    held_out: dict[int, SeriesForecast] | None = None,
) -> SeriesInput:
    """One series for a worker (its values ``y`` up to ``last_ds``), with the global
    model's forecasts of it when it has any (its backtest forecasts: ``held_out`` when
    given, else from ``glob``)."""
    final = None
    if glob is not None and series_id in glob.final:
        final = GlobalState(
            glob.final[series_id].mean, glob.levels[series_id], glob.nonnegative[series_id]
        )
    return SeriesInput(
        series_id=series_id,
        y=y,
        last_ds=last_ds,
        global_backtest=held_out
        if held_out is not None or glob is None
        else (glob.backtest.get(series_id)),
        global_final=final,
    )


def selection_frame(fits: Iterable[SeriesFit]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "series_id": f.series_id,
                "model": f.model,
                "members": ",".join(f.members),
                "demand_class": f.demand_class,
                "score": f.score,
                "fallback": f.fallback,
                # The chance the series is still ordered, where its model is weighed by it
                # (forecasting.demand.obsolescence): why its forecast is below its rate.
                "alive": alive_of(f.states),
            }
            for f in fits
        ]
    )


def _spread(ids: pd.Index, limit: int) -> pd.Index:
    """At most ``limit`` of ``ids``, evenly spaced (deterministic, no seed)."""
    if len(ids) <= limit:
        return ids
    return ids[np.linspace(0, len(ids) - 1, limit).round().astype(int)]


@functools.lru_cache(maxsize=64)
def _dates_before(end: pd.Timestamp, periods: int, freq: str) -> pd.DatetimeIndex:
    """``periods`` dates of ``freq`` ending at ``end``: most series share their end."""
    return pd.date_range(end=end, periods=periods, freq=freq)
