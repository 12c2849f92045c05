"""Asking a served model: one query per kind, answered one way.

The HTTP routes (``api/routes``) and the MLflow pyfuncs (``training/pyfunc.py``) each
read their own input (a JSON body, a request frame) into the queries below and get
their answer from the functions here, so both ways of asking a model check the same
things, call the core the same way and give the same numbers and the same errors.
Pure: frames and domain errors out, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from forecasting.capacity.compare import SHORTFALL_THRESHOLD, compare_outlooks
from forecasting.capacity.scenario import (
    CapacityScenario,
    check_scenario,
    parse_scenario,
)
from forecasting.cores import CapacityCore, DemandCore, RiskCore
from forecasting.errors import (
    ConfigError,
    ContractIssue,
    DataContractError,
    HorizonError,
    OrdercastError,
)
from forecasting.risk.line_status import (
    DELIVERED_BEFORE_AS_OF,
    NO_SCORE,
    SCORED,
    UNKNOWN_SITE,
    line_status,
    unknown_site_reason,
)
from forecasting.risk.model import OUTPUT_COLUMNS as RISK_OUTPUT_COLUMNS

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


def quantile_levels(levels: Iterable[float]) -> tuple[float, ...]:
    """Quantile levels as a model answers them: ascending, unique, to 4 decimals.

    Levels closer than 0.0001 would share a forecast column, so they count as one (a
    demand model then refuses any outside its trained grid). Raises :class:`ConfigError`
    for no level, or one not strictly between 0 and 1.
    """
    values = tuple(float(q) for q in levels)
    if not values:
        raise ConfigError("quantiles: give at least one level, e.g. 0.1,0.5,0.9")
    for q in values:
        if not 0 < q < 1:  # NaN fails too
            raise ConfigError(f"quantile level {q:g} is not strictly between 0 and 1")
    return tuple(sorted({min(max(round(q, 4), 0.0001), 0.9999) for q in values}))


def check_horizon(horizon: int, limit: int) -> None:
    """Raise :class:`HorizonError` carrying ``max_horizon`` unless 1 <= horizon <= limit."""
    if not 1 <= horizon <= limit:
        error = HorizonError(f"horizon {horizon} is outside what this model serves: 1 to {limit}")
        error.max_horizon = limit  # type: ignore[attr-defined]  # read by the API's 422 body
        raise error


# ----------------------------------------------------------------------------- demand


@dataclass(frozen=True)
class DemandQuery:
    """One series (by keys, or a roll-up level by name), a horizon in periods (None: the
    longest the model serves) and quantile levels."""

    sku: str | None = None
    site: str | None = None
    channel: str | None = None
    level: str | None = None
    horizon: int | None = None
    quantiles: Sequence[float] = DEFAULT_QUANTILES


@dataclass(frozen=True)
class DemandAnswer:
    """The level answered (e.g. ``"sku,site"``), the quantile levels answered (ascending,
    one ``q..`` column each, in that order) and the forecast rows ``series_id, ds, model,
    fallback, mean, q..`` plus the key columns, one row per period; ``fallback`` says why
    the series' model is a rule-based one (None when the backtest chose it),
    ``warnings`` what a caller should know before using the numbers and ``alive`` the
    chance the series is still ordered where its forecast is weighed by it (None where
    it is not: :mod:`forecasting.demand.obsolescence`)."""

    level: str
    quantiles: tuple[float, ...]
    frame: pd.DataFrame
    fallback: str | None = None
    warnings: tuple[str, ...] = ()
    alive: float | None = None


# Below this chance of still being ordered the forecast is less than four fifths of the
# item's rate, a cut a planner should know of before publishing it (a reading aid, not a
# tuned parameter: the weighing itself is the model's).
ALIVE_WARNING = 0.8


def alive_warning(series_id: str, alive: float) -> str:
    """The warning for a forecast cut by the chance its item is no longer ordered."""
    # Not "its mean is that share of its rate": reconciliation across levels may move it.
    return (
        f"series {series_id}'s model weighs its forecast by a {chance_text(alive)} chance "
        "that it is still ordered at all, judged from how long it has gone without demand "
        "against how often it sold and how often items of its class stop selling; check that "
        "the item is still sold before publishing"
    )


def chance_text(chance: float) -> str:
    """A chance as people read it: whole percents, '<1%' and '>99%' at the ends (where
    rounding could say 0% or 100%, which a probability model never means)."""
    if chance < 0.01:
        return "<1%"
    if chance > 0.99:
        return ">99%"
    return f"{chance:.0%}"


def fallback_warning(series_id: str, model: str, reason: str) -> str:
    """The warning for a series whose forecast comes from a rule, not a backtested model."""
    return (
        f"series {series_id} is forecast by {model}, a rule-based fallback, not by a model "
        f"chosen by backtest: {reason}"
    )


def answer_demand(core: DemandCore, query: DemandQuery) -> DemandAnswer:
    """The forecast ``query`` asks for.

    Raises :class:`HorizonError` (with ``max_horizon``) for a horizon the model does not
    serve, :class:`UnknownSeriesError` naming an unknown SKU, site or channel, and
    :class:`ConfigError` for a level the model does not have (naming those it has), a
    named level's keys missing, or a quantile that is invalid or outside the model's
    trained grid (naming the grid).
    """
    limit = core.max_horizon
    horizon = limit if query.horizon is None else query.horizon
    check_horizon(horizon, limit)
    quantiles = quantile_levels(query.quantiles)
    level, keys = core.level_for(query.sku, query.site, query.channel, query.level)
    given = {"sku": query.sku, "site": query.site, "channel": query.channel}
    missing = [key for key in keys if given.get(key) is None]
    if missing:
        raise ConfigError(f"level '{level}' needs {', '.join(missing)} in the request")
    ignored = [key for key, value in given.items() if value is not None and key not in keys]
    if ignored:  # e.g. level 'site' with a sku: the answer would not be for that SKU
        raise ConfigError(
            f"level '{level}' is keyed by {', '.join(keys) or 'nothing (the total)'}; "
            f"drop {', '.join(ignored)} from the request or ask for a level that has it"
        )
    frame = core.forecast(
        sku=query.sku,
        site=query.site,
        channel=query.channel,
        level=query.level,
        horizon=horizon,
        quantiles=quantiles,
    )
    reason = _first(frame, "fallback")
    series_id, model = (str(frame[c].iloc[0]) for c in ("series_id", "model"))
    notes: list[str] = []
    if reason is not None:
        notes.append(fallback_warning(series_id, model, reason))
    chance = _first_number(frame, "alive")
    if chance is not None and chance < ALIVE_WARNING:
        notes.append(alive_warning(series_id, chance))
    return DemandAnswer(level, quantiles, frame, reason, tuple(notes), chance)


def _first_number(frame: pd.DataFrame, column: str) -> float | None:
    """The column's first value as a number; None when absent, empty or NaN."""
    value = _first_value(frame, column)
    return None if value is None else float(value)


