"""The global boosted model: known answers across scales, holidays, exogenous columns,
conformal intervals, and how the automatic pipeline lets it compete."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.calendar_features import check_country, holiday_matrix
from forecasting.demand.config import (
    BacktestConfig,
    GlobalModelConfig,
    ParallelConfig,
)
from forecasting.demand.global_model import ConformalErrors, global_forecasts, series_level
from forecasting.demand.registry import GLOBAL
from forecasting.errors import ConfigError, HorizonError

N_SERIES, LENGTH, H = 30, 140, 14
RNG = np.random.default_rng(11)
SCALES = np.geomspace(1, 10_000, N_SERIES)
PHASES = RNG.uniform(0, 2 * np.pi, N_SERIES)
SERIAL = ParallelConfig(n_jobs=1)
TWO_WINDOWS = BacktestConfig(n_windows=2)
# Local candidates that fit in milliseconds. The default set backtests auto-ETS on every
# series (~4 s a series here): the tests below check how the global model competes, is
# recorded and leaves intermittent series alone, not which local model wins.
CHEAP_LOCALS = ("seasonal_naive", "window_average", "drift")


def seasonal_truth(t: np.ndarray, i: int) -> np.ndarray:
    return SCALES[i] * (10 + 3 * np.sin(2 * np.pi * t / 7 + PHASES[i]))


def seasonal_frame(noise: float = 0.02) -> pd.DataFrame:
    """Weekly-cycle daily series from 1 to 10,000 units, with noise relative to scale."""
    t = np.arange(LENGTH)
    parts = []
    for i in range(N_SERIES):
        y = seasonal_truth(t, i) * (1 + noise * RNG.standard_normal(LENGTH))
        ds = pd.date_range("2023-01-01", periods=LENGTH, freq="D")
        parts.append(pd.DataFrame({"series_id": f"s{i:02d}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def seasonal() -> pd.DataFrame:
    return seasonal_frame()


@pytest.fixture(scope="module")
def made(seasonal: pd.DataFrame):  # type: ignore[no-untyped-def]
    return global_forecasts(seasonal, "D", (7,), H, holdout_windows=2, max_iter=150)


def test_one_model_forecasts_every_scale_to_within_a_few_percent(made) -> None:
    future = np.arange(LENGTH, LENGTH + H)
    for i in range(N_SERIES):
        truth = seasonal_truth(future, i)
        mean = made.final[f"s{i:02d}"].mean
        assert mean.shape == (H,)
        # A flat forecast at the level would be off by ~20%: the cycle has been learnt.
        assert np.mean(np.abs(mean - truth) / truth) < 0.05, f"series s{i:02d}"


def test_intervals_are_ordered_finite_and_cover_about_their_level(made) -> None:
    future = np.arange(LENGTH, LENGTH + H)
    inside = []
    for i in range(N_SERIES):
        fc = made.final[f"s{i:02d}"]
        q = fc.quantiles
        assert q is not None and q.shape == (3, H)
        assert np.isfinite(q).all()
        assert (np.diff(q, axis=0) >= 0).all()
        noisy = seasonal_truth(future, i) * (1 + 0.02 * RNG.standard_normal(H))
        inside.append(np.mean((noisy >= q[0]) & (noisy <= q[2])))
    assert 0.6 <= float(np.mean(inside)) <= 0.97


def test_held_out_forecasts_are_keyed_by_training_length(made) -> None:
    assert set(made.backtest["s00"]) == {LENGTH - 2 * H, LENGTH - H}
    first = made.backtest["s00"][LENGTH - 2 * H]
    assert first.mean.shape == (H,)
    assert made.errors.errors.shape == (2 * N_SERIES, H)


def test_conformal_bands_widen_with_the_horizon_and_scale_with_the_series() -> None:
    rng = np.random.default_rng(0)
    errors = ConformalErrors(rng.standard_normal((400, 6)) * np.linspace(1, 2, 6))
    bands = errors.quantiles(np.zeros(6), 1.0, (0.1, 0.5, 0.9))
    width = bands[2] - bands[0]
    assert (np.diff(width) >= 0).all()  # monotone despite sampling noise
    assert width[-1] > 1.5 * width[0]
    wider = errors.quantiles(np.zeros(6), 10.0, (0.1, 0.5, 0.9))
    np.testing.assert_allclose(wider[2] - wider[0], 10 * width)


def test_series_level_is_the_better_naive_rules_spread() -> None:
    cycle = np.tile([0.0, 10.0], 20)  # first differences 10, seasonal (2) differences 0
    trend = np.arange(40, dtype=float)  # first differences 1, seasonal (7) differences 7
    assert series_level(trend, window=30, period=7) == pytest.approx(1.0)
    assert series_level(cycle + trend, window=30, period=2) == pytest.approx(2.0)
    assert series_level(np.full(20, 5.0), window=10, period=2) == pytest.approx(5.0)
    assert series_level(np.zeros(20), window=10) == 1.0


def holiday_frame(days: int = 3 * 365 + 20) -> pd.DataFrame:
    """Daily demand that drops to 30% on US public holidays."""
    ds = pd.date_range("2022-01-01", periods=days, freq="D")
    holiday = holiday_matrix(ds, "D", "US")[:, 0] > 0
    parts = []
    for i in range(25):
        base = (20 + 2 * i) * (1 + 0.3 * (ds.dayofweek < 5))
        y = base * np.where(holiday, 0.3, 1.0) * (1 + 0.03 * RNG.standard_normal(days))
        parts.append(pd.DataFrame({"series_id": f"h{i}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


def test_holiday_features_learn_a_holiday_dip() -> None:
    frame = holiday_frame()
    end = frame["ds"].max()
    assert end == pd.Timestamp("2025-01-19")
    history = frame[frame["ds"] <= "2024-12-20"]  # forecast across Christmas
    args = {"holdout_windows": 1, "max_iter": 150}
    with_days = global_forecasts(history, "D", (7,), 14, holidays="US", **args)
    without = global_forecasts(history, "D", (7,), 14, **args)
    dates = pd.date_range("2024-12-21", periods=14, freq="D")
    christmas = int(np.flatnonzero(dates == "2024-12-25")[0])
    eve = christmas - 1  # a Tuesday, so a weekday like Christmas (a Wednesday)
    for name, made, dips in ((("US", with_days, True)), ("none", without, False)):
        ratio = np.mean(
            [made.final[s].mean[christmas] / made.final[s].mean[eve] for s in made.final]
        )
        assert (ratio < 0.6) == dips, f"{name}: Christmas / Christmas Eve = {ratio:.2f}"


def test_holiday_counts_follow_the_period_of_each_label() -> None:
    weeks = pd.DatetimeIndex(["2024-12-29", "2025-01-05"])  # W-SUN labels end their week
    counts = holiday_matrix(weeks, "W-SUN", "US")
    # Dec 23-29 holds Christmas, Dec 16-22 nothing, Dec 30 - Jan 5 New Year.
    assert counts[0].tolist() == [1.0, 0.0, 1.0]
    assert counts[1].tolist() == [1.0, 1.0, 0.0]
    months = holiday_matrix(pd.DatetimeIndex(["2024-07-01"]), "MS", "US")
    assert months[0].tolist() == [1.0, 1.0, 0.0]  # July 4th; Juneteenth in June; none in August
    with pytest.raises(ConfigError, match="no holiday calendar for country 'XX'"):
        global_forecasts(seasonal_frame(), "D", (7,), 7, holidays="XX", max_iter=5)


def test_a_country_code_is_taken_in_any_case_and_a_near_miss_is_named() -> None:
    # "us" was refused; an unknown code listed the alphabetical head (ABW, AD, AE ...).
    assert GlobalModelConfig(holidays="us").holidays == "US"
    with pytest.raises(ConfigError) as refused:
        check_country("GBR1")
    said = str(refused.value)
    assert "did you mean GBR, GR, GB?" in said and "e.g. US, GB, DE" in said
    assert "ABW" not in said


def promo_frame(length: int = 120, n: int = 24) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Demand of 10 that jumps to 16 on promotion days, which are known in advance."""
    ds = pd.date_range("2024-01-01", periods=length + 7, freq="D")
    parts = []
    for i in range(n):
        promo = (RNG.random(length + 7) < 0.3).astype(float)
        y = (10 + 6 * promo) * (1 + 0.02 * RNG.standard_normal(length + 7))
        parts.append(pd.DataFrame({"series_id": f"p{i}", "ds": ds, "y": y, "promo": promo}))
    full = pd.concat(parts, ignore_index=True)
    history = full[full["ds"] < ds[length]]
    future = full[full["ds"] >= ds[length]].drop(columns="y")
    return history, future


