"""Known-answer and robustness tests for the statsmodels families: ARIMA, Theta, MSTL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.arima import AutoARIMA
from forecasting.demand.base import LocalForecaster
from forecasting.demand.baselines import SeasonalNaive
from forecasting.demand.mstl import MSTLForecaster
from forecasting.demand.registry import LOCAL_MODELS, make_model
from forecasting.demand.theta import Theta

QUANTILES = (0.1, 0.5, 0.9)


def ar1(rng: np.random.Generator, n: int, phi: float = 0.7, mu: float = 10.0) -> np.ndarray:
    """A stationary AR(1) around ``mu`` with unit innovations (burn-in discarded)."""
    burn = 200
    e = rng.normal(0.0, 1.0, n + burn)
    x = np.zeros(n + burn)
    for t in range(1, n + burn):
        x[t] = phi * x[t - 1] + e[t]
    return mu + x[burn:]


def hourly(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Daily (24) plus weekly (168) cycles: the noisy series and its noise-free signal."""
    t = np.arange(n)
    signal = 100 + 10 * np.sin(2 * np.pi * t / 24) + 5 * np.sin(2 * np.pi * t / 168)
    return signal + rng.normal(0.0, noise, n), signal


# -- ARIMA -------------------------------------------------------------------------


def test_arima_ar1_forecast_matches_conditional_mean() -> None:
    y = ar1(np.random.default_rng(0), 400)
    model = AutoARIMA()
    fc = model.predict_series(model.fit_series(y), 5, QUANTILES)
    theory = 10.0 + 0.7 ** np.arange(1, 6) * (y[-1] - 10.0)
    # Estimation error on 400 points is ~0.1; half an innovation sd is a loose bound.
    assert np.max(np.abs(fc.mean - theory)) < 0.5


def test_arima_ar1_80_percent_interval_covers_about_80_percent() -> None:
    rng = np.random.default_rng(1)
    h, hits, total = 5, 0, 0
    for _ in range(30):
        path = ar1(rng, 150 + h)
        model = AutoARIMA()
        fc = model.predict_series(model.fit_series(path[:-h]), h, QUANTILES)
        future = path[-h:]
        hits += int(((future >= fc.quantiles[0]) & (future <= fc.quantiles[2])).sum())
        total += h
    coverage = hits / total
    assert 0.65 <= coverage <= 0.93, coverage


def test_arima_random_walk_is_differenced_once() -> None:
    y = 50 + np.random.default_rng(2).normal(0, 1, 500).cumsum()
    state = AutoARIMA().fit_series(y)
    assert state.results is not None
    assert state.order[1] == 1


def test_arima_long_season_uses_fourier_terms_not_seasonal_sarima() -> None:
    y, _ = hourly(600, 1.0, np.random.default_rng(3))
    model = AutoARIMA(season_length=168, fourier_terms=3)
    state = model.fit_series(y)
    assert state.seasonal_order == (0, 0, 0, 0)
    assert state.fourier_period == 168 and state.fourier_k == 3
    fc = model.predict_series(state, 24, QUANTILES)
    assert np.all(np.isfinite(fc.mean))


def test_arima_short_season_uses_seasonal_differencing() -> None:
    t = np.arange(96)
    y = 50 + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(4).normal(0, 1, 96)
    state = AutoARIMA(season_length=12).fit_series(y)
    assert state.seasonal_order[1] == 1 and state.seasonal_order[3] == 12


# -- Theta -------------------------------------------------------------------------


def test_theta_extrapolates_a_linear_trend() -> None:
    n = 100
    y = 10 + 0.5 * np.arange(n) + np.random.default_rng(5).normal(0, 1, n)
    model = Theta()
    fc = model.predict_series(model.fit_series(y), 10, QUANTILES)
    true_next = 10 + 0.5 * n
    assert abs(fc.mean[0] - true_next) < 2.0
    # Theta(2) is SES with drift b0 / 2: the forecast rises at half the OLS slope.
    slope = np.diff(fc.mean).mean()
    assert 0.2 < slope < 0.3
    assert np.all(np.diff(fc.quantiles[2] - fc.quantiles[0]) >= -1e-9)  # intervals widen


