"""Refreshing a fitted AutoForecaster: same choices, models brought up to date, no backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import BacktestConfig, GlobalModelConfig, ParallelConfig
from forecasting.demand.ets import AutoETS
from forecasting.demand.expectations import backtest_expectations
from forecasting.demand.refresh import refresh
from forecasting.errors import ConfigError

WEEKS = 90
NEW_WEEKS = 5
HORIZON = 4


def panel(weeks: int, n_series: int = 22, seed: int = 3) -> pd.DataFrame:
    """Weekly series with a level, a trend and a yearly-ish wave: enough for the global model."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    parts = []
    for i in range(n_series):
        level = 20 + 5 * i
        y = level * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 13)) + 0.05 * level * t / 10
        y = np.maximum(0, y + rng.normal(0, 0.08 * level, weeks))
        ds = pd.date_range("2023-01-01", periods=weeks, freq="W-SUN")
        parts.append(pd.DataFrame({"series_id": f"s{i:02d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def full() -> pd.DataFrame:
    return panel(WEEKS + NEW_WEEKS)


@pytest.fixture(scope="module")
def fitted(full: pd.DataFrame) -> AutoForecaster:
    old = full[full["ds"] <= full["ds"].min() + pd.Timedelta(weeks=WEEKS - 1)]
    return AutoForecaster(
        horizon=HORIZON,
        freq="W-SUN",
        backtest=BacktestConfig(n_windows=2),
        global_model=GlobalModelConfig(mode="on", holidays=None, params={"max_iter": 60}),
        parallel=ParallelConfig(n_jobs=1),
    ).fit(old)


def test_refresh_keeps_every_choice_and_forecasts_from_the_new_end(
    fitted: AutoForecaster, full: pd.DataFrame
) -> None:
    before = fitted.predict()
    fresh = refresh(fitted, full)
    after = fresh.predict()
    pd.testing.assert_frame_equal(
        fresh.selection_[["series_id", "model", "members"]],
        fitted.selection_[["series_id", "model", "members"]],
    )
    new_end = full["ds"].max()
    assert (after.groupby("series_id")["ds"].min() == new_end + pd.Timedelta(weeks=1)).all()
    assert (before.groupby("series_id")["ds"].min() < new_end).all()  # the original is untouched
    assert np.isfinite(after[["mean", "q10", "q90"]].to_numpy()).all()
    # The global model was used by some series, and forecasts them from the new lags.
    uses_global = fresh.selection_["members"].str.contains("global_gbm")
    assert fresh.global_ is not None and fresh.global_.backtest == {}
    assert fitted.global_ is not None
    assert set(fresh.global_.final) == set(fitted.global_.final)
    if uses_global.any():
        sid = fresh.selection_.loc[uses_global, "series_id"].iloc[0]
        assert not np.allclose(fresh.global_.final[sid].mean, fitted.global_.final[sid].mean)


def test_refresh_on_the_same_history_gives_the_same_forecasts(fitted: AutoForecaster) -> None:
    history = panel(WEEKS + NEW_WEEKS)
    same = history[history["ds"] <= history["ds"].min() + pd.Timedelta(weeks=WEEKS - 1)]
    again = refresh(fitted, same).predict()
    original = fitted.predict()
    np.testing.assert_allclose(again["mean"], original["mean"], rtol=2e-3, atol=1e-6)


def test_backtest_errors_keep_their_dates_and_lags(
    fitted: AutoForecaster, full: pd.DataFrame
) -> None:
    fresh = refresh(fitted, full)
    pd.testing.assert_frame_equal(fresh.backtest_residuals(), fitted.backtest_residuals())
    residuals = fitted.backtest_residuals()
    assert set(residuals["lag"]) <= set(range(1, HORIZON + 1))
    # The last window ends with the history: its last period is HORIZON steps ahead.
    last = residuals.groupby("series_id")["ds"].transform("max") == residuals["ds"]
    assert (residuals.loc[last, "lag"] == HORIZON).all()


def test_a_new_series_is_selected_on_its_own_and_old_ones_stay(
    fitted: AutoForecaster, full: pd.DataFrame
) -> None:
    extra = full[full["series_id"] == "s00"].assign(series_id="brand-new")
    fresh = refresh(fitted, pd.concat([full, extra], ignore_index=True))
    assert "brand-new" in fresh.fits_
    assert fresh.selection_["series_id"].nunique() == fitted.selection_["series_id"].nunique() + 1
    assert "brand-new" in set(fresh.predict()["series_id"])


def test_a_history_shorter_than_the_model_is_refused(fitted: AutoForecaster) -> None:
    short = panel(WEEKS - 3)
    with pytest.raises(ConfigError, match="whole history"):
        refresh(fitted, short)


def test_exogenous_models_are_refused_with_a_reason(fitted: AutoForecaster) -> None:
    with_exog = fitted.set_params(exog=("price",))
    try:
        with pytest.raises(ConfigError, match="exogenous"):
            refresh(with_exog, panel(WEEKS))
    finally:
        fitted.set_params(exog=())


def test_ets_refit_keeps_its_form_and_follows_the_new_data() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(80)
    y = 50 + 0.5 * t + rng.normal(0, 2, 80)
    model = AutoETS(season_length=1)
    state = model.fit_series(y[:70])
    again = model.refit_series(state, y)
    assert again.spec == state.spec
    fresh = model.fit_series(y)
    np.testing.assert_allclose(
        model.predict_series(again, 3, (0.5,)).mean,
        model.predict_series(fresh, 3, (0.5,)).mean,
        rtol=0.05,
    )
    assert model.predict_series(again, 1, (0.5,)).mean[0] > y[:70].mean()


def test_expectations_by_level_and_lag_are_computed_from_the_backtest_errors() -> None:
    series = pd.DataFrame(
        {
            "series_id": ["a:x"] * 4 + ["a:y"] * 4,
            "ds": list(pd.date_range("2024-01-07", periods=4, freq="W-SUN")) * 2,
            "y": [10.0, 12.0, 8.0, 10.0, 5.0, 5.0, 7.0, 6.0],
        }
    )
    residuals = pd.DataFrame(
        {
            "series_id": ["a:x", "a:x", "a:y", "a:y"],
            "ds": pd.to_datetime(["2024-01-21", "2024-01-28"] * 2),
            "lag": [1, 2, 1, 2],
            "residual": [2.0, -1.0, 1.0, 3.0],
        }
    )
    backtest = pd.DataFrame(
        {"series_id": ["a:x", "a:y"], "model": ["ets", "naive"], "coverage": [0.5, 1.0]}
    )
    selection = backtest[["series_id", "model"]]
    out = backtest_expectations(residuals, series, backtest, selection).set_index("lag")
    # Lag 1: |2| + |1| over actuals 8 + 7; lag 2: |-1| + |3| over 10 + 6.
    assert out.loc[1, "wape"] == pytest.approx(3 / 15)
    assert out.loc[2, "wape"] == pytest.approx(4 / 16)
    # Scales: mean one-step change of x = (2 + 4 + 2) / 3, of y = (0 + 2 + 1) / 3.
    assert out.loc[1, "mase"] == pytest.approx((2 / (8 / 3) + 1 / 1) / 2)
    assert (out["coverage80"] == 0.75).all()
