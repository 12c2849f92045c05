"""The capacity chart reads right: panels apart, axes in the model's measure, likely
shortfall days shaded, the scenario drawn over the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.plots import capacity_plot


def outlook(capacity: float, p: list[float]) -> pd.DataFrame:
    n = len(p)
    ramp = np.linspace(10, 40, n)
    return pd.DataFrame(
        {
            "site": "A",
            "ds": pd.date_range("2025-02-03", periods=n, freq="D"),
            "arrivals_p10": ramp * 0.5,
            "arrivals_p50": ramp,
            "arrivals_p90": ramp * 1.5,
            "capacity": capacity,
            "p_shortfall": p,
            "backlog_p10": ramp,
            "backlog_p50": ramp * 2,
            "backlog_p90": ramp * 3,
        }
    )


def test_three_panels_with_units_shaded_shortfalls_and_the_scenario() -> None:
    plan = outlook(30.0, [0.9, 0.6, 0.2, 0.1, 0.7])
    figure = capacity_plot(plan, "A", measure="lines", scenario=outlook(45.0, [0.1] * 5))
    top, middle, bottom = figure.axes
    assert top.get_ylabel() == "lines per day"
    assert middle.get_ylabel().startswith("lines waiting")
    assert "capacity" in bottom.get_ylabel()
    assert all(len(ax.patches) == 3 for ax in (top, middle, bottom))  # three days p >= 0.5
    labels = {text.get_text() for ax in figure.axes for text in ax.get_legend().get_texts()}
    assert {"capacity plan", "capacity scenario", "backlog P50 scenario"} <= labels
    scenario_capacity = next(line for line in top.lines if line.get_label() == "capacity scenario")
    assert set(np.asarray(scenario_capacity.get_ydata(), dtype=float)) == {45.0}


def test_without_a_scenario_only_the_plan() -> None:
    figure = capacity_plot(outlook(30.0, [0.1] * 4), "A")
    assert figure.axes[0].get_ylabel() == "units per day"
    labels = {text.get_text() for ax in figure.axes for text in ax.get_legend().get_texts()}
    assert not any("scenario" in label for label in labels)
    assert all(len(ax.patches) == 0 for ax in figure.axes)
