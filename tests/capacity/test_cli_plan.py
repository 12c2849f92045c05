"""The CLI: `capacity forecast --scenario` writes the plan beside the scenario (every
scenario form, read by the API's schema) and `capacity plan` recommends the capacity the
model's own re-run confirms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.capacity import CapacityForecaster
from forecasting.capacity.plan import recommend_capacity
from forecasting.loaders import load_orders
from forecasting.synthetic import generate_orders
from ordercast.cli import main

HORIZON = 7  # 2024-04-30 (Tuesday) to 2024-05-06; Sunday 2024-05-05 is closed
FIRST, SECOND = pd.Timestamp("2024-04-30"), pd.Timestamp("2024-05-01")
SATURDAY = pd.Timestamp("2024-05-04")


@pytest.fixture(scope="module")
def orders_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "orders.csv"
    generate_orders(sites=2, skus=6, days=120, seed=3).orders.to_csv(path, index=False)
    return path


Expected = Callable[[pd.Series, pd.Series, pd.Series], np.ndarray]  # capacity, ds, site


def on(days: pd.Series, *wanted: pd.Timestamp) -> np.ndarray:
    return days.isin(list(wanted)).to_numpy()


FORMS: dict[str, tuple[str, Expected]] = {
    "capacity_factor": ("capacity_factor: 1.5\n", lambda c, d, s: c * 1.5),
    "capacity_change_pct": ("capacity_change_pct: -25\n", lambda c, d, s: c * 0.75),
    "overtime_pct": ("overtime_pct: 10\n", lambda c, d, s: c * 1.1),
    "extra_units by date": (
        "extra_units:\n  2024-05-01: 40\n",
        lambda c, d, s: c + 40 * on(d, SECOND),
    ),
    "extra_units a number": ("extra_units: 30\n", lambda c, d, s: c + 30 * (c > 0)),
    "closures": ("closures: [2024-04-30]\n", lambda c, d, s: c * ~on(d, FIRST)),
    "extra_shift by weekday": (
        "extra_shift:\n  hours: 8\n  units_per_hour: 5\n  weekdays: [Sat, Sun]\n",
        lambda c, d, s: c + 40 * (d.dt.dayofweek >= 5).to_numpy(),
    ),
    "extra_shift by date": (
        "extra_shift:\n  - {hours: 4, units_per_hour: 5, dates: [2024-04-30]}\n",
        lambda c, d, s: c + 20 * on(d, FIRST),
    ),
    "sites": (
        "capacity_factor: 2\nsites: SITE-2\n",
        lambda c, d, s: c * np.where(s == "SITE-2", 2, 1),
    ),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_every_scenario_form_is_written_beside_the_plan(
    orders_file: Path, tmp_path: Path, form: str, capsys: pytest.CaptureFixture
) -> None:
    text, expected = FORMS[form]
    scenario = tmp_path / "what-if.yaml"
    scenario.write_text(text)
    out = tmp_path / "outlook.csv"
    argv = ["capacity", "forecast", "--data", str(orders_file), "--horizon", str(HORIZON)]
    assert main([*argv, "--out", str(out), "--scenario", str(scenario)]) == 0
    both = pd.read_csv(out, parse_dates=["ds"])
    plan, changed = (
        both[both["case"] == case].reset_index(drop=True) for case in ("plan", "scenario")
    )
    assert len(plan) == len(changed) == 2 * HORIZON
    assert (plan["capacity"] == 0).any()  # the week has a closed day
    want = expected(plan["capacity"], plan["ds"], plan["site"])
    np.testing.assert_allclose(changed["capacity"], want)
    np.testing.assert_allclose(changed["arrivals_p50"], plan["arrivals_p50"])  # same arrivals
    comparison = pd.read_csv(tmp_path / "outlook-comparison.csv")
    assert list(comparison["site"]) == ["SITE-1", "SITE-2"]
    printed = capsys.readouterr().out
    assert "scenario against plan" in printed and "outlook-comparison.csv" in printed


def test_the_chart_overlays_the_scenario(orders_file: Path, tmp_path: Path) -> None:
    scenario = tmp_path / "what-if.yaml"
    scenario.write_text("overtime_pct: 20\n")
    argv = ["capacity", "forecast", "--data", str(orders_file), "--horizon", "14"]
    argv += ["--out", str(tmp_path / "o.parquet"), "--scenario", str(scenario)]
    assert main([*argv, "--plot", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "o-comparison.parquet").is_file()
    charts = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert charts == ["capacity-SITE-1.png", "capacity-SITE-2.png"]


def test_capacity_plan_recommends_what_the_model_confirms(
    orders_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "plan.csv"
    argv = ["capacity", "plan", "--data", str(orders_file), "--days", "14", "--target", "0.3"]
    argv += ["--shift-hours", "8", "--units-per-hour", "10", "--out", str(out)]
    assert main(argv) == 0
    table = pd.read_csv(out).set_index("site")
    printed = capsys.readouterr().out
    model = CapacityForecaster().fit(load_orders(str(orders_file), None))
    for site, row in table.iterrows():
        assert row["days"] == 14 and row["target"] == 0.3
        extra = row["extra_units_per_day"]
        assert row["shifts_per_day"] == pytest.approx(extra / 80)
        rerun = model.predict(14, [site], {"extra_units": extra, "sites": [site]})
        assert rerun.loc[rerun["capacity"] > 0, "p_shortfall"].max() < 0.3
        assert f"{site}:" in printed
    assert table.loc["SITE-1", "extra_units_per_day"] > 0
    assert "per open day" in printed and "shifts" in printed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "1.5"], "strictly between 0 and 1"),
        (["--target", "0"], "strictly between 0 and 1"),
        (["--shift-hours", "8"], "--shift-hours and --units-per-hour together"),
        (["--site", "SITE-9"], "'SITE-9'"),
        (["--days", "365"], "1 to 90"),
        (["--grace-days", "14"], "grace days 14"),
    ],
)
def test_capacity_plan_refuses_bad_questions_with_a_message(
    orders_file: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    argv = ["capacity", "plan", "--data", str(orders_file), "--days", "14", *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_recommendation_for_a_roomy_site_is_zero(orders_file: Path, tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.csv"
    rows = [{"site": "SITE-2", "weekday": w, "capacity_units": 1e6} for w in range(7)]
    pd.DataFrame(rows).to_csv(calendar, index=False)
    out = tmp_path / "plan.csv"
    argv = ["capacity", "plan", "--data", str(orders_file), "--days", "14", "--site", "SITE-2"]
    assert main([*argv, "--calendar", str(calendar), "--out", str(out)]) == 0
    assert pd.read_csv(out)["extra_units_per_day"].tolist() == [0.0]


def test_the_cli_and_the_library_agree(orders_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.csv"
    argv = ["capacity", "plan", "--data", str(orders_file), "--days", "10", "--site", "SITE-1"]
    assert main([*argv, "--out", str(out)]) == 0
    model = CapacityForecaster().fit(load_orders(str(orders_file), None))
    (advice,) = recommend_capacity(model, ["SITE-1"], 10)
    assert pd.read_csv(out)["extra_units_per_day"].iloc[0] == pytest.approx(
        advice.extra_units_per_day
    )
