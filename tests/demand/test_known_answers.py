"""Models on series whose right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.baselines import Drift, SeasonalNaive
from forecasting.demand.classify import classify_values
from forecasting.demand.ets import AutoETS
from forecasting.demand.intermittent import SBA, TSB, Croston, croston_path
from forecasting.demand.metrics import mase, pinball, smape, wape


def frame_of(values) -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    ds = pd.date_range("2024-01-01", periods=len(values), freq="D")
    return pd.DataFrame({"series_id": "s", "ds": ds, "y": values})


def test_seasonal_naive_forecasts_a_pure_seasonal_series_exactly() -> None:
    pattern = np.array([5.0, 9.0, 2.0, 7.0, 3.0, 8.0, 1.0])
    out = SeasonalNaive(season_length=7).fit(frame_of(np.tile(pattern, 6))).predict(14)
    np.testing.assert_allclose(out["mean"], np.tile(pattern, 2))
    # A perfectly repeating series has no error to widen the interval with.
    np.testing.assert_allclose(out["q10"], out["q90"])


def test_drift_extrapolates_a_line() -> None:
    out = Drift().fit(frame_of(3 + 2 * np.arange(20))).predict(5)
    np.testing.assert_allclose(out["mean"], 3 + 2 * np.arange(20, 25))


def test_ets_recovers_the_level_of_a_noisy_constant_series() -> None:
    y = 50 + np.random.default_rng(1).normal(0, 2, 120)
    out = AutoETS().fit(frame_of(y)).predict(10)
    assert out["mean"].to_numpy() == pytest.approx(np.full(10, 50.0), abs=1.0)
    # The 80% interval is about ±1.28 sigma = ±2.6 around the level.
    width = (out["q90"] - out["q10"]).iloc[0]
    assert 3.5 < width < 8.0


def test_croston_matches_the_hand_computed_value() -> None:
    # Demands 4 (t=1), 6 (t=4), 2 (t=5); alpha 0.5.
    # Start: size 4, interval 2 (first demand at index 1). At t=4: size 5, interval
    # 2 + 0.5*(3-2) = 2.5. At t=5: size 3.5, interval 2.5 + 0.5*(1-2.5) = 1.75.
    y = np.array([0, 4, 0, 0, 6, 2, 0], dtype=float)
    assert croston_path(y, 0.5)[-1] == pytest.approx(3.5 / 1.75)
    out = Croston(alpha=0.5).fit(frame_of(y)).predict(3)
    np.testing.assert_allclose(out["mean"], 2.0)
    sba = SBA(alpha=0.5).fit(frame_of(y)).predict(1)["mean"].iloc[0]
    assert sba == pytest.approx(2.0 * 0.75)


def test_tsb_decays_when_demand_stops_but_croston_does_not() -> None:
    y = np.r_[np.tile([0, 5.0], 20), np.zeros(30)]
    croston = Croston().fit(frame_of(y)).predict(1)["mean"].iloc[0]
    tsb = TSB().fit(frame_of(y)).predict(1)["mean"].iloc[0]
    assert croston == pytest.approx(2.5, rel=0.05)
    assert tsb < 0.6 * croston


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.full(30, 10.0) + np.tile([0, 1], 15), "smooth"),
        (np.tile([1.0, 50.0, 3.0], 10), "erratic"),
        (np.tile([0, 0, 5.0, 0, 6.0], 6), "intermittent"),
        (np.tile([0, 0, 1.0, 0, 90.0], 6), "lumpy"),
    ],
)
def test_syntetos_boylan_classes(values: np.ndarray, expected: str) -> None:
    assert classify_values(values)[2] == expected


def test_metrics_on_known_numbers() -> None:
    actual, forecast, train = (
        np.array([10.0, 20.0]),
        np.array([12.0, 16.0]),
        np.array([1.0, 3.0, 2.0]),
    )
    assert mase(actual, forecast, train) == pytest.approx(3.0 / 1.5)
    assert wape(actual, forecast) == pytest.approx(6 / 30)
    assert smape(np.array([0.0]), np.array([0.0])) == 0.0
    assert pinball(np.array([10.0]), np.array([8.0]), 0.9) == pytest.approx(1.8)
    assert pinball(np.array([10.0]), np.array([12.0]), 0.9) == pytest.approx(0.2)


def test_a_multiplicative_ets_fit_gives_the_same_interval_every_time() -> None:
    # Multiplicative-error forms have no closed-form interval: statsmodels simulates it,
    # and unseeded the P10/P90 of one fit moved by tenths of a unit between two calls.
    y = np.exp(np.random.default_rng(0).normal(3, 0.3, 60))  # noise in proportion to the level
    model = AutoETS().fit(frame_of(y))
    assert model.states_["s"].spec.startswith("ETS(M"), model.states_["s"].spec
    first, second = model.predict(6), model.predict(6)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert (first["q90"] > first["q10"]).all()