def test_theta_deseasonalises_a_positive_seasonal_series() -> None:
    t = np.arange(84)
    y = (50 + 0.1 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 7))
    y = y + np.random.default_rng(6).normal(0, 0.5, 84)
    model = Theta(season_length=7)
    state = model.fit_series(y)
    assert state.spec == "Theta(mul[7])"
    fc = model.predict_series(state, 14, QUANTILES)
    truth = (50 + 0.1 * np.arange(84, 98)) * (1 + 0.3 * np.sin(2 * np.pi * np.arange(84, 98) / 7))
    assert np.mean(np.abs(fc.mean - truth) / truth) < 0.05


# -- MSTL --------------------------------------------------------------------------


def test_mstl_hourly_daily_and_weekly_cycles() -> None:
    rng = np.random.default_rng(7)
    y, _ = hourly(1000 + 48, 0.5, rng)
    train, future = y[:-48], y[-48:]
    model = MSTLForecaster(season_length=24, seasons=(24, 168))
    state = model.fit_series(train)
    assert state.spec.startswith("MSTL[24, 168]")
    fc = model.predict_series(state, 48, QUANTILES)
    mape = np.mean(np.abs(fc.mean - future) / future)
    naive = SeasonalNaive(season_length=24)
    naive_fc = naive.predict_series(naive.fit_series(train), 48, QUANTILES)
    naive_mape = np.mean(np.abs(naive_fc.mean - future) / future)
    assert mape < 0.05
    assert mape < naive_mape


def test_mstl_without_usable_period_is_plain_ets() -> None:
    y = 10 + 0.5 * np.arange(30) + np.random.default_rng(8).normal(0, 1, 30)
    state = MSTLForecaster(season_length=24, seasons=(168,)).fit_series(y)
    assert state.spec.startswith("ETS(") and state.cycles == ()


# -- robustness, all three -----------------------------------------------------------

SEASON = 7
RNG = np.random.default_rng(9)
_T = np.arange(60)
DEGENERATE = {
    "short5": np.array([3.0, 5.0, 4.0, 6.0, 5.0]),
    "constant": np.full(50, 7.0),
    "zeros": np.zeros(50),
    "tiny": 1e-9 * (5 + np.sin(2 * np.pi * _T / SEASON) + RNG.normal(0, 0.2, 60)),
    "huge": 1e12 * (5 + np.sin(2 * np.pi * _T / SEASON) + RNG.normal(0, 0.2, 60)),
    "negative": -100 + RNG.normal(0, 3, 60).cumsum(),
}
FAMILIES: dict[str, type[LocalForecaster]] = {
    "arima": AutoARIMA,
    "theta": Theta,
    "mstl": MSTLForecaster,
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("kind", sorted(DEGENERATE))
def test_degenerate_series_give_finite_ordered_quantiles(family: str, kind: str) -> None:
    y = DEGENERATE[kind]
    model = FAMILIES[family](season_length=SEASON)
    fc = model.predict_series(model.fit_series(y), 12, QUANTILES)
    assert fc.mean.shape == (12,)
    assert fc.quantiles is not None and fc.quantiles.shape == (3, 12)
    assert np.all(np.isfinite(fc.mean)) and np.all(np.isfinite(fc.quantiles))
    assert np.all(np.diff(fc.quantiles, axis=0) >= 0)
    # The forecast stays on the data's scale (catches unscaled tiny/huge fits).
    spread = max(np.ptp(y), 1e-300)
    assert np.all(np.abs(fc.mean - y[-1]) <= 10 * spread + 1e-300)
    if y.min() >= 0:
        assert np.all(fc.quantiles >= 0)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_constant_series_fallback_is_recorded(family: str) -> None:
    ds = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = pd.DataFrame({"series_id": "c", "ds": ds, "y": np.full(40, 3.0)})
    model = FAMILIES[family](season_length=SEASON).fit(frame)
    assert model.fallback_ == {"c": "constant series"}
    out = model.predict(4)
    assert np.allclose(out["mean"], 3.0)


@pytest.mark.parametrize("name", ["arima", "theta", "mstl"])
def test_registered_and_buildable_by_name(name: str) -> None:
    assert name in LOCAL_MODELS
    model = make_model(name, season_length=24)
    assert model.name == name and model.season_length == 24