def test_exogenous_columns_drive_the_forecast() -> None:
    history, future = promo_frame()
    model = AutoForecaster(
        horizon=7,
        models=(GLOBAL, *CHEAP_LOCALS),
        backtest=TWO_WINDOWS,
        parallel=SERIAL,
        exog=("promo",),
        global_model=GlobalModelConfig(mode="on"),
    )
    out = model.fit(history, future=future).predict(7).merge(future, on=["series_id", "ds"])
    on, off = out[out["promo"] == 1], out[out["promo"] == 0]
    global_rows = out["model"] == GLOBAL
    assert global_rows.mean() > 0.5
    assert on.loc[global_rows, "mean"].mean() == pytest.approx(16, abs=1.5)
    assert off.loc[global_rows, "mean"].mean() == pytest.approx(10, abs=1.5)


def test_exogenous_input_errors_name_what_to_fix() -> None:
    history, future = promo_frame(n=3)
    model = AutoForecaster(
        horizon=7, parallel=SERIAL, exog=("promo",), global_model=GlobalModelConfig(mode="on")
    )
    with pytest.raises(ConfigError, match="need their future values"):
        model.fit(history)
    with pytest.raises(ConfigError, match=r"no row for series 'p1' at 2024-05-04"):
        model.fit(
            history,
            future=future[~((future["series_id"] == "p1") & (future["ds"] == "2024-05-04"))],
        )
    bad = history.astype({"promo": object})
    bad.loc[bad.index[5], "promo"] = "yes"
    with pytest.raises(ConfigError, match="row 6: exogenous column 'promo' holds 'yes'"):
        model.fit(bad, future=future)
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['price'\]"):
        AutoForecaster(exog=("price",)).fit(history)


