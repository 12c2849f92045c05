"""What the driver keeps of each series stays small (#20: driver memory with many series).

A fit streams every series' result back to the driver, which keeps it to the end; these
tests hold what it keeps to compact arrays, and check that keeping less changed nothing a
user sees: forecasts, the selection, the backtest frame and the backtest errors equal
those of the plain per-series path (each series' full result, kept as it came back).
"""

from __future__ import annotations

import gc
import pickle
import tracemalloc
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecasting.demand.auto import AutoForecaster, series_input, series_settings
from forecasting.demand.backtest import (
    SCORE_COLUMNS,
    BacktestRecord,
    backtest_frame,
    compact_rows,
    record_rows,
    records_frame,
)
from forecasting.demand.config import (
    BacktestConfig,
    GlobalModelConfig,
    ParallelConfig,
    SelectionConfig,
)
from forecasting.demand.series_fit import SeriesFit, predict_fit, select_and_fit

HORIZON = 4
QUANTILES = (0.1, 0.5, 0.9)
# Measured on panel(): a kept fit pickles to 0.7-1.6 kB (the largest are intermittent
# series, whose IMAPA state keeps its one-step errors) and costs 3.7 kB a series in memory;
# before #20, 1.8-2.4 kB and 9.8 kB (the backtest rows as dicts, the errors as pairs of
# Python numbers), over both bounds.
MAX_PICKLED = 1_700
MAX_IN_MEMORY = 5_000
COMBINED = ("imapa", "window_average", "naive")


def panel(n_series: int = 24, weeks: int = 80, seed: int = 7) -> pd.DataFrame:
    """Weekly series: smooth seasonal ones (the global model's) and a third intermittent."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    parts = []
    for i in range(n_series):
        level = 10 + 4 * i
        y = rng.poisson(level * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 13))).astype(float)
        if i % 3 == 0:
            y *= rng.random(weeks) < 0.3
        ds = pd.date_range("2023-01-01", periods=weeks, freq="W-SUN")
        parts.append(pd.DataFrame({"series_id": f"s{i:02d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def forecaster() -> AutoForecaster:
    return AutoForecaster(
        horizon=HORIZON,
        freq="W-SUN",
        quantiles=QUANTILES,
        backtest=BacktestConfig(n_windows=2),
        # A default of several members, so that the panel keeps combinations too.
        selection=SelectionConfig(class_defaults=(("intermittent", COMBINED), ("lumpy", COMBINED))),
        global_model=GlobalModelConfig(mode="on", params={"max_iter": 40}),
        parallel=ParallelConfig(n_jobs=1),
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return panel()


@pytest.fixture(scope="module")
def fitted(frame: pd.DataFrame) -> AutoForecaster:
    return forecaster().fit(frame)


@pytest.fixture(scope="module")
def plain(frame: pd.DataFrame) -> tuple[dict[str, SeriesFit], object]:
    """Each series' full result as :func:`select_and_fit` returns it, with the global
    model's forecasts of every series kept: what the driver held before #20."""
    model = clone(forecaster())
    data = model._prepare(frame)
    glob = model._fit_global(data, None)
    settings = series_settings(model, use_global=True)
    fits = {
        str(sid): select_and_fit(
            series_input(str(sid), group["y"].to_numpy(float), group["ds"].iloc[-1], glob),
            settings,
        )
        for sid, group in data.groupby("series_id", sort=True)
    }
    return fits, glob


def test_the_global_model_competed_and_classes_differ(fitted: AutoForecaster) -> None:
    # The panel exercises what the driver keeps: global members, combinations, residuals.
    assert fitted.global_ is not None
    members = {m for fit in fitted.fits_.values() for m in fit.members}
    assert "global_gbm" in members and len(members) >= 3
    assert fitted.selection_["demand_class"].nunique() >= 2


def test_forecasts_equal_the_plain_per_series_path(
    fitted: AutoForecaster, plain: tuple[dict[str, SeriesFit], object]
) -> None:
    fits, glob = plain
    got = fitted.predict(HORIZON, QUANTILES)
    for sid, fit in fits.items():
        expected = predict_fit(fit, HORIZON, QUANTILES, fitted.season_length_, glob.errors)  # type: ignore[attr-defined]
        rows = got[got["series_id"] == sid]
        assert (rows["model"] == fit.model).all()
        np.testing.assert_array_equal(rows["mean"].to_numpy(), expected.mean)
        assert expected.quantiles is not None
        for i, column in enumerate(("q10", "q50", "q90")):
            np.testing.assert_array_equal(rows[column].to_numpy(), expected.quantiles[i])