def _first(frame: pd.DataFrame, column: str) -> str | None:
    """The column's first value as text; None when the frame lacks it or it is empty."""
    value = _first_value(frame, column)
    return None if value is None else str(value)


def _first_value(frame: pd.DataFrame, column: str) -> Any:
    """The column's first value; None when the frame lacks it, is empty or it is NaN."""
    if column not in frame.columns or frame.empty:
        return None
    value = frame[column].iloc[0]
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


# --------------------------------------------------------------------------- capacity


@dataclass(frozen=True)
class CapacityQuery:
    """A horizon in days, the sites (None: every site) and an optional what-if scenario."""

    horizon: int
    sites: Sequence[str] | None = None
    scenario: Mapping[str, Any] | CapacityScenario | None = None


def answer_capacity(core: CapacityCore, query: CapacityQuery) -> pd.DataFrame:
    """The outlook ``query`` asks for: one row per site (each once, in the order asked)
    and day.

    The scenario is read into :class:`CapacityScenario` here, whichever way it came, and
    the core gets its fields (``as_mapping``). Raises :class:`HorizonError` (with
    ``max_horizon``), :class:`UnknownSeriesError` for an unknown site (asked for, or in
    the scenario), :class:`ConfigError` for an invalid scenario and
    :class:`OrdercastError` for one the model cannot apply.
    """
    check_horizon(query.horizon, core.max_horizon)
    sites = None if query.sites is None else list(dict.fromkeys(query.sites))
    scenario = parse_scenario(query.scenario)
    check_scenario(scenario, list(core.sites_), sites)
    try:
        return core.predict(
            query.horizon, sites=sites, scenario=None if scenario is None else scenario.as_mapping()
        )
    except (ValueError, TypeError, KeyError) as exc:
        # A scenario the model cannot apply is the caller's input, not a fault of the model.
        raise OrdercastError(f"scenario not applicable: {exc}") from exc


