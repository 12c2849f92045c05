"""The series frame the pipeline accepts: typed, sorted, gap-filled, future values checked."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasting.demand.base import SeriesForecast, forecast_frame, forecast_frames
from forecasting.demand.frames import (
    check_future,
    check_series_frame,
    parse_ds,
    regularize,
    series_rows,
)
from forecasting.demand.frequency import infer_freq
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
    with pytest.warns(UserWarning, match=r"y: 1 value\(s\) are not numbers .* row 3, 'x'"):
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
    with pytest.warns(UserWarning, match=r"2 of 6 periods \(33%\) .* have no row"):
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


def _monthly_day_first() -> pd.DataFrame:
    # The first of each month written day first: every day and month is 12 or under, so
    # a reader that guesses (month first) sees twelve consecutive days of January.
    return pd.DataFrame(
        {"series_id": "a", "ds": [f"01/{m:02d}/2024" for m in range(1, 13)], "y": 1.0}
    )


def test_a_date_whose_day_and_month_cannot_be_told_apart_is_an_error_not_a_guess() -> None:
    with pytest.raises(
        ConfigError, match=r"row 1: ds '01/01/2024' is not an ISO date.*--date-format"
    ):
        check_series_frame(_monthly_day_first())


def test_a_named_date_format_reads_the_months() -> None:
    frame = _monthly_day_first()
    data = check_series_frame(frame.assign(ds=parse_ds(frame["ds"], "%d/%m/%Y")))
    assert data["ds"].tolist() == list(pd.date_range("2024-01-01", periods=12, freq="MS"))
    with pytest.raises(
        ConfigError, match="row 3: ds '2024-03-01' is not a date in the form %d/%m/%Y"
    ):
        parse_ds(pd.Series(["01/01/2024", "01/02/2024", "2024-03-01"]), "%d/%m/%Y")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31", "2024-01-31"),
        ("2024-01-31 10:00", "2024-01-31 10:00"),
        ("2024-01-31T10:00:00", "2024-01-31 10:00"),
        ("2024/01/31", "2024-01-31"),
        ("2024-01-31 10:00:00+02:00", "2024-01-31 10:00"),  # wall-clock time kept
    ],
)
def test_iso_dates_are_read_and_made_timezone_naive(text: str, expected: str) -> None:
    assert parse_ds(pd.Series([text])).tolist() == [pd.Timestamp(expected)]


def test_datetimes_are_kept_and_a_missing_one_names_its_row() -> None:
    dates = pd.Series(pd.to_datetime(["2024-01-01", None, "2024-01-03"]))
    with pytest.raises(ConfigError, match="row 2: ds is empty"):
        parse_ds(dates)
    aware = pd.Series(pd.date_range("2024-01-01 09:00", periods=2, freq="h", tz="Europe/Paris"))
    assert parse_ds(aware).tolist() == [
        pd.Timestamp("2024-01-01 09:00"),
        pd.Timestamp("2024-01-01 10:00"),
    ]


def test_a_thousands_separator_is_named_and_a_blank_is_a_quiet_gap() -> None:
    frame = pd.DataFrame(
        {
            "series_id": "a",
            "ds": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "y": ["5", "1,234", ""],
        }
    )
    with pytest.warns(UserWarning, match=r"y: 1 value\(s\) .* row 2, '1,234'"):
        data = check_series_frame(frame)
    assert data["y"].isna().tolist() == [False, True, True]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_series_frame(frame.iloc[[0, 2]])  # the blank alone: no warning


def test_offsets_that_differ_and_a_format_pandas_cannot_use_are_clear_errors() -> None:
    mixed = pd.Series(["2024-01-01 10:00+02:00", "2024-01-02 10:00+01:00"])
    with pytest.raises(ConfigError, match="different UTC offsets"):
        parse_ds(mixed)
    with pytest.raises(ConfigError, match="--date-format '%Q'"):
        parse_ds(pd.Series(["2024-01-01"]), "%Q")


def monthly_panel(freq: str, missing: dict[str, list[int]]) -> pd.DataFrame:
    """Three series of 24 periods of ``freq``, each without the periods ``missing`` names."""
    rows = []
    for sid in ("a", "b", "c"):
        ds = pd.date_range("2022-01-01", periods=24, freq=freq)
        keep = np.setdiff1d(np.arange(24), missing.get(sid, []))
        rows.append(pd.DataFrame({"series_id": sid, "ds": ds[keep], "y": 10.0 + keep}))
    return check_series_frame(pd.concat(rows))


@pytest.mark.parametrize("freq", ["MS", "ME", "W-MON", "QE-DEC", "QS-FEB", "YS", "D", "h"])
def test_gaps_in_every_series_do_not_change_the_inferred_frequency(freq: str) -> None:
    # Every series misses a period (a different one each): the most common step of a
    # month-start panel was 31 days, read as '31D', and its forecasts fell on the 3rd.
    periods = pd.date_range("2022-01-01", periods=24, freq=freq)
    own_gaps = monthly_panel(freq, {"a": [3], "b": [7], "c": [11, 12]})
    # The same periods missing from every series: the panel's dates have the gaps too.
    shared_gaps = monthly_panel(freq, {sid: [5, 9] for sid in "abc"})
    for panel in (own_gaps, shared_gaps):
        # Compared by the periods it names: QS-FEB and QS-NOV are the same quarters.
        inferred = infer_freq(panel)
        assert pd.date_range(periods[0], periods=24, freq=inferred).equals(periods), inferred


def test_a_date_off_the_frequencys_periods_is_refused_naming_it() -> None:
    month_ends = monthly_panel("ME", {})
    # Read as month starts, every row used to vanish and each series read as no demand.
    with pytest.raises(
        ConfigError,
        match=r"series 'a': 2022-01-31 00:00 is not a period of "
        r"frequency 'MS' \(the dates look like 'ME'\)",
    ):
        regularize(month_ends, "MS")
    mondays = monthly_panel("W-MON", {})
    with pytest.raises(ConfigError, match="2022-01-03 00:00 is not a period of frequency 'W-SUN'"):
        regularize(mondays, "W-SUN")
    stray = month_ends.copy()
    stray.loc[4, "ds"] = pd.Timestamp("2022-05-15")
    with pytest.raises(ConfigError, match="series 'a': 2022-05-15 00:00 is not a period"):
        regularize(stray, "ME")


def test_a_frequency_finer_than_every_step_is_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"no two dates of any series are one period of "
        r"frequency 'D' apart \(the dates look like 'MS'\)",
    ):
        regularize(monthly_panel("MS", {}), "D")


def test_a_few_absent_periods_are_quiet_gaps() -> None:
    panel = monthly_panel("MS", {"a": [3], "b": [7]})  # 2 of 72 periods
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = regularize(panel, "MS")
    assert len(out) == 72 and out["y"].isna().sum() == 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["b", "a", "c10", "c2", "A"]), st.floats(0, 9)), max_size=30)
)
def test_series_rows_are_the_groups_of_a_groupby_in_its_order(rows: list) -> None:
    frame = pd.DataFrame(rows, columns=["series_id", "y"]).astype({"y": float})
    rows = series_rows(frame)
    groups = [(str(sid), g["y"].tolist()) for sid, g in frame.groupby("series_id", sort=True)]
    y = rows.frame["y"].to_numpy()
    assert [(sid, y[first:end].tolist()) for sid, first, end in rows.spans()] == groups


def test_series_rows_of_a_sorted_frame_index_the_frame_itself() -> None:
    frame = pd.DataFrame({"series_id": ["a", "a", "b"], "y": [1.0, 2.0, 3.0]})
    rows = series_rows(frame)
    assert rows.frame is frame
    assert list(rows.spans()) == [("a", 0, 2), ("b", 2, 3)]