def test_backtest_frame_and_errors_equal_the_plain_path(
    fitted: AutoForecaster, plain: tuple[dict[str, SeriesFit], object]
) -> None:
    fits, _ = plain
    rows = [
        {"series_id": sid, "demand_class": fit.demand_class, **row}
        for sid, fit in fits.items()
        for row in record_rows(fit.backtest)
    ]
    pd.testing.assert_frame_equal(fitted.backtest_, backtest_frame(rows), check_exact=True)
    for sid, fit in fits.items():
        kept = fitted.fits_[sid]
        assert kept.model == fit.model and kept.members == fit.members
        np.testing.assert_array_equal(kept.residuals, fit.residuals)


def test_the_driver_keeps_no_backtest_rows_or_held_out_forecasts(fitted: AutoForecaster) -> None:
    # The rows live once, in backtest_; the global model's held-out forecasts were read
    # by each series' task and are not kept.
    assert all(fit.backtest == () for fit in fitted.fits_.values())
    assert fitted.global_ is not None and fitted.global_.backtest == {}
    assert len(fitted.backtest_) > 0


def test_each_series_fitted_state_stays_small(fitted: AutoForecaster) -> None:
    fits = list(fitted.fits_.values())
    for fit in fits:
        assert isinstance(fit.residuals, np.ndarray) and fit.residuals.shape[0] == 2
        assert len(pickle.dumps(fit, protocol=pickle.HIGHEST_PROTOCOL)) < MAX_PICKLED, fit.model
    # In memory: what unpickling them allocates, per fit (Python objects cost several
    # times their pickled bytes; the compact fields keep the two close).
    blob = pickle.dumps(fits, protocol=pickle.HIGHEST_PROTOCOL)
    gc.collect()
    tracemalloc.start()
    try:
        copies = pickle.loads(blob)
        in_memory, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(copies) == len(fits)
    assert in_memory / len(fits) < MAX_IN_MEMORY


def test_what_a_worker_sends_back_is_compact(
    plain: tuple[dict[str, SeriesFit], object],
) -> None:
    for fit in plain[0].values():
        if fit.fallback is None:
            assert isinstance(fit.backtest, BacktestRecord)
        # The backtest rows travel with the fit to the driver, compact.
        assert len(pickle.dumps(fit, protocol=pickle.HIGHEST_PROTOCOL)) < MAX_PICKLED + 1_500


def test_a_record_holds_its_rows_exactly() -> None:
    rows = [
        {"window": 0, "cutoff": 40, "model": "naive", "score": 0.5, "mase": 1.25},
        {"window": 0, "cutoff": 40, "model": "ets", "score": 1 / 3, "mase": 2.0},
        {"window": 1, "cutoff": 44, "model": "naive", "score": 0.1, "mase": float("nan")},
    ]
    back = record_rows(compact_rows(rows))
    for before, after in zip(rows, back, strict=True):
        for key in ("window", "cutoff", "model", *SCORE_COLUMNS):
            if key in before and before[key] == before[key]:
                assert after[key] == before[key] and type(after[key]) is type(before[key])
            elif key in SCORE_COLUMNS:
                assert np.isnan(after[key])
    framed = records_frame([("a", "smooth", compact_rows(rows))])
    expected = backtest_frame([{"series_id": "a", "demand_class": "smooth", **r} for r in back])
    pd.testing.assert_frame_equal(framed, expected, check_exact=True)
    pd.testing.assert_frame_equal(records_frame([]), backtest_frame([]))


def test_fits_pickled_before_the_compact_fields_still_read_the_same(
    fitted: AutoForecaster,
) -> None:
    # A forecaster pickled before #20 (a refresh loads the last training's) holds its
    # errors as (periods back, error) pairs and its rows as dicts.
    old = clone(fitted)
    old.__dict__.update(fitted.__dict__)
    old.fits_ = {
        sid: replace(
            fit,
            residuals=tuple((int(b), float(e)) for b, e in zip(*fit.residuals, strict=True)),
            backtest=tuple(record_rows(compact_rows([{"window": 0, "cutoff": 1, "model": "x"}]))),
        )
        for sid, fit in fitted.fits_.items()
    }
    old = pickle.loads(pickle.dumps(old))
    pd.testing.assert_frame_equal(
        old.backtest_residuals(), fitted.backtest_residuals(), check_exact=True
    )
    pd.testing.assert_frame_equal(old.predict(), fitted.predict(), check_exact=True)
