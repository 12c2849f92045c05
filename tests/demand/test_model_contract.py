"""One contract, every model: list a model in LOCAL_MODELS and it is tested here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from forecasting.demand.base import SeriesForecast, SeriesModel
from forecasting.demand.registry import LOCAL_MODELS, make_model

# ARIMA's order search costs seconds a series: its cases run with the slow tests.
MODELS = [
    pytest.param(name, marks=pytest.mark.slow) if name == "arima" else name
    for name in sorted(LOCAL_MODELS)
]

QUANTILES = (0.1, 0.5, 0.9)
RNG = np.random.default_rng(0)
SERIES = {
    "seasonal": 20 + 5 * np.sin(np.arange(60) * 2 * np.pi / 7) + RNG.normal(0, 1, 60),
    "intermittent": np.where(RNG.random(60) < 0.3, RNG.integers(1, 9, 60), 0).astype(float),
    "short": np.array([3.0, 5.0, 4.0]),
    "constant": np.full(40, 7.0),
    "zeros": np.zeros(40),
    "gaps": np.where(np.arange(50) % 9 == 4, np.nan, 10 + np.arange(50) % 5).astype(float),
    "huge": 1e9 + RNG.normal(0, 1e6, 50),
    "single": np.array([4.0]),
}


def frame_of(values: np.ndarray, sid: str = "s") -> pd.DataFrame:
    ds = pd.date_range("2024-01-01", periods=len(values), freq="D")
    return pd.DataFrame({"series_id": sid, "ds": ds, "y": values})


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("kind", sorted(SERIES))
def test_shapes_no_nan_ordered_quantiles_and_dates(name: str, kind: str) -> None:
    model = make_model(name, season_length=7).fit(frame_of(SERIES[kind]), freq="D")
    out = model.predict(10, QUANTILES)
    assert list(out.columns) == ["series_id", "ds", "model", "mean", "q10", "q50", "q90"]
    assert len(out) == 10
    assert not out[["mean", "q10", "q50", "q90"]].isna().any().any()
    assert (out["q10"] <= out["q50"]).all() and (out["q50"] <= out["q90"]).all()
    assert out["ds"].iloc[0] == pd.Timestamp("2024-01-01") + pd.Timedelta(days=len(SERIES[kind]))
    assert out["ds"].diff().dropna().eq(pd.Timedelta(days=1)).all()
    if np.nanmin(SERIES[kind]) >= 0:
        assert (out["q10"] >= 0).all()  # demand is never forecast below zero


@pytest.mark.parametrize("name", MODELS)
def test_deterministic_and_clonable(name: str) -> None:
    frame = pd.concat([frame_of(SERIES["seasonal"], "a"), frame_of(SERIES["intermittent"], "b")])
    model = make_model(name, season_length=7)
    first = model.fit(frame).predict(5)
    second = clone(model).fit(frame).predict(5)
    pd.testing.assert_frame_equal(first, second)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "states_")  # learned state exists only after fit


@pytest.mark.parametrize("name", MODELS)
def test_per_series_interface_is_the_series_model_protocol(name: str) -> None:
    model = make_model(name, season_length=7)
    assert isinstance(model, SeriesModel)
    assert model.name == name  # the name the pipeline records is the registry's
    y = SERIES["seasonal"]
    fc = model.predict_series(model.fit_series(y), 10, QUANTILES)
    assert isinstance(fc, SeriesForecast)
    assert fc.mean.shape == (10,)
    assert fc.quantiles is None or fc.quantiles.shape == (len(QUANTILES), 10)
    again = model.predict_series(model.fit_series(y.copy()), 10, QUANTILES)
    np.testing.assert_array_equal(fc.mean, again.mean)
    # The frame layer is the per-series layer plus dates: the same numbers.
    frame = make_model(name, season_length=7).fit(frame_of(y), freq="D").predict(10, QUANTILES)
    np.testing.assert_array_equal(frame["mean"].to_numpy(), fc.mean)


def test_the_protocol_rejects_a_model_without_the_per_series_layer() -> None:
    class FrameOnly:
        name = "frame_only"
        season_length = 1

        def fit_series(self, y: np.ndarray) -> object:
            return y

    assert not isinstance(FrameOnly(), SeriesModel)
