"""The automatic pipeline: selection, fallbacks on awkward series, Dask, and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import BacktestConfig, ParallelConfig
from forecasting.errors import ConfigError, HorizonError, UnknownSeriesError
from ordercast.cli import main

RNG = np.random.default_rng(5)
SERIAL = ParallelConfig(n_jobs=1)
PATTERN = np.array([5.0, 9.0, 2.0, 7.0, 3.0, 8.0, 1.0])


def long_frame(series: dict[str, np.ndarray], start: str = "2024-01-01") -> pd.DataFrame:
    parts = [
        pd.DataFrame(
            {"series_id": sid, "ds": pd.date_range(start, periods=len(y), freq="D"), "y": y}
        )
        for sid, y in series.items()
    ]
    return pd.concat(parts, ignore_index=True)


AWKWARD = {
    "seasonal": np.tile(PATTERN, 12),
    "short": np.array([4.0, 6.0, 5.0]),
    "constant": np.full(60, 3.0),
    "zeros": np.zeros(60),
    "huge": 1e8 + 1e6 * np.tile(PATTERN, 12),
    "tiny": 1e-6 * (1 + RNG.random(84)),
    "intermittent": np.where(RNG.random(84) < 0.25, RNG.integers(1, 6, 84), 0).astype(float),
}


@pytest.fixture(scope="module")
def fitted() -> AutoForecaster:
    frame = long_frame(AWKWARD)
    gappy = frame[~((frame["series_id"] == "seasonal") & frame.index.isin([20, 21, 40]))]
    model = AutoForecaster(horizon=7, backtest=BacktestConfig(n_windows=2), parallel=SERIAL)
    return model.fit(gappy)


def test_every_awkward_series_is_forecast_with_a_recorded_choice(fitted: AutoForecaster) -> None:
    out = fitted.predict(7)
    assert set(out["series_id"]) == set(AWKWARD)
    assert out.groupby("series_id").size().eq(7).all()
    assert not out[["mean", "q10", "q50", "q90"]].isna().any().any()
    assert (out["q10"] <= out["q50"]).all() and (out["q50"] <= out["q90"]).all()
    selection = fitted.selection_.set_index("series_id")
    assert selection.loc["short", "fallback"].startswith("too short to backtest a 7-period")
    assert selection.loc["constant", "fallback"] == "constant series"
    assert selection.loc["zeros", "fallback"] == "no demand in the history"
    assert pd.isna(selection.loc["intermittent", "fallback"])
    constant = out[out["series_id"] == "constant"]
    np.testing.assert_allclose(constant["mean"], 3.0)
    np.testing.assert_allclose(out[out["series_id"] == "zeros"]["q90"], 0.0)


def test_estimator_rules_hold_with_grouped_options(fitted: AutoForecaster) -> None:
    model = AutoForecaster(horizon=7, backtest=BacktestConfig(n_windows=2), parallel=SERIAL)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "max_horizon_") and not hasattr(copy, "fits_")
    assert fitted.max_horizon_ == 7 and fitted.freq_ == "D" and fitted.season_length_ == 7
    assert not hasattr(fitted, "max_horizon")  # learned state ends in _


def test_a_pure_seasonal_series_gets_seasonal_naive_exactly(fitted: AutoForecaster) -> None:
    selection = fitted.selection_.set_index("series_id")
    assert selection.loc["huge", "model"] == "seasonal_naive"
    huge = fitted.predict(7, series_ids=["huge"])
    np.testing.assert_allclose(huge["mean"], 1e8 + 1e6 * PATTERN, rtol=1e-9)


def test_backtest_metrics_are_recorded_per_series_window_and_model(fitted) -> None:
    bt = fitted.backtest_
    assert {"series_id", "window", "model", "mase", "coverage", "scaled_pinball"} <= set(bt.columns)
    assert bt[bt["series_id"] == "seasonal"]["window"].nunique() == 2
    assert "ensemble" in set(bt["model"])


def test_unknown_series_and_bad_horizon_are_clear_errors(fitted: AutoForecaster) -> None:
    with pytest.raises(UnknownSeriesError, match=r"unknown series \['nope'\]"):
        fitted.predict(3, series_ids=["nope"])
    with pytest.raises(HorizonError, match="horizon must be at least 1"):
        fitted.predict(-2)


def test_bad_frames_name_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['y'\]"):
        AutoForecaster().fit(pd.DataFrame({"series_id": ["a"], "ds": ["2024-01-01"]}))
    dup = long_frame({"a": np.ones(10)})
    with pytest.raises(ConfigError, match="more than one row for 2024-01-01"):
        AutoForecaster().fit(pd.concat([dup, dup.head(1)]))
    with pytest.raises(ConfigError, match="unknown model"):
        AutoForecaster(models=["prophet"]).fit(dup)


def test_the_same_call_runs_on_a_dask_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    frame = long_frame({f"s{i}": np.tile(PATTERN, 8) + i for i in range(4)})
    local = (
        AutoForecaster(horizon=7, backtest=BacktestConfig(n_windows=1), parallel=SERIAL)
        .fit(frame)
        .predict(7)
    )
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = AutoForecaster(
            horizon=7,
            backtest=BacktestConfig(n_windows=1),
            parallel=ParallelConfig(dask_client=client),
        )
        remote = remote.fit(frame).predict(7)
    pd.testing.assert_frame_equal(local, remote)


def test_forecast_and_backtest_commands(tmp_path: Path, capsys) -> None:
    series = tmp_path / "series.csv"
    long_frame({"a": np.tile(PATTERN, 10), "b": np.tile(PATTERN, 10) * 2}).to_csv(
        series, index=False
    )
    out, selection = tmp_path / "fc.parquet", tmp_path / "sel.csv"
    code = main(
        [
            "forecast",
            str(series),
            "--horizon",
            "5",
            "--out",
            str(out),
            "--quantiles",
            "0.05,0.5,0.95",
            "--selection-out",
            str(selection),
            "--n-jobs",
            "1",
        ]
    )
    assert code == 0
    forecast = pd.read_parquet(out)
    assert list(forecast.columns) == [
        "series_id", "ds", "model", "fallback", "mean", "q5", "q50", "q95"
    ]  # fmt: skip
    assert len(forecast) == 10
    assert set(pd.read_csv(selection)["series_id"]) == {"a", "b"}
    metrics = tmp_path / "metrics.csv"
    assert main(["backtest", str(series), "--horizon", "7", "--out", str(metrics)]) == 0
    assert "seasonal_naive" in capsys.readouterr().out
    assert pd.read_csv(metrics)["window"].nunique() == 3
    assert (
        main(
            ["forecast", str(series), "--horizon", "5", "--out", str(out), "--quantiles", "0.5,1.5"]
        )
        == 2
    )
    assert "each quantile must be between 0 and 1" in capsys.readouterr().err
