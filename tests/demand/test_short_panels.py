"""Short and intermittent panels: the default command forecasts them (#20)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import GlobalModelConfig
from forecasting.errors import ConfigError
from ordercast.cli import main


def spare_parts(series: int, months: int, zero_share: float, seed: int = 3) -> pd.DataFrame:
    """Monthly intermittent demand: mostly zeros, occasional small orders."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-01", periods=months, freq="MS")
    frames = []
    for i in range(series):
        demand = rng.poisson(3, months) * (rng.random(months) > zero_share)
        frames.append(pd.DataFrame({"series_id": f"part-{i:03d}", "ds": ds, "y": demand}))
    return pd.concat(frames, ignore_index=True)


def test_a_39_month_intermittent_panel_is_forecast_by_the_default_command(
    tmp_path: Path,
) -> None:
    # 25 series (enough to want the global model), 39 months, 3 windows of 12 held out:
    # 3 points left to train on, which used to end in "no series has enough points" (exit 1).
    series = tmp_path / "parts.csv"
    spare_parts(25, 39, zero_share=0.76).to_csv(series, index=False)
    out = tmp_path / "forecast.csv"
    code = main(
        ["forecast", str(series), "--horizon", "12", "--freq", "MS", "--season", "12",
         "--out", str(out), "--n-jobs", "1"]
    )  # fmt: skip
    assert code == 0
    forecast = pd.read_csv(out)
    assert forecast["series_id"].nunique() == 25
    assert len(forecast) == 25 * 12
    assert np.isfinite(forecast["mean"]).all() and (forecast["mean"] >= 0).all()
    assert "global" not in set(forecast["model"])


def test_the_global_model_steps_aside_on_short_series_and_says_why(caplog) -> None:
    frame = spare_parts(25, 39, zero_share=0.5)
    with caplog.at_level("INFO", logger="forecasting.demand.auto"):
        fitted = AutoForecaster(horizon=12, season_length=12).fit(frame)
    assert fitted.global_ is None
    assert "global model: off, 0 series have the 45 points it needs" in caplog.text


def test_the_global_model_forced_on_short_series_is_a_clear_config_error() -> None:
    frame = spare_parts(25, 39, zero_share=0.5)
    forced = AutoForecaster(horizon=12, season_length=12, global_model=GlobalModelConfig(mode="on"))
    with pytest.raises(ConfigError, match="at least 45 points with 3 backtest window"):
        forced.fit(frame)
