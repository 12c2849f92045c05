"""Forecast value added (FVA) of planner adjustments: did the change beat the statistics?

Input: the ``applied`` frame of :func:`forecasting.demand.adjustments.apply_adjustments`
(one row per adjustment and period of its own series: ``adjustment_id, level,
series_id, ds, statistical, adjusted, author, reason_code``) and actuals ``level,
series_id, ds, y``, joined on ``level, series_id, ds``. Only periods with an actual
count; an adjustment with none yet is left out. For forecast f and actual y over an
adjustment's periods (``periods`` of them):

* absolute error ``sum |f - y|`` (units);
* WAPE ``sum |f - y| / sum y`` (NaN when the actuals sum to 0);
* bias ``sum (f - y) / sum y`` (positive: over-forecast; NaN when they sum to 0);
* ``fva = wape_statistical - wape_adjusted``: positive means the adjustment helped;
* ``helped``: the adjusted absolute error is below the statistical one (the same as
  ``fva > 0`` whenever the actuals do not sum to 0, and still decided when they do).

The summary groups adjustments by ``reason_code`` (missing: ``"(none)"``), ``author``
and ``level``, plus one ``all`` row: ``adjustments, helped, share_helped`` and the
errors pooled over the group's rows (WAPE = pooled absolute error / pooled actuals).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.typing import DataFrameGroupBy

from forecasting.errors import ConfigError

KEYS = ["level", "series_id", "ds"]
APPLIED_COLUMNS = ["adjustment_id", *KEYS, "statistical", "adjusted", "author", "reason_code"]
ACTUAL_COLUMNS = [*KEYS, "y"]
GROUPS = ("reason_code", "author", "level")


class ForecastValueAdded(NamedTuple):
    """Per adjustment, and by reason code / author / level."""

    per_adjustment: pd.DataFrame
    summary: pd.DataFrame


def forecast_value_added(applied: pd.DataFrame, actuals: pd.DataFrame) -> ForecastValueAdded:
    """FVA per adjustment and by group, by the definitions of this module.

    ``per_adjustment``: ``adjustment_id, author, reason_code, level, periods, actual,
    abs_error_statistical, abs_error_adjusted, wape_statistical, wape_adjusted,
    bias_statistical, bias_adjusted, fva, helped``. ``summary``: ``group_by, group,
    adjustments, helped, share_helped, actual, abs_error_*, wape_*, bias_*, fva``.
    Raises :class:`ConfigError` for a missing column or an actual given twice.
    """
    _require(applied, APPLIED_COLUMNS, "applied adjustments")
    _require(actuals, ACTUAL_COLUMNS, "actuals")
    duplicated = actuals.duplicated(KEYS)
    if duplicated.any():
        row = actuals.loc[duplicated, KEYS].iloc[0]
        raise ConfigError(
            f"actuals: {row['level']} '{row['series_id']}' on {pd.Timestamp(row['ds']).date()} "
            "is given more than once; give one actual per series and period"
        )
    rows = applied[APPLIED_COLUMNS].copy()
    rows["ds"] = pd.to_datetime(rows["ds"])
    rows["reason_code"] = rows["reason_code"].fillna("(none)")
    facts = actuals[ACTUAL_COLUMNS].assign(ds=pd.to_datetime(actuals["ds"]))
    rows = rows.merge(facts, on=KEYS, how="inner", validate="many_to_one")
    for name in ("statistical", "adjusted"):
        error = rows[name].astype(float) - rows["y"].astype(float)
        rows[f"abs_error_{name}"] = error.abs()
        rows[f"error_{name}"] = error
    per = _errors(rows.groupby("adjustment_id", sort=False), first=("author", "reason_code"))
    per["level"] = rows.groupby("adjustment_id", sort=False)["level"].first()
    per["helped"] = per["abs_error_adjusted"] < per["abs_error_statistical"]
    per = per.reset_index()
    order = ["adjustment_id", "author", "reason_code", "level", "periods", "actual"]
    per = per[order + [c for c in per.columns if c not in order]]
    return ForecastValueAdded(per, _summary(rows, per))


def _errors(grouped: DataFrameGroupBy, first: tuple[str, ...] = ()) -> pd.DataFrame:
    sums = grouped[["y", "abs_error_statistical", "abs_error_adjusted"]].sum()
    bias = grouped[["error_statistical", "error_adjusted"]].sum()
    out = pd.DataFrame(index=sums.index)
    for name in first:
        out[name] = grouped[name].first()
    out["periods"] = grouped.size()
    out["actual"] = sums["y"]
    total = sums["y"].where(sums["y"] != 0, np.nan)
    for name in ("statistical", "adjusted"):
        out[f"abs_error_{name}"] = sums[f"abs_error_{name}"]
    for name in ("statistical", "adjusted"):
        out[f"wape_{name}"] = sums[f"abs_error_{name}"] / total
    for name in ("statistical", "adjusted"):
        out[f"bias_{name}"] = bias[f"error_{name}"] / total
    out["fva"] = out["wape_statistical"] - out["wape_adjusted"]
    return out


def _summary(rows: pd.DataFrame, per: pd.DataFrame) -> pd.DataFrame:
    helped = per.set_index("adjustment_id")["helped"]
    rows = rows.assign(all="all")
    parts = []
    for by in (*GROUPS, "all"):
        grouped = rows.groupby(by, sort=True)
        errors = _errors(grouped).drop(columns="periods")
        members = rows[[by, "adjustment_id"]].drop_duplicates()
        members = members.assign(helped=members["adjustment_id"].map(helped))
        counts = members.groupby(by, sort=True)["helped"].agg(["size", "sum"])
        errors.insert(0, "adjustments", counts["size"])
        errors.insert(1, "helped", counts["sum"].astype(int))
        errors.insert(2, "share_helped", counts["sum"] / counts["size"])
        parts.append(errors.rename_axis("group").reset_index().assign(group_by=by))
    summary = pd.concat(parts, ignore_index=True)
    return summary[["group_by", *[c for c in summary.columns if c != "group_by"]]]


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what}: no column(s) {', '.join(missing)}; need {', '.join(columns)}")
