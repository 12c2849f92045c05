"""Charts for people: forecasts with intervals against history (matplotlib, no display)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure


def forecast_plot(
    history: pd.DataFrame, forecasts: pd.DataFrame, series_ids: Sequence[str], tail: int = 52
) -> Figure:
    """One panel per series: the last ``tail`` points, the forecast and its 10–90% band."""
    n = len(series_ids)
    # A bare Figure (no pyplot): no global backend switch, safe in threads and notebooks.
    figure = Figure(figsize=(9, 2.4 * n))
    axes = figure.subplots(n, 1, squeeze=False)
    for ax, sid in zip(axes[:, 0], series_ids, strict=True):
        past = history[history["series_id"] == sid].tail(tail)
        future = forecasts[forecasts["series_id"] == sid]
        ax.plot(past["ds"], past["y"], color="#333333", lw=1.2, label="history")
        if {"q10", "q90"} <= set(future.columns):
            ax.fill_between(
                future["ds"],
                future["q10"],
                future["q90"],
                color="#4c8bf5",
                alpha=0.25,
                label="P10–P90",
            )
        ax.plot(future["ds"], future["mean"], color="#1a56db", lw=1.6, label="forecast")
        model = future["model"].iloc[0] if len(future) else ""
        ax.set_title(f"{sid}  ({model})", fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    return figure


# Okabe-Ito: told apart with the common colour-vision deficiencies.
PLAN_COLOUR, SCENARIO_COLOUR, CAPACITY_COLOUR, SHORT_COLOUR = (
    "#0072B2",
    "#E69F00",
    "#000000",
    "#D55E00",
)


def capacity_plot(
    outlook: pd.DataFrame,
    site: str,
    measure: str = "units",
    scenario: pd.DataFrame | None = None,
    threshold: float = 0.5,
) -> Figure:
    """One site's outlook in three panels sharing the days: new work arriving (P10–P90
    band, median) against the capacity line; the backlog at day end (band, median); the
    shortfall probability. Days where a shortfall is likely (``p_shortfall >= threshold``)
    are shaded in every panel. With ``scenario`` (the same site's outlook under a what-if)
    its capacity, backlog and shortfall are drawn dashed over the plan's. Amounts are in
    ``measure`` (the model's: units, lines or orders)."""
    figure = Figure(figsize=(9, 7.5))
    top, middle, bottom = figure.subplots(3, 1, sharex=True, height_ratios=[3, 2, 1.4])
    days = pd.DatetimeIndex(outlook["ds"])
    short = outlook["p_shortfall"].to_numpy(float) >= threshold
    for ax in (top, middle, bottom):
        for day in days[short]:
            ax.axvspan(
                day - pd.Timedelta(hours=12),
                day + pd.Timedelta(hours=12),
                color=SHORT_COLOUR,
                alpha=0.10,
                lw=0,
            )
    plan_label = "plan" if scenario is not None else ""

    top.fill_between(
        days,
        outlook["arrivals_p10"],
        outlook["arrivals_p90"],
        color=PLAN_COLOUR,
        alpha=0.25,
        lw=0,
        label="new work P10–P90",
    )
    top.plot(days, outlook["arrivals_p50"], color=PLAN_COLOUR, lw=1.4, label="new work P50")
    top.step(
        days,
        outlook["capacity"],
        where="mid",
        color=CAPACITY_COLOUR,
        lw=1.6,
        label=f"capacity {plan_label}".strip(),
    )
    top.set_ylabel(f"{measure} per day")
    top.set_title(f"{site}: new work arriving against capacity", loc="left", fontsize=10)

    middle.fill_between(
        days,
        outlook["backlog_p10"],
        outlook["backlog_p90"],
        color=PLAN_COLOUR,
        alpha=0.25,
        lw=0,
        label="backlog P10–P90",
    )
    middle.plot(
        days,
        outlook["backlog_p50"],
        color=PLAN_COLOUR,
        lw=1.4,
        label=f"backlog P50 {plan_label}".strip(),
    )
    middle.set_ylabel(f"{measure} waiting\nat day end")
    middle.set_ylim(bottom=0)
    middle.set_title("Backlog: work not shipped by the end of the day", loc="left", fontsize=9)

    bottom.step(
        days,
        outlook["p_shortfall"],
        where="mid",
        color=PLAN_COLOUR,
        lw=1.4,
        label=f"P(shortfall) {plan_label}".strip(),
    )
    bottom.axhline(threshold, color="#777777", lw=0.8, ls=":", label=f"{threshold:g}")
    bottom.set_ylim(-0.02, 1.45)
    bottom.set_yticks([0, 0.5, 1])
    bottom.set_ylabel("P(work available\n> capacity)")
    if scenario is not None:
        ahead = pd.DatetimeIndex(scenario["ds"])
        top.step(
            ahead,
            scenario["capacity"],
            where="mid",
            color=SCENARIO_COLOUR,
            lw=1.8,
            ls="--",
            label="capacity scenario",
        )
        middle.plot(
            ahead,
            scenario["backlog_p50"],
            color=SCENARIO_COLOUR,
            lw=1.8,
            ls="--",
            label="backlog P50 scenario",
        )
        bottom.step(
            ahead,
            scenario["p_shortfall"],
            where="mid",
            color=SCENARIO_COLOUR,
            lw=1.8,
            ls="--",
            label="P(shortfall) scenario",
        )
    shaded = "shortfall likely" + (" (plan)" if scenario is not None else "")
    bottom.fill_between([], [], color=SHORT_COLOUR, alpha=0.10, label=shaded)
    for ax in (top, middle):  # headroom: the legend above the lines, not over them
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.35 * (high - low))
    for ax in (top, middle, bottom):
        ax.legend(fontsize=7, loc="upper right", ncol=3, framealpha=0.9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
    bottom.set_xlabel("day")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def calibration_plot(table: pd.DataFrame) -> Figure:
    """Reliability diagram: observed late rate against mean predicted p_late per bin."""
    figure = Figure(figsize=(5.5, 5))
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--", label="perfect calibration")
    ax.plot(
        table["mean_p_late"],
        table["observed_late_rate"],
        marker="o",
        color="#1a56db",
        label="at-risk model",
    )
    for _, row in table.iterrows():
        ax.annotate(
            f"{int(row['lines']):,}",
            (row["mean_p_late"], row["observed_late_rate"]),
            fontsize=7,
            xytext=(4, -10),
            textcoords="offset points",
        )
    ax.set_xlabel("predicted p_late (bin mean)")
    ax.set_ylabel("observed late share")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Calibration on the evaluation window (lines per bin)", fontsize=10, loc="left")
    ax.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    return figure


def importance_plot(importance: pd.DataFrame, top: int = 15) -> Figure:
    """Horizontal bars of permutation importance (Brier increase), largest on top."""
    shown = importance.head(top).iloc[::-1]
    figure = Figure(figsize=(7, 0.35 * len(shown) + 1.2))
    ax = figure.subplots()
    ax.barh(
        shown["feature"],
        shown["brier_increase"],
        xerr=shown["brier_increase_std"],
        color="#4c8bf5",
    )
    ax.set_xlabel("Brier score increase when shuffled")
    ax.set_title("What the at-risk model relies on", fontsize=10, loc="left")
    ax.tick_params(labelsize=8)
    figure.tight_layout()
    return figure
