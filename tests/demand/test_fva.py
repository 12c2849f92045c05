"""Forecast value added of planner adjustments, checked against a hand computation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.adjustments import Adjustment, apply_adjustments
from forecasting.demand.fva import forecast_value_added
from forecasting.errors import ConfigError

W1, W2, W3 = pd.Timestamp("2025-01-05"), pd.Timestamp("2025-01-12"), pd.Timestamp("2025-01-19")


def applied_rows() -> pd.DataFrame:
    rows = [
        # a1 helps: ana raised A|S1 towards what came.
        ("a1", "sku,site", "A|S1", W1, 10.0, 15.0, "ana", "promotion"),
        ("a1", "sku,site", "A|S1", W2, 20.0, 25.0, "ana", "promotion"),
        # a2 hurts: bo raised site S1 in week 1; week 2 has no actual yet.
        ("a2", "site", "S1", W1, 50.0, 70.0, "bo", None),
        ("a2", "site", "S1", W2, 50.0, 70.0, "bo", None),
        # a3: nothing known yet.
        ("a3", "sku", "B", W3, 5.0, 9.0, "bo", "other"),
    ]
    columns = ["adjustment_id", "level", "series_id", "ds", "statistical", "adjusted"]
    return pd.DataFrame(rows, columns=[*columns, "author", "reason_code"])


def actual_rows() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("sku,site", "A|S1", W1, 16.0),
            ("sku,site", "A|S1", W2, 24.0),
            ("site", "S1", W1, 48.0),
            ("site", "S2", W2, 99.0),  # not adjusted: ignored
        ],
        columns=["level", "series_id", "ds", "y"],
    )


def test_fva_per_adjustment_matches_a_hand_computation() -> None:
    per = forecast_value_added(applied_rows(), actual_rows()).per_adjustment.set_index(
        "adjustment_id"
    )
    assert list(per.index) == ["a1", "a2"]  # a3 has no actual yet
    a1, a2 = per.loc["a1"], per.loc["a2"]
    # a1: errors stat -6, -4; adjusted -1, +1; actuals 40.
    assert (a1["periods"], a1["abs_error_statistical"], a1["abs_error_adjusted"]) == (2, 10, 2)
    assert a1["wape_statistical"] == pytest.approx(0.25)
    assert a1["wape_adjusted"] == pytest.approx(0.05)
    assert a1["bias_statistical"] == pytest.approx(-0.25)
    assert a1["bias_adjusted"] == pytest.approx(0.0)
    assert a1["fva"] == pytest.approx(0.20)
    assert a1["helped"] and (a1["author"], a1["reason_code"], a1["level"]) == (
        "ana",
        "promotion",
        "sku,site",
    )
    # a2: one period, stat +2, adjusted +22 over 48.
    assert (a2["periods"], a2["abs_error_statistical"], a2["abs_error_adjusted"]) == (1, 2, 22)
    assert a2["wape_adjusted"] == pytest.approx(22 / 48)
    assert a2["bias_adjusted"] == pytest.approx(22 / 48)
    assert a2["fva"] == pytest.approx(-20 / 48)
    assert not a2["helped"] and a2["reason_code"] == "(none)"


def test_fva_summary_pools_errors_and_counts_the_share_that_helped() -> None:
    summary = forecast_value_added(applied_rows(), actual_rows()).summary
    overall = summary[summary["group_by"] == "all"].iloc[0]
    assert (overall["adjustments"], overall["helped"], overall["share_helped"]) == (2, 1, 0.5)
    assert overall["wape_statistical"] == pytest.approx(12 / 88)
    assert overall["wape_adjusted"] == pytest.approx(24 / 88)
    assert overall["fva"] == pytest.approx(-12 / 88)
    by_author = summary[summary["group_by"] == "author"].set_index("group")["share_helped"]
    assert by_author.to_dict() == {"ana": 1.0, "bo": 0.0}
    by_reason = summary[summary["group_by"] == "reason_code"].set_index("group")
    assert set(by_reason.index) == {"(none)", "promotion"}
    assert set(summary[summary["group_by"] == "level"]["group"]) == {"site", "sku,site"}


def test_zero_actuals_leave_wape_undefined_but_still_say_whether_it_helped() -> None:
    applied = applied_rows().iloc[[0]]
    actuals = actual_rows().iloc[[0]].assign(y=0.0)
    per = forecast_value_added(applied, actuals).per_adjustment.iloc[0]
    assert np.isnan(per["wape_statistical"]) and np.isnan(per["fva"])
    assert not per["helped"]  # 15 off instead of 10 off


def test_fva_runs_on_the_applied_frame_of_apply_adjustments() -> None:
    from tests.demand.test_adjustments import make_model

    a = Adjustment(
        id="p",
        level="site",
        series_id="S1",
        start=W2,
        end=W2,
        kind="add",
        value=10.0,
        author="ana",
        reason="fair",
        reason_code="promotion",
        created_at=W1,
    )
    applied = apply_adjustments(make_model(), [a]).applied
    actuals = pd.DataFrame({"level": ["site"], "series_id": ["S1"], "ds": [W2], "y": [58.0]})
    per = forecast_value_added(applied, actuals).per_adjustment.iloc[0]
    assert per["abs_error_statistical"] == pytest.approx(8.0)  # 50 vs 58
    assert per["abs_error_adjusted"] == pytest.approx(2.0)  # 60 vs 58
    assert per["helped"]


def test_bad_frames_are_refused_naming_the_problem() -> None:
    with pytest.raises(ConfigError, match="actuals: no column"):
        forecast_value_added(applied_rows(), actual_rows().drop(columns="y"))
    twice = pd.concat([actual_rows(), actual_rows().iloc[[0]]])
    with pytest.raises(
        ConfigError, match=re.escape("'A|S1' on 2025-01-05 is given more than once")
    ):
        forecast_value_added(applied_rows(), twice)