def test_auto_lets_the_global_model_compete_and_records_it(seasonal: pd.DataFrame) -> None:
    model = AutoForecaster(
        horizon=7,
        models=(GLOBAL, *CHEAP_LOCALS),
        backtest=TWO_WINDOWS,
        parallel=SERIAL,
        global_model=GlobalModelConfig(params={"max_iter": 100}),
    )
    out = model.fit(seasonal).predict(7)
    assert model.global_ is not None
    assert GLOBAL in set(model.backtest_["model"])
    assert (model.selection_["model"] == GLOBAL).any()
    assert not out[["mean", "q10", "q50", "q90"]].isna().any().any()
    with pytest.raises(HorizonError, match="trained for 7 steps"):
        model.predict(
            8,
            series_ids=model.selection_.loc[
                model.selection_["model"] == GLOBAL, "series_id"
            ].tolist()[:1],
        )

    # Off wins even where the global model is named.
    off = AutoForecaster(
        horizon=7,
        models=(GLOBAL, *CHEAP_LOCALS),
        backtest=TWO_WINDOWS,
        parallel=SERIAL,
        global_model=GlobalModelConfig(mode="off"),
    ).fit(seasonal)
    assert off.global_ is None
    assert GLOBAL not in set(off.backtest_["model"])


def test_global_model_needs_enough_series_or_length() -> None:
    few = seasonal_frame()[lambda f: f["series_id"].isin(["s00", "s01"])]
    assert AutoForecaster(horizon=7, parallel=SERIAL).fit(few).global_ is None  # auto: too few
    short = seasonal_frame().groupby("series_id").head(12)
    with pytest.raises(ConfigError, match="needs series of at least 30 points with 3"):
        AutoForecaster(horizon=7, parallel=SERIAL, global_model=GlobalModelConfig(mode="on")).fit(
            short
        )
    with pytest.raises(ConfigError, match="global_model must be auto, on or off"):
        AutoForecaster(global_model=GlobalModelConfig(mode="yes")).fit(few)


