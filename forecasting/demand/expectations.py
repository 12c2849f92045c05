"""What a published forecast is expected to score, by level and lag, from its backtest.

A planner holding last month's forecast against what happened needs a yardstick: the
accuracy the same model showed in its rolling-origin backtest at the same distance
ahead. These expectations are stored beside every published forecast, and accuracy
tracking flags drift when what is observed falls well behind them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EXPECTATION_COLUMNS = ["level", "lag", "wape", "mase", "coverage80"]


def backtest_expectations(
    residuals: pd.DataFrame, series: pd.DataFrame, backtest: pd.DataFrame, selection: pd.DataFrame
) -> pd.DataFrame:
    """Expected accuracy per ``level`` and ``lag`` of the chosen models' backtest.

    ``residuals``: ``series_id, ds, lag, residual`` (actual - forecast) of each series'
    chosen model (:meth:`AutoForecaster.backtest_residuals`); ``series``: the history the
    model learned from (``series_id`` as ``<level>:<id>``, ``ds``, ``y``); ``backtest``
    and ``selection``: the model's ``backtest_`` and ``selection_`` frames.

    * ``wape`` = sum |error| / sum |actual| over the level's series at that lag;
    * ``mase`` = the mean of |error| / scale, the scale being a series' mean absolute
      one-step change over its whole history (rows of series with a zero scale are left
      out);
    * ``coverage80`` = the share of backtest actuals inside the chosen model's P10-P90,
      per level; the backtest records it per window, not per lag, so every lag of a level
      carries the same figure.
    """
    if residuals.empty:
        return pd.DataFrame(columns=EXPECTATION_COLUMNS)
    history = series[["series_id", "ds", "y"]]
    rows = residuals.merge(history, on=["series_id", "ds"], how="inner")
    scales = history.groupby("series_id")["y"].agg(_one_step_scale).rename("scale")
    rows = rows.join(scales, on="series_id")
    rows["level"] = rows["series_id"].str.partition(":")[0]
    rows["abs_error"] = rows["residual"].abs()
    rows["abs_actual"] = rows["y"].abs()
    rows["scaled"] = np.where(rows["scale"] > 0, rows["abs_error"] / rows["scale"], np.nan)
    grouped = rows.groupby(["level", "lag"], sort=True)
    out = pd.DataFrame(
        {
            "wape": grouped["abs_error"].sum() / grouped["abs_actual"].sum().replace(0, np.nan),
            "mase": grouped["scaled"].mean(),
        }
    ).reset_index()
    chosen = backtest.merge(selection[["series_id", "model"]], on=["series_id", "model"])
    coverage = (
        chosen.assign(level=chosen["series_id"].str.partition(":")[0])
        .groupby("level")["coverage"]
        .mean()
        .rename("coverage80")
    )
    out = out.join(coverage, on="level")
    out["lag"] = out["lag"].astype(int)
    return out[EXPECTATION_COLUMNS]


def _one_step_scale(values: pd.Series) -> float:
    steps = np.abs(np.diff(values.to_numpy(float)))
    steps = steps[np.isfinite(steps)]
    return float(steps.mean()) if len(steps) else float("nan")
