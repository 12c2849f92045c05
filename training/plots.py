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


def capacity_plot(outlook: pd.DataFrame, site: str) -> Figure:
    """Work available (band) against capacity (top), projected backlog (bottom), one site."""
    figure = Figure(figsize=(9, 5))
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    top.fill_between(
        outlook["ds"],
        outlook["available_p10"],
        outlook["available_p90"],
        color="#4c8bf5",
        alpha=0.25,
        label="work available P10–P90",
    )
    top.plot(outlook["ds"], outlook["available_p50"], color="#1a56db", label="available P50")
    top.step(outlook["ds"], outlook["capacity"], where="mid", color="#c0392b", label="capacity")
    top.set_title(f"{site}: work available against capacity", loc="left", fontsize=10)
    top.legend(fontsize=8)
    bottom.bar(outlook["ds"], outlook["backlog_p50"], color="#7f8c8d")
    bottom.set_ylabel("backlog P50", fontsize=8)
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