@dataclass(frozen=True)
class CapacityComparison:
    """The planned outlook, the scenario's (same sites and days, same simulated arrivals)
    and per site what the scenario changes (:func:`forecasting.capacity.compare.
    compare_outlooks`)."""

    plan: pd.DataFrame
    scenario: pd.DataFrame
    sites: pd.DataFrame


def compare_capacity(
    core: CapacityCore, query: CapacityQuery, threshold: float = SHORTFALL_THRESHOLD
) -> CapacityComparison:
    """``query``'s scenario beside the plan (the same query without it); raises what
    :func:`answer_capacity` raises."""
    scenario = answer_capacity(core, query)
    plan = answer_capacity(core, replace(query, scenario=None))
    return CapacityComparison(plan, scenario, compare_outlooks(plan, scenario, threshold))


# ----------------------------------------------------------------------------- risk


def first_duplicate(line_ids: Iterable[object]) -> int | None:
    """Position of the first line id seen before, or None when all are unique."""
    seen: set[object] = set()
    for position, line_id in enumerate(line_ids):
        if line_id in seen:
            return position
        seen.add(line_id)
    return None


# The columns of a risk answer: the scorer's, then whether and why not a line was scored.
RISK_SCORE_COLUMNS = tuple(
    c for c in RISK_OUTPUT_COLUMNS if c not in ("order_id", "line_id", "promised_date")
)
RISK_COLUMNS = (
    "order_id",
    "line_id",
    "promised_date",
    *RISK_SCORE_COLUMNS,
    "scored",
    "status",
    "unscored_reason",
)


