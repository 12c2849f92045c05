"""Planner adjustments on a served demand forecast, coherent at every level (issue #18).

An :class:`Adjustment` names one series of one level (``level`` name, ``series_id`` in
it), an inclusive range of period labels (the served ``ds``) and a change *per period*:
``set`` the value, ``add`` units, or change by ``percent`` (-100 or more). It is stored
against series and periods, never a model version: :func:`apply_adjustments` re-applies
it to whatever statistical forecast is served, and reports it in ``orphaned`` when its
series or periods are gone. Pass only :func:`active` adjustments (expired ones orphan).

The rules, as applied:

1. Order: the bottom level (the one with every key) first, then the upper levels from
   finest to coarsest (more keys first; ties in the model's level order, e.g. ``sku``
   before ``site``); within a level by ``created_at``, then ``id``. Each adjustment
   acts on the result of those before it.
2. Target: the series' current value in each period (an upper series: the sum of its
   bottom series, earlier adjustments included) becomes ``value`` (set), current +
   ``value`` (add) or current x (1 + ``value``/100) (percent).
3. Spread: the change (new - current) goes to the bottom series under the target in the
   shares of ``split`` when given, else in proportion to their current values (negative
   ones counted as zero), else in equal shares when those are all zero.
4. Re-adding: an upper series is the sum of its bottom series in every period an
   adjustment reached, so the levels add up; elsewhere it keeps its statistical value
   bit for bit (applying no adjustment returns the statistical forecast exactly).
5. Quantiles, per series and changed period: the statistical quantiles times
   adjusted/statistical mean when the statistical mean is > 0 (the band keeps its
   relative width; a set moves the whole distribution), else shifted by adjusted -
   statistical; then clipped at 0 and sorted across the grid.
6. An adjustment that would make any value negative is not applied (``orphaned``);
   :func:`check_adjustment` refuses it, and every other bad input, at entry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from forecasting.demand.hierarchy_index import HierarchyIndex, hierarchy_index
from forecasting.demand.serving import DemandServingModel
from forecasting.errors import AdjustmentError, UnknownSeriesError

Kind = Literal["set", "add", "percent"]
KINDS: tuple[str, ...] = ("set", "add", "percent")
REASON_CODES: tuple[str, ...] = (
    "promotion",
    "customer commitment",
    "supply constraint",
    "new product",
    "other",
)
SPLIT_TOLERANCE = 1e-6


@dataclass(frozen=True, kw_only=True)
class Adjustment:
    """One planner change; ``split`` maps bottom series id -> share (summing to 1)."""

    id: str
    level: str
    series_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    kind: Kind
    value: float
    author: str
    reason: str
    reason_code: str | None = None
    split: Mapping[str, float] | None = None
    created_at: pd.Timestamp

    def __post_init__(self) -> None:
        for name in ("start", "end", "created_at"):  # ISO text from a store or a request
            object.__setattr__(self, name, pd.Timestamp(getattr(self, name)))

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Adjustment:
        """An adjustment from a stored row or an API record (the same field names; missing
        reason codes and splits as None or NaN)."""
        code, split = record.get("reason_code"), record.get("split")
        return cls(
            id=str(record["id"]),
            level=str(record["level"]),
            series_id=str(record["series_id"]),
            start=record["start"],
            end=record["end"],
            kind=record["kind"],
            value=float(record["value"]),
            author=str(record["author"]),
            reason=str(record["reason"]),
            reason_code=str(code) if isinstance(code, str) else None,
            split=split if isinstance(split, dict) else None,
            created_at=record["created_at"],
        )


def active(adjustments: Sequence[Adjustment], today: pd.Timestamp) -> list[Adjustment]:
    """The adjustments not expired: those ending on or after ``today`` (pass the first
    served period, so a period still being forecast is not expired early)."""
    cut = pd.Timestamp(today)
    return [a for a in adjustments if a.end >= cut]


def check_adjustment(
    model: DemandServingModel,
    adjustment: Adjustment,
    existing: Sequence[Adjustment] = (),
    reason_codes: Sequence[str] = REASON_CODES,
) -> AdjustedForecast:
    """Refuse a bad adjustment before it is stored, naming the field in the message; for a
    good one, the forecast with it and the active ``existing`` ones applied (the check
    applies them anyway: a caller need not apply them again).

    Raises :class:`UnknownSeriesError` for a series the level does not have, and
    :class:`AdjustmentError` (``.field``) for: an empty id, author or reason; a reason
    code not in ``reason_codes``; an unknown kind or level; a value that is not a number,
    a negative set or a percentage below -100; start after end; a period outside the
    served horizon; a split that is not shares of bottom series under the target summing
    to 1; an overlap with an active adjustment of the same author on the same series and
    periods; a result that would go negative, or make an ``existing`` one inapplicable.
    ``existing``: the stored adjustments; expired ones and one with the same id (an
    edit replaces it) are ignored.
    """
    a = adjustment
    for name in ("id", "author", "reason"):
        if not str(getattr(a, name)).strip():
            raise AdjustmentError(name, "is required and must not be empty")
    if a.reason_code is not None and a.reason_code not in reason_codes:
        raise AdjustmentError(
            "reason_code", f"'{a.reason_code}' is not one of: {', '.join(reason_codes)}"
        )
    if a.kind not in KINDS:
        raise AdjustmentError("kind", f"'{a.kind}' is not one of: {', '.join(KINDS)}")
    if not math.isfinite(a.value):
        raise AdjustmentError("value", f"{a.value} is not a number")
    if a.kind == "percent" and a.value < -100:
        raise AdjustmentError("value", f"{a.value:g}% is below -100%: demand cannot go negative")
    if a.kind == "set" and a.value < 0:
        raise AdjustmentError("value", f"cannot set a negative forecast ({a.value:g})")
    if a.start > a.end:
        raise AdjustmentError("start", f"{a.start.date()} is after end {a.end.date()}")
    index = hierarchy_index(model)
    if a.level not in index.children:
        raise AdjustmentError("level", f"'{a.level}' is not one of: {', '.join(index.order)}")
    if a.series_id not in index.children[a.level]:
        raise UnknownSeriesError(f"series_id: no series '{a.series_id}' in level '{a.level}'")
    if a.end > index.dates[-1]:
        raise AdjustmentError("end", f"{a.end.date()} is beyond the horizon ({index.span})")
    if a.start < index.dates[0]:
        raise AdjustmentError(
            "start", f"{a.start.date()} is before the first served period ({index.span})"
        )
    if not ((index.dates >= a.start) & (index.dates <= a.end)).any():
        raise AdjustmentError("start", f"no period label falls in the range ({index.span})")
    if a.split is not None:
        _check_split(index, a, a.split)
    others = [o for o in active(existing, index.dates[0]) if o.id != a.id]
    for o in others:
        same = (o.author, o.level, o.series_id) == (a.author, a.level, a.series_id)
        if same and o.start <= a.end and a.start <= o.end:
            raise AdjustmentError(
                "start/end",
                f"{a.author} already adjusts '{a.series_id}' over {o.start.date()}–"
                f"{o.end.date()} (adjustment {o.id}): edit or revoke it rather than overlap it",
            )
    return _check_result(model, a, others)


def _check_split(index: HierarchyIndex, a: Adjustment, split: Mapping[str, float]) -> None:
    if a.level == index.bottom:
        raise AdjustmentError("split", f"a '{a.level}' series has no series below to split to")
    under = {index.bottom_ids[r] for r in index.children[a.level][a.series_id]}
    for child, share in split.items():
        if child not in under:
            raise AdjustmentError("split", f"'{child}' is not a series under '{a.series_id}'")
        if not math.isfinite(share) or share < 0:
            raise AdjustmentError("split", f"the share of '{child}' ({share}) is not >= 0")
    total = float(sum(split.values()))
    if abs(total - 1) > SPLIT_TOLERANCE:
        raise AdjustmentError("split", f"the shares sum to {total:g}, not 1")


def _check_result(
    model: DemandServingModel, a: Adjustment, others: list[Adjustment]
) -> AdjustedForecast:
    result = apply_adjustments(model, [*others, a])
    orphaned = result.orphaned
    problems = dict(zip(orphaned["adjustment_id"], orphaned["problem"], strict=True))
    if a.id in problems:
        raise AdjustmentError("value", problems[a.id])
    if problems:
        already = set(apply_adjustments(model, others).orphaned["adjustment_id"])
        for other, problem in problems.items():
            if other not in already:
                raise AdjustmentError(
                    "value", f"adjustment {other} would then no longer apply: it {problem}"
                )
    return result


@dataclass(frozen=True)
class _Applied:
    adjustment: Adjustment
    rows: np.ndarray  # bottom series positions under the target
    cols: np.ndarray  # period positions adjusted
    before: np.ndarray  # target value per period before / after this adjustment
    after: np.ndarray


@dataclass(frozen=True)
class AdjustedForecast:
    """The result of :func:`apply_adjustments`.

    ``model``: the adjusted forecasts, same levels, grid and dates as ``statistical``.
    ``applied``: one row per adjustment and period of its own series: ``adjustment_id,
    level, series_id, ds, kind, author, reason_code, statistical, before, after,
    adjusted`` (before/after: that series just before/after this adjustment in the
    order; adjusted: its final served value). ``orphaned``: ``adjustment_id, level,
    series_id, start, end, author, problem`` for adjustments not applied.
    """

    statistical: DemandServingModel
    model: DemandServingModel
    applied: pd.DataFrame
    orphaned: pd.DataFrame
    index: HierarchyIndex = field(repr=False)
    reach: sp.csc_matrix = field(repr=False)  # applied adjustment x bottom series
    periods: np.ndarray = field(repr=False)  # applied adjustment x period: adjusted?
    applied_ids: tuple[str, ...] = field(repr=False)

    def touching(self, level: str, series_id: str, ds: pd.Timestamp | None = None) -> list[str]:
        """Ids of the applied adjustments that change this series (in ``ds`` when given):
        those on it, on a series above it, or on a series below or beside it that shares
        bottom series with it. In application order."""
        rows = self.index.rows(level, series_id)
        hit = np.asarray(self.reach[:, rows].sum(axis=1)).ravel() > 0
        if ds is not None:
            at = np.flatnonzero(self.index.dates == pd.Timestamp(ds))
            hit &= self.periods[:, at[0]] if len(at) else False
        return [self.applied_ids[k] for k in np.flatnonzero(hit)]

    def points(self, level: str, series_id: str) -> pd.DataFrame:
        """``ds, statistical, adjusted, adjustments`` (ids applying at that point)."""
        self.index.rows(level, series_id)  # raises for an unknown series
        touching = self.touching(level, series_id)
        position = {i: k for k, i in enumerate(self.applied_ids)}
        return pd.DataFrame(
            {
                "ds": self.index.dates,
                "statistical": self.statistical.paths[level][series_id].mean,
                "adjusted": self.model.paths[level][series_id].mean,
                "adjustments": [
                    [i for i in touching if self.periods[position[i], j]]
                    for j in range(len(self.index.dates))
                ],
            }
        )


def apply_adjustments(
    model: DemandServingModel, adjustments: Sequence[Adjustment]
) -> AdjustedForecast:
    """Apply ``adjustments`` to ``model`` by the rules of this module; never raises for
    an adjustment that no longer fits the model (it is reported in ``orphaned``)."""
    index = hierarchy_index(model)
    statistical = index.bottom_means(model)
    current = statistical.copy()
    rank = {name: i for i, name in enumerate(index.order)}
    ordered = sorted(adjustments, key=lambda a: (rank.get(a.level, len(rank)), a.created_at, a.id))
    done: list[_Applied] = []
    orphans: list[tuple[Adjustment, str]] = []
    for adjustment in ordered:
        outcome = _apply_one(index, current, adjustment)
        if isinstance(outcome, str):
            orphans.append((adjustment, outcome))
        else:
            done.append(outcome)
    adjusted = index.rebuild(model, statistical, current)
    n_periods = len(index.dates)
    periods = np.zeros((len(done), n_periods), dtype=bool)
    for k, d in enumerate(done):
        periods[k, d.cols] = True
    owner = np.repeat(np.arange(len(done)), [len(d.rows) for d in done])
    rows = np.concatenate([d.rows for d in done]) if done else np.zeros(0, dtype=np.int64)
    reach = sp.csc_matrix(
        (np.ones(len(rows), dtype=np.int8), (owner, rows)),
        shape=(len(done), len(index.bottom_ids)),
    )
    return AdjustedForecast(
        statistical=model,
        model=adjusted,
        applied=_applied_frame(model, adjusted, index.dates, done),
        orphaned=pd.DataFrame(
            [
                (a.id, a.level, a.series_id, a.start, a.end, a.author, problem)
                for a, problem in orphans
            ],
            columns=["adjustment_id", "level", "series_id", "start", "end", "author", "problem"],
        ),
        index=index,
        reach=reach,
        periods=periods,
        applied_ids=tuple(d.adjustment.id for d in done),
    )


def _apply_one(index: HierarchyIndex, current: np.ndarray, a: Adjustment) -> _Applied | str:
    """Apply ``a`` to ``current`` (bottom means, in place), or say why it cannot apply."""
    located = _locate(index, a)
    if isinstance(located, str):
        return located
    rows, cols, weights = located
    block = current[np.ix_(rows, cols)]
    before = block.sum(axis=0)
    if a.kind == "set":
        after = np.full(len(cols), float(a.value))
    elif a.kind == "add":
        after = before + a.value
    else:
        after = before * (1 + a.value / 100)
    problem = index.spread(current, rows, cols, after - before, weights)
    if problem is not None:
        return problem
    return _Applied(a, rows, cols, before, after)


def _locate(
    index: HierarchyIndex, a: Adjustment
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | str:
    """Bottom rows, period columns and split weights of ``a``, or why it does not fit."""
    if a.kind not in KINDS or not math.isfinite(a.value):
        return f"kind '{a.kind}' with value {a.value} is not a valid change"
    if a.level not in index.children:
        return f"level '{a.level}' is not in this model (levels: {', '.join(index.order)})"
    rows = index.children[a.level].get(a.series_id)
    if rows is None:
        return f"series '{a.series_id}' is no longer in level '{a.level}'"
    # int64 compares: a DatetimeIndex compare costs ~50 µs, a thousand of them add up.
    stamps = np.asarray(index.dates, dtype="datetime64[ns]").view(np.int64)
    cols = np.flatnonzero((stamps >= a.start.value) & (stamps <= a.end.value))
    if not len(cols):
        return f"none of its periods {a.start.date()}–{a.end.date()} is served ({index.span})"
    if a.split is None:
        return rows, cols, None
    position = {index.bottom_ids[r]: k for k, r in enumerate(rows)}
    weights = np.zeros(len(rows))
    for child, share in a.split.items():
        if child not in position:
            return f"its split names '{child}', not a bottom series under '{a.series_id}'"
        weights[position[child]] = share
    if not weights.sum() > 0:  # also NaN: a split only check_adjustment would refuse
        return f"its split shares {dict(a.split)} do not sum to a positive number"
    return rows, cols, weights / weights.sum()


def _applied_frame(
    statistical: DemandServingModel,
    adjusted: DemandServingModel,
    dates: pd.DatetimeIndex,
    done: Sequence[_Applied],
) -> pd.DataFrame:
    # Built column-wise: a frame per adjustment costs ~1 ms each, too slow for thousands.
    sizes = [len(d.cols) for d in done]
    text = {"adjustment_id": "id", "level": "level", "series_id": "series_id", "kind": "kind"}
    text |= {"author": "author", "reason_code": "reason_code"}
    out: dict[str, object] = {
        name: np.repeat(np.array([getattr(d.adjustment, f) for d in done], dtype=object), sizes)
        for name, f in text.items()
    }
    out["ds"] = dates[np.concatenate([d.cols for d in done])] if done else dates[:0]

    def values(part: Callable[[_Applied], np.ndarray]) -> np.ndarray:
        return np.concatenate([part(d) for d in done]) if done else np.zeros(0)

    def served(model: DemandServingModel) -> Callable[[_Applied], np.ndarray]:
        return lambda d: model.paths[d.adjustment.level][d.adjustment.series_id].mean[d.cols]

    out["statistical"] = values(served(statistical))
    out["before"] = values(lambda d: d.before)
    out["after"] = values(lambda d: d.after)
    out["adjusted"] = values(served(adjusted))
    columns = ["adjustment_id", "level", "series_id", "ds", "kind", "author", "reason_code"]
    return pd.DataFrame(out)[[*columns, "statistical", "before", "after", "adjusted"]]
