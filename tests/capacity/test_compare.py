"""The plan and a scenario side by side, on hand-made outlooks with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.capacity.compare import compare_outlooks, first_shortfall_free_day
from forecasting.errors import ConfigError

DAYS = pd.date_range("2025-02-03", periods=7, freq="D")  # Monday to Sunday


def outlook(site: str, p: list[float], backlog: list[float], capacity: list[float], delay=None):
    frame = pd.DataFrame(
        {
            "site": site,
            "ds": DAYS,
            "capacity": capacity,
            "p_shortfall": p,
            "backlog_p50": backlog,
        }
    )
    if delay is not None:
        frame["expected_delay_days"] = delay
    return frame


OPEN = [100.0] * 5 + [0.0, 0.0]  # closed at the weekend


def test_first_shortfall_free_day_is_where_the_risk_stays_low() -> None:
    p = np.array([0.9, 0.2, 0.7, 0.3, 0.1, 1.0, 1.0])
    # Tuesday is below 0.5 but Wednesday is not: free from Thursday; the weekend is closed.
    assert first_shortfall_free_day(DAYS, p, np.array(OPEN)) == DAYS[3]
    assert first_shortfall_free_day(DAYS, p, np.array(OPEN), threshold=0.8) == DAYS[1]
    assert first_shortfall_free_day(DAYS, p, np.array(OPEN), threshold=0.05) is None
    everyday = np.array([100.0] * 7)  # open at the weekend too: still short on Sunday
    assert first_shortfall_free_day(DAYS, p, everyday) is None
    assert first_shortfall_free_day(DAYS, np.zeros(7), everyday) == DAYS[0]
    assert first_shortfall_free_day(DAYS, np.zeros(7), np.zeros(7)) is None  # never open


def test_the_comparison_of_hand_made_outlooks() -> None:
    plan = pd.concat(
        [
            outlook(
                "A",
                [0.9, 0.9, 0.8, 0.6, 0.6, 1, 1],
                [300, 280, 260, 250, 240, 240, 240],
                OPEN,
                [3, 3, 3, 3, 3, 3, 3],
            ),
            outlook("B", [0.1] * 7, [0] * 7, OPEN, [0] * 7),
        ]
    )
    scenario = pd.concat(
        [
            outlook(
                "A",
                [0.9, 0.4, 0.3, 0.2, 0.1, 1, 1],
                [200, 120, 60, 10, 0, 0, 0],
                [150.0] * 5 + [0, 0],
                [2, 1, 1, 0, 0, 0, 0],
            ),
            outlook("B", [0.1] * 7, [0] * 7, OPEN, [0] * 7),
        ]
    )
    table = compare_outlooks(plan, scenario).set_index("site")
    a, b = table.loc["A"], table.loc["B"]
    assert a["backlog_end_plan"] == 240 and a["backlog_end_scenario"] == 0
    assert a["backlog_cleared"] == 240
    assert a["delay_days_saved"] == pytest.approx((1 + 2 + 2 + 3 + 3 + 3 + 3) / 7)
    assert a["shortfall_days_plan"] == 5 and a["shortfall_days_scenario"] == 1
    assert pd.isna(a["first_shortfall_free_plan"])
    assert a["first_shortfall_free_scenario"] == DAYS[1]
    assert b["backlog_cleared"] == 0 and b["delay_days_saved"] == 0
    assert b["first_shortfall_free_plan"] == b["first_shortfall_free_scenario"] == DAYS[0]
    # A scenario that takes capacity away shows as negative backlog cleared.
    worse = compare_outlooks(scenario, plan).set_index("site").loc["A"]
    assert worse["backlog_cleared"] == -240 and worse["delay_days_saved"] < 0


def test_the_outlooks_must_cover_the_same_site_days() -> None:
    plan = outlook("A", [0.1] * 7, [0] * 7, OPEN)
    with pytest.raises(ConfigError, match="same sites and days"):
        compare_outlooks(plan, plan.iloc[:-1])
    with pytest.raises(ConfigError, match="same sites and days"):
        compare_outlooks(plan, plan.assign(site="B"))


def test_without_delays_the_delay_saved_is_unknown_not_zero() -> None:
    plan = outlook("A", [0.1] * 7, [5] * 7, OPEN)
    assert np.isnan(compare_outlooks(plan, plan)["delay_days_saved"].iloc[0])
