"""The series frame the pipeline accepts: typed, sorted, gap-filled, future values checked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.base import SeriesForecast, forecast_frame, forecast_frames
from forecasting.demand.frames import check_future, check_series_frame, regularize
from forecasting.errors import ConfigError


def test_checked_frame_is_typed_and_sorted_and_the_callers_frame_is_untouched() -> None:
    frame = pd.DataFrame(
        {
            "series_id": [2, 1, 1],
            "ds": ["2024-01-02", "2024-01-02", "2024-01-01"],
            "y": ["3", 1, "x"],
        }
    )
    before = frame.copy()
    data = check_series_frame(frame)
    assert data["series_id"].tolist() == ["1", "1", "2"]
    assert data["ds"].tolist() == list(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"]))
    assert np.isnan(data["y"].iloc[0]) and data["y"].iloc[2] == 3.0  # not a number: missing
    pd.testing.assert_frame_equal(frame, before)


def test_regularize_gives_every_period_a_row_with_nan_where_missing() -> None:
    data = check_series_frame(
        pd.DataFrame(
            {
                "series_id": ["a", "a", "a", "b"],
                "ds": ["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-03"],
                "y": [1.0, 2.0, 5.0, 7.0],
            }
        )
    )
    out = regularize(data, "D")
    a = out[out["series_id"] == "a"]
    assert a["ds"].tolist() == list(pd.date_range("2024-01-01", "2024-01-05"))
    np.testing.assert_array_equal(a["y"].to_numpy(), [1.0, 2.0, np.nan, np.nan, 5.0])
    assert out[out["series_id"] == "b"]["y"].tolist() == [7.0]


def test_future_values_must_cover_the_horizon_of_every_series() -> None:
    ds = pd.date_range("2024-01-01", periods=5, freq="D")
    history = pd.DataFrame({"series_id": "a", "ds": ds, "y": 1.0, "p": 0.0})
    data = check_series_frame(history, ("p",))
    future = pd.DataFrame({"series_id": "a", "ds": ds[-1] + pd.to_timedelta([1, 2], "D"), "p": 1})
    assert check_future(None, data, (), "D", 2) is None  # nothing to check without exog
    assert len(check_future(future, data, ("p",), "D", 2)) == 2
    with pytest.raises(ConfigError, match="no row for series 'a' at 2024-01-08"):
        check_future(future, data, ("p",), "D", 3)


def test_many_forecasts_make_the_same_frame_as_one_at_a_time() -> None:
    levels = [0.1, 0.9]
    made = [
        ("a", pd.Timestamp("2024-01-07"), "ets", SeriesForecast(np.array([1.0, 2.0]), None)),
        (
            "b",
            pd.Timestamp("2024-01-14"),
            "naive",
            SeriesForecast(np.array([3.0, 4.0]), np.array([[5.0, 1.0], [2.0, 6.0]])),
        ),
    ]
    one_by_one = pd.concat(
        [forecast_frame(sid, end, "W-SUN", model, fc, levels) for sid, end, model, fc in made],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(forecast_frames(made, "W-SUN", levels), one_by_one)
