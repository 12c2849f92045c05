"""Planner adjustments on a forecast file's frame (``ordercast forecast --adjusted``): the
same rules as the service applies to its champion (:mod:`forecasting.demand.adjustments`),
on a hierarchy forecast whose ``series_id`` is ``<level>:<series id>``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.demand.adjustments import Adjustment, active, apply_adjustments
from forecasting.demand.serving import build_serving_model
from forecasting.errors import ConfigError
from forecasting.quantiles import quantile_column


def adjust_forecast_frame(
    forecast: pd.DataFrame,
    adjustments: Sequence[Adjustment],
    grid: Sequence[float],
    freq: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``forecast`` with the adjustments applied: ``mean`` and the quantile columns become
    the plan, ``statistical`` keeps the model's mean and ``adjustments`` names the ids that
    changed each row (space-separated). Also returns the adjustments that did not apply,
    with the reason (``orphaned`` of :func:`apply_adjustments`).

    Raises :class:`ConfigError` when the frame is not a hierarchy forecast."""
    if "level" not in forecast.columns or ":" not in str(forecast["series_id"].iloc[0]):
        raise ConfigError(
            "--adjusted needs a hierarchy forecast: build the series with `ordercast series "
            "--levels 'sku,site;sku;site;total'` so adjustments can be spread and re-added"
        )
    names = list(dict.fromkeys(forecast["level"].astype(str)))
    levels = [() if name == "total" else tuple(name.split(",")) for name in names]
    grid = sorted(grid)
    statistical = build_serving_model(forecast, pd.DataFrame(), levels, freq, grid)
    first = pd.Timestamp(pd.to_datetime(forecast["ds"]).min())
    result = apply_adjustments(statistical, active(adjustments, first))
    plan = result.model.to_frame(grid).rename(columns={"lag": "_lag"})
    plan["ds"] = pd.to_datetime(plan["ds"])
    columns = ["mean", *(quantile_column(q) for q in grid)]
    out = forecast.copy()
    out["ds"] = pd.to_datetime(out["ds"])
    merged = out[["series_id", "ds"]].merge(
        plan[["series_id", "ds", *columns]], on=["series_id", "ds"], how="left", validate="1:1"
    )
    out.insert(list(out.columns).index("mean"), "statistical", out["mean"].to_numpy(float))
    for column in columns:
        out[column] = merged[column].to_numpy(float)
    changed = ~np.isclose(out["mean"].to_numpy(float), out["statistical"].to_numpy(float))
    ids = [""] * len(out)
    full_ids, dates = out["series_id"].astype(str).tolist(), list(out["ds"])
    for row in np.flatnonzero(changed).tolist():
        level, _, series_id = full_ids[row].partition(":")
        ids[row] = " ".join(result.touching(level, series_id, pd.Timestamp(dates[row])))
    out["adjustments"] = ids
    return out, result.orphaned
