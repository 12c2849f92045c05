"""What the demand page shows: a series picker over every served series, and one series'
history, forecast band, statistical and adjusted lines.

The forecast comes from the demand endpoint's own ``demand_body`` (adjustments applied as
the API applies them); the history is the actuals the accuracy check scores against
(``forecasting.accuracy.series_actuals``), so page, API and accuracy agree.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from api.adjusted_demand import Adjusted
from api.model_store import LoadedModel
from api.routes.forecasts import DemandRequest, demand_body
from forecasting.cores import DemandCore
from forecasting.demand.serving import DemandServingModel
from forecasting.queries import chance_text
from forecasting.series import KEY_SEPARATOR, TOTAL_ID

MAX_MATCHES = 50  # the picker shows this many; typing more narrows it
HISTORY_PERIODS = 52  # a year of weekly history before the forecast
BAND = (0.1, 0.9)  # the band drawn around the forecast: P10 to P90


@dataclass(frozen=True)
class SeriesRef:
    """One served series: its level ('sku,site', 'site', 'total') and id ('SKU-1|SITE-A')."""

    level: str
    series_id: str

    @property
    def label(self) -> str:
        if self.series_id == TOTAL_ID:
            return "Total (all SKUs and sites)"
        keys = self.level.split(",")
        parts = self.series_id.split(KEY_SEPARATOR)
        return " · ".join(f"{k} {v}" for k, v in zip(keys, parts, strict=False))

    def request_keys(self) -> dict[str, str | None]:
        """The demand request's fields naming this series: its keys, or the level."""
        if self.series_id == TOTAL_ID or self.level == "total":
            return {"level": self.level}
        keys = self.level.split(",")
        values = self.series_id.split(KEY_SEPARATOR)
        return dict(zip(keys, values, strict=True)) if len(keys) == len(values) else {}


class SeriesIndex:
    """Every served series with a lower-cased search text; a linear scan with an early stop
    answers a keystroke over 10,000 series in ~10 ms even on a busy 2-core machine
    (tests/web/test_series_search.py prints it), so no prefix tree is needed."""

    def __init__(self, refs: list[SeriesRef]) -> None:
        self._refs = refs
        self._texts = [f"{r.level} {r.series_id} {r.label}".lower() for r in refs]
        self._known = set(refs)

    @classmethod
    def of(cls, core: DemandCore) -> SeriesIndex:
        if not isinstance(core, DemandServingModel):
            return cls([])
        # Roll-ups first (fewest series, the usual starting point), then the bottom level.
        levels = sorted(core.paths, key=lambda name: len(core.paths[name]))
        refs = [SeriesRef(level, sid) for level in levels for sid in sorted(core.paths[level])]
        return cls(refs)

    def __len__(self) -> int:
        return len(self._refs)

    def first(self) -> SeriesRef | None:
        return self._refs[0] if self._refs else None

    def search(self, query: str, limit: int = MAX_MATCHES) -> list[SeriesRef]:
        """Series whose level, id or label contain every word of ``query`` (any case)."""
        words = query.lower().split()
        found = []
        for ref, text in zip(self._refs, self._texts, strict=True):
            if all(word in text for word in words):
                found.append(ref)
                if len(found) >= limit:
                    break
        return found

    def find(self, level: str, series_id: str) -> SeriesRef | None:
        ref = SeriesRef(level, series_id)
        return ref if ref in self._known else None


def backtest_score(core: DemandCore, ref: SeriesRef) -> float | None:
    """The chosen model's mean backtest score for the series (lower is better), when the
    training recorded one."""
    if not isinstance(core, DemandServingModel) or "score" not in core.selection.columns:
        return None
    selection = core.selection
    rows = selection[selection["series_id"].astype(str) == f"{ref.level}:{ref.series_id}"]
    if rows.empty:
        return None
    value = float(rows["score"].iloc[0])
    return value if math.isfinite(value) else None


def chart_data(
    loaded: LoadedModel[DemandCore],
    ref: SeriesRef,
    adjusted: Adjusted | None,
    actuals: pd.DataFrame,
    published: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The series' chart as JSON-able columns on one time axis: ``ds`` (ISO dates),
    ``actual`` (history), ``statistical``, ``adjusted``, ``p10``, ``p90`` (forecast),
    ``published`` (the forecast published one period before each period: what the plan
    said, against what happened), None where a column has no value; with the model, the
    chance the item is still ordered where the forecast is weighed by it, version,
    frequency and warnings."""
    request = DemandRequest(
        **ref.request_keys(),
        horizon=loaded.core.max_horizon,
        quantiles=list(BAND),
    )
    answer = json.loads(demand_body(loaded, request, adjusted))
    points = answer["points"]
    history = actuals[actuals["series_id"] == f"{ref.level}:{ref.series_id}"]
    history = history.sort_values("ds").tail(HISTORY_PERIODS)
    past = pd.DatetimeIndex(history["ds"]).strftime("%Y-%m-%d").tolist()
    ahead = [p["ds"] for p in points]
    said: dict[str, float] = {}
    if published is not None and len(past):
        mine = published[published["series_id"] == f"{ref.level}:{ref.series_id}"]
        mine = mine[mine["ds"] >= pd.Timestamp(past[0])]
        days = pd.DatetimeIndex(mine["ds"]).strftime("%Y-%m-%d").tolist()
        said = dict(zip(days, mine["mean"].to_numpy(float).tolist(), strict=True))
    ds = sorted(set(past) | set(ahead) | set(said))
    actual = dict(zip(past, history["y"].to_numpy(float).tolist(), strict=True))
    by_day = {p["ds"]: p for p in points}
    low, high = (f"{q:g}" for q in BAND)

    def column(pick: Any) -> list[float | None]:
        return [None if d not in by_day else _finite(pick(by_day[d])) for d in ds]

    return {
        "level": ref.level,
        "series_id": ref.series_id,
        "label": ref.label,
        "model": answer["model"],
        "alive": None if answer["alive"] is None else chance_text(answer["alive"]),
        "model_version": answer["model_version"],
        "freq": answer["freq"],
        "warnings": answer["warnings"],
        "backtest_score": backtest_score(loaded.core, ref),
        "ds": ds,
        "actual": [_finite(actual[d]) if d in actual else None for d in ds],
        "statistical": column(lambda p: p["statistical"]),
        "adjusted": column(lambda p: p["mean"]),
        "p10": column(lambda p: p["quantiles"][low]),
        "p90": column(lambda p: p["quantiles"][high]),
        "adjustments": column(lambda p: float(len(p["adjustments"]))),
        "published": [_finite(said[d]) if d in said else None for d in ds],
    }


def chart_csv(data: dict[str, Any]) -> str:
    """The chart's table as CSV, one row per period."""
    frame = pd.DataFrame(
        {
            "ds": data["ds"],
            "actual": data["actual"],
            "statistical": data["statistical"],
            "adjusted": data["adjusted"],
            "p10": data["p10"],
            "p90": data["p90"],
            "published_lag1": data["published"],
        }
    )
    frame.insert(0, "series_id", data["series_id"])
    frame.insert(0, "level", data["level"])
    return frame.to_csv(index=False, float_format="%.4f")


def period_unit(freq: str) -> str:
    """'week' for 'W-SUN', 'day' for 'D': the chart's y-axis unit is units per period."""
    head = freq.split("-")[0].rstrip("0123456789").upper()
    return {"W": "week", "D": "day", "B": "business day", "MS": "month", "ME": "month"}.get(
        head, "period"
    )


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None