def answer_risk(
    core: RiskCore,
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    batch_history: bool = True,
    actions: bool = True,
) -> pd.DataFrame:
    """Every line of ``orders`` (contract columns, datetime64 dates), in their order:
    ``order_id, line_id, promised_date, p_late, risk_band, expected_delay_days,
    reason_1..3, scored, status, unscored_reason`` (:data:`RISK_COLUMNS`).

    A line open at ``as_of`` with valid dates is scored (``scored`` true, ``status``
    "scored"); any other line has empty score columns, a ``status`` code and an
    ``unscored_reason`` saying why, in words (see :mod:`forecasting.risk.line_status`).
    With ``batch_history`` (a file of the whole history) delivered lines still reach the
    core: its site and track-record features count them. Without it (a request's lines)
    every line is scored from the core's memory alone, whatever else the batch holds.

    Raises :class:`DataContractError` for a repeated ``line_id`` (its answers could not
    be told apart), and the core's domain errors.
    """
    duplicate = first_duplicate(orders["line_id"])
    if duplicate is not None:
        line_id = orders["line_id"].iloc[duplicate]
        issue = ContractIssue(
            duplicate + 1, "line_id", f"duplicate line_id '{line_id}'", "row", duplicate
        )
        raise DataContractError([issue])
    as_of = pd.Timestamp(as_of)
    accounts = line_status(orders, as_of)
    status = accounts["status"].to_numpy(object).copy()
    reason = accounts["reason"].to_numpy(object).copy()
    _mark_unknown_sites(core, orders, as_of, batch_history, status, reason)
    to_score = status == SCORED
    # Lines with broken dates would skew the features; lines ordered later are not known yet.
    usable = (status == SCORED) | (status == DELIVERED_BEFORE_AS_OF)
    scores = (
        core.score_lines(orders[usable], as_of, batch_history=batch_history, actions=actions)
        if to_score.any()
        else pd.DataFrame(columns=["line_id", *RISK_SCORE_COLUMNS])
    )
    # Each submitted line's row of the scores (its first, should a core repeat one), by a
    # dictionary: pandas' set_index/reindex cost more than scoring a few lines.
    first_row: dict[object, int] = {}
    for row, line_id in enumerate(scores["line_id"].tolist()):
        first_row.setdefault(line_id, row)
    line_ids = orders["line_id"].tolist()
    row_of = np.fromiter((first_row.get(i, -1) for i in line_ids), np.int64, len(line_ids))
    has_row = row_of >= 0
    p_late = _score_column(scores, "p_late", row_of, has_row)
    missing = to_score & np.isnan(p_late)
    status = np.where(missing, NO_SCORE, status)
    reason[missing] = "the model returned no score for this line"
    scored = status == SCORED
    out: dict[str, object] = {
        "order_id": orders["order_id"].to_numpy(),
        "line_id": orders["line_id"].to_numpy(),
        "promised_date": orders["promised_date"].to_numpy(),
    }
    for column in RISK_SCORE_COLUMNS:
        if column in ("p_late", "expected_delay_days", "delay_p50_days", "delay_p90_days"):
            # A core that gives no delay quantiles (an older model) leaves them empty.
            values = (
                p_late if column == "p_late" else _score_column(scores, column, row_of, has_row)
            )
            out[column] = np.where(scored, values, np.nan)
        else:  # reasons a core does not give stay empty
            given = scores[column].tolist() if column in scores.columns else None
            out[column] = [
                given[r] if ok and given is not None else None
                for ok, r in zip(scored, row_of.tolist(), strict=True)
            ]
    out["scored"] = scored
    out["status"] = status
    out["unscored_reason"] = reason
    return pd.DataFrame(out, index=pd.RangeIndex(len(line_ids)))


def _mark_unknown_sites(
    core: RiskCore,
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    batch_history: bool,
    status: np.ndarray,
    reason: np.ndarray,
) -> None:
    """Set ``status`` and ``reason`` of each line still to be scored at a site the core
    has no history of (nor the batch, when it is the history) to :data:`UNKNOWN_SITE`.

    The boosters gave such a line the risk of a quiet site, with "no single factor stands
    out": p_late 0.005 at a site nobody knows, beside 0.94 for the same line at a busy one.
    """
    known_sites = getattr(core, "known_sites", None)
    known = known_sites() if callable(known_sites) else None
    if known is None:
        return
    if batch_history:
        known = known | frozenset(orders.loc[orders["order_date"] < as_of, "site"].astype(str))
    sites = orders["site"].astype(str).to_numpy()
    unknown = (status == SCORED) & ~np.isin(sites, list(known))
    for row in np.flatnonzero(unknown):
        status[row] = UNKNOWN_SITE
        reason[row] = unknown_site_reason(sites[row], known)


def _score_column(
    scores: pd.DataFrame, column: str, row_of: np.ndarray, has_row: np.ndarray
) -> np.ndarray:
    """A numeric score column per submitted line (NaN: no row, or no such column)."""
    out = np.full(len(row_of), np.nan)
    if column in scores.columns:
        values = pd.to_numeric(scores[column]).to_numpy(float)
        out[has_row] = values[row_of[has_row]]
    return out
