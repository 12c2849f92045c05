"""The outlook's measures on hand-made queues: arrivals, load ratio, work available,
shortfall, backlog in units and days, delay; closed days defined the same way everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from forecasting.capacity.forecaster import run_queue
from forecasting.capacity.measures import MEASURE_COLUMNS, fifo_delay, outlook_measures


def measures(backlog0: float, arrivals: list[list[float]], capacity: list[float]) -> dict:
    work = np.array(arrivals, dtype=float)
    days = work.shape[1]
    available, _, backlog = run_queue(np.array([backlog0]), work, np.array(capacity[:days]))
    return outlook_measures(work, available, backlog, np.array(capacity, dtype=float))


def test_a_site_that_keeps_up_has_no_shortfall_and_no_backlog() -> None:
    out = measures(0.0, [[80.0, 90.0]], [100.0, 100.0, 100.0])
    assert list(out) == [c for c in MEASURE_COLUMNS]
    np.testing.assert_allclose(out["arrivals_p50"], [80, 90])
    np.testing.assert_allclose(out["load_ratio"], [0.8, 0.9])
    np.testing.assert_allclose(out["available_p50"], [80, 90])
    np.testing.assert_allclose(out["p_shortfall"], [0, 0])
    np.testing.assert_allclose(out["backlog_p50"], [0, 0])
    np.testing.assert_allclose(out["backlog_days"], [0, 0])
    np.testing.assert_allclose(out["expected_delay_days"], [0, 0])


def test_carried_backlog_counts_in_work_available_not_in_the_load_ratio() -> None:
    # 500 waiting, 100 a day arriving, capacity 200: the backlog drains by 100 a day.
    out = measures(500.0, [[100.0] * 4], [200.0] * 11)
    np.testing.assert_allclose(out["load_ratio"], [0.5] * 4)
    np.testing.assert_allclose(out["available_p50"], [600, 500, 400, 300])
    np.testing.assert_allclose(out["backlog_p50"], [400, 300, 200, 100])
    np.testing.assert_allclose(out["backlog_days"], [2.0, 1.5, 1.0, 0.5])
    np.testing.assert_allclose(out["p_shortfall"], [1, 1, 1, 1])
    # The 600 available on day 0 take days 0, 1 and 2 of capacity (200 each).
    np.testing.assert_allclose(out["expected_delay_days"], [2, 2, 1, 1])


def test_a_closed_day_shows_the_work_waiting_and_no_ratio() -> None:
    out = measures(300.0, [[50.0, 0.0, 100.0]], [0.0, 0.0, 500.0, 500.0, 500.0])
    np.testing.assert_allclose(out["available_p50"], [350, 350, 450])
    np.testing.assert_allclose(out["backlog_p50"], [350, 350, 0])
    assert np.isnan(out["load_ratio"][:2]).all() and out["load_ratio"][2] == pytest.approx(0.2)
    np.testing.assert_allclose(out["p_shortfall"], [1, 1, 0])
    # Backlog in days of the open days ahead (500 a day), not of the closed day.
    np.testing.assert_allclose(out["backlog_days"], [0.7, 0.7, 0.0])
    np.testing.assert_allclose(out["expected_delay_days"], [2, 1, 0])


def test_a_closed_day_with_nothing_waiting_is_no_shortfall() -> None:
    out = measures(0.0, [[0.0, 10.0]], [0.0, 100.0, 100.0])
    assert out["p_shortfall"][0] == 0 and out["backlog_p50"][0] == 0
    assert np.isnan(out["load_ratio"][0])
    assert out["expected_delay_days"][0] == 0


def test_shortfall_is_the_share_of_futures_with_more_work_than_capacity() -> None:
    out = measures(0.0, [[50.0], [150.0], [250.0], [90.0]], [100.0, 100.0])
    assert out["p_shortfall"][0] == pytest.approx(0.5)
    assert out["backlog_p10"][0] <= out["backlog_p50"][0] <= out["backlog_p90"][0]
    assert out["arrivals_p10"][0] <= out["arrivals_p50"][0] <= out["arrivals_p90"][0]


def test_delay_past_the_known_days_runs_at_the_last_open_days_capacity() -> None:
    delay = fifo_delay(np.array([[1000.0]]), np.array([100.0, 100.0]))
    assert delay[0, 0] == pytest.approx(9)  # 200 in the two days, 800 more at 100 a day
