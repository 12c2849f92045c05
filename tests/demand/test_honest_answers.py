"""Answers that are what was asked (#22 items 5 and 10), outside HTTP.

Quantiles outside the trained grid are refused, a horizon the history cannot support
says so per series, quarterly periods keep their last quarter without FutureWarnings,
and hierarchy forecasts carry their keys and say when reconciliation moved them.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from forecasting.demand.backtest import plan_windows
from forecasting.demand.reconcile import reconcile_with_notes, with_key_columns
from forecasting.errors import ConfigError
from forecasting.queries import DemandQuery, answer_demand
from forecasting.series import (
    build_hierarchy,
    build_series,
    canonical_freq,
    drop_partial_last_period,
    prefix_levels,
)
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.api.fakes import demand_core
from training.pyfunc import DemandModel

OUTSIDE = "quantile 0.001 is outside the trained grid 0.05–0.95; ask for quantiles in [0.05, 0.95]"


# ----------------------------------------------------------------- quantiles and the grid


@pytest.mark.parametrize("quantiles", [(0.001, 0.5), (0.5, 0.999), (0.01,)])
def test_a_quantile_outside_the_trained_grid_is_refused(quantiles: tuple[float, ...]) -> None:
    core = demand_core()
    with pytest.raises(ConfigError, match=r"outside the trained grid 0\.05–0\.95"):
        answer_demand(core, DemandQuery(sku="SKU-1", site="SITE-A", horizon=2, quantiles=quantiles))


def test_the_grid_ends_are_served_and_the_refusal_names_the_grid() -> None:
    core = demand_core()
    answer = answer_demand(core, DemandQuery(level="total", horizon=1, quantiles=(0.05, 0.95)))
    # fakes.demand_core: q = mean + 4 (q - 0.5); the ends are the grid's own columns
    mean = float(answer.frame["mean"].iloc[0])
    assert answer.frame[["q5", "q95"]].iloc[0].tolist() == pytest.approx([mean - 1.8, mean + 1.8])
    with pytest.raises(ConfigError) as caught:
        core.forecast(level="total", horizon=1, quantiles=(0.001, 0.5))
    assert str(caught.value) == OUTSIDE


def test_the_pyfunc_refuses_a_quantile_outside_the_grid_naming_the_row() -> None:
    model = DemandModel()
    model.core = demand_core()
    rows = pd.DataFrame(
        [
            {"level": "total", "horizon": 2, "quantiles": "0.1,0.9"},
            {"level": "total", "horizon": 2, "quantiles": "0.001,0.5"},
        ]
    )
    with pytest.raises(MlflowException) as caught:
        model.predict(None, rows)
    assert f"input row 1: {OUTSIDE}" in caught.value.message


# ------------------------------------------------------ horizons beyond the history


def short_weekly(tmp_path: Path, weeks: int = 20) -> Path:
    rng = np.random.default_rng(5)
    ds = pd.date_range("2024-01-07", periods=weeks, freq="W-SUN")
    frame = pd.concat(
        [
            pd.DataFrame({"series_id": sid, "ds": ds, "y": rng.poisson(20, weeks).astype(float)})
            for sid in ("a", "b", "c")
        ]
    )
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_horizon_beyond_the_history_warns_and_records_the_fallback_per_series(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    series, out, selection = short_weekly(tmp_path), tmp_path / "fc.csv", tmp_path / "sel.csv"
    args = ["forecast", str(series), "--horizon", "30", "--out", str(out), "--n-jobs", "1"]
    code = main([*args, "--models", "naive,window_average", "--selection-out", str(selection)])
    assert code == 0
    forecast = pd.read_csv(out)
    assert list(forecast.columns[:4]) == ["series_id", "ds", "model", "fallback"]
    reasons = forecast.drop_duplicates("series_id").set_index("series_id")["fallback"]
    assert reasons.to_dict() == {
        sid: "too short to backtest a 30-period horizon (20 periods of history)"
        for sid in ("a", "b", "c")
    }
    assert (forecast["model"] == "window_average").all()
    said = capsys.readouterr().err  # the CLI logs to stderr
    assert "WARNING" in said
    assert "3 of 3 series got a rule-based fallback model" in said
    assert "too short to backtest a 30-period horizon: 3" in said


def test_series_the_backtest_chose_have_an_empty_fallback(tmp_path: Path) -> None:
    series, out = short_weekly(tmp_path, weeks=60), tmp_path / "fc.csv"
    args = ["forecast", str(series), "--horizon", "4", "--out", str(out), "--n-jobs", "1"]
    assert main([*args, "--models", "naive,window_average"]) == 0
    assert pd.read_csv(out)["fallback"].isna().all()


# ------------------------------------------------------------------ quarterly periods

# Orders every day of 2024-01-01 .. 2025-12-30: the last quarter lacks one day of 92,
# as the demo history (730 days from 2024-01-01) does.
DAYS = pd.date_range("2024-01-01", "2025-12-30", freq="D")
DAILY = pd.DataFrame({"order_date": DAYS, "quantity": 1.0, "sku": "A", "site": "S"})


@pytest.mark.parametrize("freq", ["Q", "QE", "Q-DEC", "QE-DEC"])
def test_quarter_aliases_keep_the_last_quarter_without_future_warnings(freq: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        series = build_series(DAILY, by=("site",), freq=freq)
        kept = drop_partial_last_period(series, freq, DAYS.max())
    assert kept["ds"].dt.strftime("%Y-%m-%d").tolist()[-2:] == ["2025-09-30", "2025-12-31"]
    assert kept["y"].iloc[-1] == 91  # the quarter as the data hold it: 91 of its 92 days
    assert canonical_freq(freq) == "QE-DEC"


def test_a_last_quarter_missing_more_than_a_few_days_is_dropped() -> None:
    # Data to 2025-11-15: six weeks of the quarter are missing, a slump no model should learn.
    early = DAILY[DAILY["order_date"] <= "2025-11-15"]
    series = build_series(early, by=("site",), freq="QE")
    kept = drop_partial_last_period(series, "QE", pd.Timestamp("2025-11-15"))
    assert kept["ds"].max() == pd.Timestamp("2025-09-30")
    # A complete last quarter is kept, of course.
    whole = DAILY[DAILY["order_date"] <= "2025-09-30"]
    series = build_series(whole, by=("site",), freq="QS")
    kept = drop_partial_last_period(series, "QS", pd.Timestamp("2025-09-30"))
    assert kept["ds"].max() == pd.Timestamp("2025-07-01")


def test_a_week_missing_a_day_is_still_dropped() -> None:
    series = build_series(DAILY, by=("site",), freq="W")  # 2025-12-30 is a Tuesday
    kept = drop_partial_last_period(series, "W", DAYS.max())
    assert kept["ds"].max() == pd.Timestamp("2025-12-28")


def test_the_cli_series_and_forecast_read_q_as_quarter_ends(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    lines = DAILY.assign(
        order_id=[f"o{i}" for i in range(len(DAILY))],
        line_id=[f"l{i}" for i in range(len(DAILY))],
        promised_date=DAILY["order_date"] + pd.Timedelta(days=3),
        delivered_date=DAILY["order_date"] + pd.Timedelta(days=2),
    )
    lines.to_csv(orders, index=False)
    series, out = tmp_path / "q.csv", tmp_path / "fc.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        assert (
            main(["series", str(orders), "--by", "site", "--freq", "Q", "--out", str(series)]) == 0
        )
        args = ["forecast", str(series), "--freq", "Q", "--horizon", "2", "--out", str(out)]
        assert main([*args, "--models", "naive", "--n-jobs", "1"]) == 0
    assert pd.read_csv(series)["ds"].iloc[-1] == "2025-12-31"
    assert pd.read_csv(out)["ds"].tolist() == ["2026-03-31", "2026-06-30"]


# ------------------------------------------------------------ hierarchy forecasts


def small_hierarchy() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=70, freq="D")
    rng = np.random.default_rng(11)
    parts = []
    for sku in ("SKU-1", "SKU-2"):
        for site in ("SITE-A", "SITE-B"):
            parts.append(
                pd.DataFrame(
                    {
                        "order_date": days,
                        "sku": sku,
                        "site": site,
                        "quantity": rng.poisson(5, len(days)).astype(float),
                    }
                )
            )
    orders = pd.concat(parts, ignore_index=True)
    levels = [("sku", "site"), ("sku",), ("site",), ()]
    return prefix_levels(build_hierarchy(orders, levels=levels, freq="W-SUN"))


def base_forecasts(hierarchy: pd.DataFrame, coherent: bool) -> pd.DataFrame:
    last = hierarchy.groupby("series_id")["y"].last()
    if coherent:  # every upper series already the sum of its bottom series
        last = hierarchy[hierarchy["ds"] == hierarchy["ds"].max()].set_index("series_id")["y"]
    rows = []
    for sid, value in last.items():
        for step in (1, 2):
            mean = float(value) + (0.0 if coherent else step * 3.0)
            rows.append(
                {
                    "series_id": sid,
                    "ds": hierarchy["ds"].max() + pd.Timedelta(weeks=step),
                    "model": "ets",
                    "mean": mean,
                    "q10": mean - 2,
                    "q50": mean,
                    "q90": mean + 2,
                }
            )
    return pd.DataFrame(rows)


def test_reconciliation_that_moves_the_numbers_says_so_in_model() -> None:
    hierarchy = small_hierarchy()
    out, _ = reconcile_with_notes(base_forecasts(hierarchy, False), hierarchy, "ols")
    assert set(out["model"]) == {"ets (ols)"}
    # Already coherent: the projection moves nothing, and the model keeps its name.
    same, _ = reconcile_with_notes(base_forecasts(hierarchy, True), hierarchy, "ols")
    assert set(same["model"]) == {"ets"}


def test_hierarchy_forecasts_carry_level_and_key_columns() -> None:
    hierarchy = small_hierarchy()
    out = with_key_columns(base_forecasts(hierarchy, False), hierarchy)
    assert list(out.columns[:4]) == ["series_id", "level", "sku", "site"]
    rows = out.drop_duplicates("series_id").set_index("series_id")
    assert rows.loc["sku,site:SKU-2|SITE-B", ["level", "sku", "site"]].tolist() == [
        "sku,site",
        "SKU-2",
        "SITE-B",
    ]
    assert rows.loc["site:SITE-A", ["level", "sku", "site"]].tolist() == ["site", None, "SITE-A"]
    assert rows.loc["total:__total__", ["sku", "site"]].isna().all()
    assert len(out) == len(base_forecasts(hierarchy, False))


def test_the_cli_hierarchy_forecast_has_key_columns_and_reconciled_labels(tmp_path: Path) -> None:
    series, out = tmp_path / "hier.csv", tmp_path / "fc.csv"
    small_hierarchy().to_csv(series, index=False)
    args = ["forecast", str(series), "--horizon", "2", "--out", str(out), "--n-jobs", "1"]
    # SBA is not linear in the data, so its forecasts of the levels do not add up as they are.
    assert main([*args, "--models", "sba", "--reconcile", "ols"]) == 0
    forecast = pd.read_csv(out)
    assert list(forecast.columns[:6]) == ["series_id", "level", "sku", "site", "ds", "model"]
    bottom = forecast[forecast["level"] == "sku,site"]
    assert (bottom["series_id"] == "sku,site:" + bottom["sku"] + "|" + bottom["site"]).all()
    assert forecast.loc[forecast["level"] == "total", ["sku", "site"]].isna().all().all()
    assert set(forecast["model"]) == {"sba (ols)"}


# ------------------------------------------------------------------ output files


def test_forecast_and_selection_files_get_the_users_umask(tmp_path: Path) -> None:
    series = short_weekly(tmp_path, weeks=30)
    out, selection = tmp_path / "fc.parquet", tmp_path / "sel.csv"
    args = ["forecast", str(series), "--horizon", "2", "--out", str(out), "--n-jobs", "1"]
    previous = os.umask(0o022)
    try:
        code = main([*args, "--models", "naive", "--selection-out", str(selection)])
    finally:
        os.umask(previous)
    assert code == 0
    assert out.stat().st_mode & 0o777 == 0o644
    assert selection.stat().st_mode & 0o777 == 0o644


def test_a_day_first_series_file_is_refused_then_read_with_its_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Monthly, on the first, written day first: guessed month first it was read as
    # consecutive January days and forecast as a daily series, exit 0.
    months = pd.date_range("2021-01-01", periods=36, freq="MS")
    rows = [
        {"series_id": sid, "ds": f"{d:%d/%m/%Y}", "y": 100.0 + 10 * d.month + i}
        for i, sid in enumerate(("a", "b"))
        for d in months
    ]
    series, out = tmp_path / "day-first.csv", tmp_path / "forecast.csv"
    pd.DataFrame(rows).to_csv(series, index=False)
    args = ["forecast", str(series), "--horizon", "3", "--out", str(out), "--n-jobs", "1"]
    assert main([*args, "--models", "seasonal_naive"]) == 2
    assert "row 1: ds '01/01/2021' is not an ISO date" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--models", "seasonal_naive", "--date-format", "%d/%m/%Y"]) == 0
    forecast = pd.read_csv(out, parse_dates=["ds"])
    assert sorted(forecast["ds"].unique()) == list(
        pd.date_range("2024-01-01", periods=3, freq="MS")
    )
    backtest = ["backtest", str(series), "--horizon", "3", "--out", str(tmp_path / "bt.csv")]
    assert main([*backtest, "--models", "naive"]) == 2
    assert main([*backtest, "--models", "naive", "--date-format", "%d/%m/%Y"]) == 0


def test_an_hourly_forecast_file_keeps_its_hours_and_a_daily_one_its_plain_dates(
    tmp_path: Path,
) -> None:
    # The CSV writer formatted every date as YYYY-MM-DD: an hourly forecast came out as
    # 24 rows a day, each with the same date.
    for freq, expected_text in (("h", "2024-01-21 01:00:00"), ("D", "2024-02-11")):
        ds = pd.date_range("2024-01-01", periods=480 if freq == "h" else 40, freq=freq)
        series, out = tmp_path / f"series-{freq}.csv", tmp_path / f"forecast-{freq}.csv"
        pd.DataFrame({"series_id": "a", "ds": ds, "y": 10.0 + np.arange(len(ds)) % 24}).to_csv(
            series, index=False
        )
        args = ["forecast", str(series), "--horizon", "4", "--out", str(out)]
        assert main([*args, "--models", "seasonal_naive", "--n-jobs", "1"]) == 0
        written = pd.read_csv(out, dtype={"ds": str})["ds"]
        assert written.iloc[1] == expected_text
        step = pd.Timedelta(1, unit="h" if freq == "h" else "D")
        assert (pd.to_datetime(written).diff().dropna() == step).all()


def test_a_gappy_monthly_file_forecasts_months_and_a_wrong_freq_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every series misses a month: the frequency was read as '31D' and the forecast, exit 0,
    # fell on 2024-02-03, 2024-03-05, ...; and `--freq MS` on month ends dropped every row,
    # exit 0 with "no demand in the history" for every series.
    ds = pd.date_range("2022-01-31", periods=24, freq="ME")
    rows = [
        pd.DataFrame({"series_id": sid, "ds": ds, "y": 20.0 + np.arange(24) % 12}).drop(index=gap)
        for sid, gap in (("a", 5), ("b", 9))
    ]
    series, out = tmp_path / "monthly.csv", tmp_path / "forecast.csv"
    pd.concat(rows).to_csv(series, index=False)
    args = ["forecast", str(series), "--horizon", "2", "--out", str(out), "--n-jobs", "1"]
    assert main([*args, "--models", "seasonal_naive"]) == 0
    forecast = pd.read_csv(out, parse_dates=["ds"])
    assert sorted(forecast["ds"].unique()) == list(
        pd.date_range("2024-01-31", periods=2, freq="ME")
    )
    out.unlink()
    assert main([*args, "--models", "seasonal_naive", "--freq", "MS"]) == 2
    err = capsys.readouterr().err
    assert "2022-01-31 00:00 is not a period of frequency 'MS' (the dates look like 'ME')" in err
    assert not out.exists()


def one_series_file(path: Path, dates: pd.DatetimeIndex, period: int) -> Path:
    """A CSV of one series 'a' on ``dates`` repeating 5, 6, ... every ``period`` dates."""
    pd.DataFrame({"series_id": "a", "ds": dates, "y": 5.0 + np.arange(len(dates)) % period}).to_csv(
        path, index=False
    )
    return path


def test_no_workers_and_an_unknown_holiday_country_are_refused_and_unused_holidays_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --n-jobs 0 was exit 1 ("unexpected failure: ValueError: n_jobs == 0 in Parallel");
    # --holidays XX was accepted without a word wherever the global model stayed off.
    dates = pd.date_range("2022-01-03", periods=30, freq="W-MON")
    series, out = one_series_file(tmp_path / "weekly.csv", dates, 4), tmp_path / "forecast.csv"
    args = ["forecast", str(series), "--horizon", "2", "--out", str(out), "--models", "naive"]
    assert main([*args, "--n-jobs", "0"]) == 2
    assert "n_jobs 0 runs nothing" in capsys.readouterr().err
    assert main([*args, "--holidays", "XX"]) == 2
    assert "no holiday calendar for country 'XX'" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--holidays", "US", "--n-jobs", "1"]) == 0
    assert "holidays of US: used only by the global model" in capsys.readouterr().err


def test_the_quantiles_asked_for_do_not_change_the_models_nor_the_mean(tmp_path: Path) -> None:
    # The backtest scored the pinball loss of the levels asked for: with --quantiles 0.5
    # three of these ten series got another model, and another mean, than with the default.
    history = generate_orders(sites=2, skus=10, days=400, seed=3).orders
    series = tmp_path / "monthly.csv"
    build_series(history, by=["sku"], freq="ME").to_csv(series, index=False)
    means = []
    for levels in ("0.1,0.5,0.9", "0.5"):
        out = tmp_path / f"forecast-{levels}.csv"
        args = ["forecast", str(series), "--horizon", "2", "--out", str(out), "--n-jobs", "1"]
        assert main([*args, "--quantiles", levels]) == 0
        means.append(pd.read_csv(out).set_index(["series_id", "ds"])[["model", "mean"]])
    pd.testing.assert_frame_equal(means[0], means[1])


def test_a_backtest_step_below_one_is_refused_before_anything_runs(tmp_path: Path) -> None:
    # `--step -2` ran and died in the C allocator ("corrupted size vs. prev_size"): the
    # windows reached before the first point; `--step 0` scored one window three times.
    dates = pd.date_range("2024-01-01", periods=60, freq="D")
    series = one_series_file(tmp_path / "series.csv", dates, 7)
    out = tmp_path / "bt.csv"
    for step in ("0", "-2"):
        args = ["backtest", str(series), "--horizon", "7", "--step", step, "--out", str(out)]
        assert main([*args, "--models", "naive"]) == 2
        assert not out.exists()
    with pytest.raises(ConfigError, match="step must be at least 1"):
        plan_windows(60, 7, 3, step=0)
    assert main(["backtest", str(series), "--horizon", "7", "--step", "1", "--out", str(out)]) == 0
    assert sorted(pd.read_csv(out)["cutoff"].unique()) == [51, 52, 53]


def test_backtest_says_when_seasonal_naive_could_only_repeat_the_last_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its rows matched naive's to the digit, unexplained, when a window's history was
    # shorter than a season.
    dates = pd.date_range("2024-01-01", periods=40, freq="D")
    series, out = one_series_file(tmp_path / "series.csv", dates, 7), tmp_path / "bt.csv"
    args = ["backtest", str(series), "--horizon", "7", "--out", str(out)]
    assert main([*args, "--models", "naive,seasonal_naive", "--season", "30"]) == 0
    said = capsys.readouterr().out
    # the windows' histories are 19, 26 and 33 days long
    assert "seasonal_naive repeated the last value, as naive does, in 2 of 3" in said
    assert "shorter than one season (30 periods)" in said
    assert main([*args, "--models", "naive,seasonal_naive"]) == 0  # weekly season: 7 days
    assert "repeated the last value" not in capsys.readouterr().out


def test_an_order_history_given_as_series_is_named_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `forecast ORDERS` said the file's columns were "y" (the frequency check's own frame).
    orders = tmp_path / "orders.csv"
    generate_orders(sites=1, skus=2, days=28, seed=1).orders.to_csv(orders, index=False)
    for command in ("forecast", "backtest"):
        out = tmp_path / f"{command}.csv"
        assert main([command, str(orders), "--horizon", "2", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert "columns present: order_id, line_id, sku, site" in err
        assert "this looks like an order history: build its series first" in err
        assert not out.exists()