def test_backtest_residuals_are_the_chosen_models_errors(seasonal: pd.DataFrame) -> None:
    model = AutoForecaster(
        horizon=7,
        models=CHEAP_LOCALS,
        backtest=TWO_WINDOWS,
        parallel=SERIAL,
        global_model=GlobalModelConfig(mode="off"),
    ).fit(seasonal)
    residuals = model.backtest_residuals()
    assert list(residuals.columns) == ["series_id", "ds", "lag", "residual"]
    per_series = residuals.groupby("series_id").size()
    assert (per_series == 14).all()  # two windows of seven
    assert (residuals.groupby(["series_id", "lag"]).size() == 2).all()  # each lag once a window
    last = seasonal.groupby("series_id")["ds"].max()
    assert (residuals["ds"] <= residuals["series_id"].map(last)).all()
    assert not residuals.duplicated(["series_id", "ds"]).any()
    noise = seasonal.groupby("series_id")["y"].std()
    assert (residuals.groupby("series_id")["residual"].std() < noise).all()


def test_backtest_residuals_are_actual_minus_the_forecast(seasonal: pd.DataFrame) -> None:
    # Seasonal naive with season and horizon 7 forecasts each date by the value a week
    # before, so every residual is known exactly.
    model = AutoForecaster(
        horizon=7, backtest=TWO_WINDOWS, parallel=SERIAL, models="seasonal_naive", season_length=7
    ).fit(seasonal)
    residuals = model.backtest_residuals()
    values = seasonal.set_index(["series_id", "ds"])["y"]
    at = pd.MultiIndex.from_frame(residuals[["series_id", "ds"]])
    before = pd.MultiIndex.from_arrays(
        [at.get_level_values(0), at.get_level_values(1) - pd.Timedelta(days=7)]
    )
    expected = values.loc[at].to_numpy() - values.loc[before].to_numpy()
    np.testing.assert_allclose(residuals["residual"].to_numpy(), expected)


def test_intermittent_series_keep_their_own_methods(seasonal: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    sparse = [
        pd.DataFrame(
            {
                "series_id": f"sparse{i}",
                "ds": pd.date_range("2023-01-01", periods=LENGTH, freq="D"),
                "y": np.where(rng.random(LENGTH) < 0.15, rng.integers(1, 9, LENGTH), 0.0),
            }
        )
        for i in range(4)
    ]
    # The default candidates, as a user gets them; 20 smooth series, the fewest for which
    # the global model trains (each costs an auto-ETS backtest, ~4 s on a slow machine).
    smooth = seasonal[seasonal["series_id"] < "s20"]
    frame = pd.concat([smooth, *sparse], ignore_index=True)
    model = AutoForecaster(
        horizon=7,
        backtest=TWO_WINDOWS,
        parallel=SERIAL,
        global_model=GlobalModelConfig(params={"max_iter": 60}),
    )
    out = model.fit(frame).predict(7)
    assert model.global_ is not None  # trained, so leaving the sparse series is a choice
    chosen = model.selection_.set_index("series_id")
    sparse_ids = [f"sparse{i}" for i in range(4)]
    assert set(chosen.loc[sparse_ids, "demand_class"]) <= {"intermittent", "lumpy"}
    assert not (chosen.loc[sparse_ids, "model"] == GLOBAL).any()
    # A mean-rate method: about the history's average per day, not the median of zero.
    rates = out[out["series_id"].isin(sparse_ids)].groupby("series_id")["mean"].mean()
    history = frame[frame["series_id"].isin(sparse_ids)].groupby("series_id")["y"].mean()
    assert (rates > 0.3 * history).all()
