"""The selection rule: which model a series gets, from its backtest scores (pure).

For each series: the candidates that suit its demand class are backtested; the best
single model is chosen only when it beats the equal-weight ensemble of the best three
by the selection margin (a guard against overfitting the choice to a few windows),
otherwise the ensemble. When the global model competes, another model replaces it only
when it is better by the global margin. Series with no demand, constant or too short
to backtest get a rule-based fallback instead, with the reason recorded.

A demand class with a robust default (``SelectionConfig.class_defaults``: intermittent
and lumpy) keeps it unless the backtest is strong evidence against it
(:func:`with_evidence`): a few noisy windows of a series that is zero most periods pick
noise (#20: chosen per series on 2-3 windows, a 2,674-series spare-part panel scored 28%
behind ADIDA). The defaults were chosen by an inner validation on development data only
(``benchmarks/intermittent_dev.py``): the SCMS panels without their test year, scored on
the 12 months before it, and the synthetic generator's intermittent and lumpy SKUs
(seed 1; the benchmark's test panels use seed 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.demand.backtest import ENSEMBLE, Windows
from forecasting.demand.base import SeriesForecast
from forecasting.demand.classify import CLASS_MODELS
from forecasting.demand.config import SelectionConfig
from forecasting.demand.registry import GLOBAL

ENSEMBLE_SIZE = 3
COMBINATION = "combination"  # a class default of several members
# The global model's point forecast is a median (absolute-error loss): for a series that
# is zero most periods that is zero, and a plan built on it orders nothing. Intermittent
# and lumpy series keep the methods made for them (Croston and kin forecast the mean rate).
INTERMITTENT_CLASSES = ("intermittent", "lumpy")


@dataclass(frozen=True)
class Choice:
    """The verdict on one series: the model recorded, the members averaged to forecast
    (one, or the ensemble's), their mean backtest score (NaN for a fallback) and the
    fallback reason (None when chosen by backtest)."""

    model: str
    members: tuple[str, ...]
    score: float
    fallback: str | None = None


def candidate_models(
    demand_class: str,
    named: tuple[str, ...] | None,
    skip_ets: bool,
    default: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The local models to backtest: ``named`` ones, else those suiting the demand class
    and the members of its ``default`` (without ETS when ``skip_ets``: too slow beside
    the global model on long seasons)."""
    candidates = named or CLASS_MODELS[demand_class]
    if named is None:
        candidates = (*candidates, *(m for m in default if m not in candidates))
    if skip_ets and named is None:
        candidates = tuple(c for c in candidates if c != "ets")
    return candidates


def global_competes(
    demand_class: str,
    global_backtest: Mapping[int, SeriesForecast] | None,
    has_final: bool,
    windows: Windows,
) -> bool:
    """Whether the global model joins this series' backtest: it has a final forecast of
    the series, covered every backtest window, and the series is not intermittent."""
    return bool(
        demand_class not in INTERMITTENT_CLASSES
        and global_backtest
        and has_final
        and windows.cutoffs
        and all(c in global_backtest for c in windows.cutoffs)
    )


def fallback_choice(observed: np.ndarray, windows: Windows) -> Choice | None:
    """The rule-based model for a series the backtest cannot judge, or None.

    ``observed`` holds the finite values of the series. No demand or a constant series
    gets ``naive`` (it repeats the level exactly); one too short to backtest gets
    ``window_average``, or ``naive`` with two points or fewer. The reason is recorded in
    words, with the history's length and the horizon when the series is too short for
    it (a horizon beyond what the history supports is the usual cause).
    """
    reason = _fallback_reason(observed, windows)
    if reason is None:
        return None
    name = "naive" if observed.size and np.ptp(observed) == 0 else "window_average"
    if observed.size <= 2:
        name = "naive"
    return Choice(name, (name,), float("nan"), reason)


def _fallback_reason(observed: np.ndarray, windows: Windows) -> str | None:
    if observed.size == 0 or not np.any(observed):
        return "no demand in the history"
    if np.ptp(observed) == 0:
        return "constant series"
    if not windows.cutoffs:
        return (
            f"too short to backtest a {windows.horizon}-period horizon "
            f"({observed.size} periods of history)"
        )
    return None


def mean_scores(rows: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """Mean backtest ``score`` per ``model`` over the windows (inf when not finite)."""
    means = pd.DataFrame(rows).groupby("model")["score"].mean()
    return {str(k): (float(v) if np.isfinite(v) else np.inf) for k, v in means.items()}


def ensemble_members(scores: Mapping[str, float]) -> tuple[str, ...]:
    """The best models by score, best first: the ensemble's members (ties by name)."""
    ranked = sorted(scores, key=lambda name: scores[name])
    return tuple(ranked[:ENSEMBLE_SIZE])


def choose(
    scores: Mapping[str, float],
    members: tuple[str, ...],
    config: SelectionConfig,
    global_competing: bool,
) -> Choice:
    """The model of one series from its mean backtest scores.

    ``members`` are :func:`ensemble_members` (best first); ``scores`` include the
    ensemble's (as ``ensemble``) when there are several members, and the global model's
    when ``global_competing``.
    """
    best = members[0]
    ensemble_score = scores.get(ENSEMBLE, np.inf)
    if len(members) > 1 and not scores[best] < ensemble_score * (1 - config.margin):
        name, chosen = ENSEMBLE, members
    else:
        name, chosen = best, (best,)
    if (
        global_competing
        and name != GLOBAL
        and not scores[name] < scores[GLOBAL] * (1 - config.global_margin)
    ):
        name, chosen = GLOBAL, (GLOBAL,)
    return Choice(name, chosen, scores[name])


def class_default(demand_class: str, config: SelectionConfig) -> tuple[str, ...] | None:
    """The members of the class's robust default, or None (the class has none)."""
    return dict(config.class_defaults).get(demand_class)


def default_choice(members: tuple[str, ...], scores: Mapping[str, float]) -> Choice:
    """A class default as a choice with its mean backtest score: one model by its name,
    several as ``combination``."""
    name = members[0] if len(members) == 1 else COMBINATION
    return Choice(name, members, scores.get(name, float("nan")))


def window_scores(rows: Sequence[Mapping[str, object]]) -> dict[str, np.ndarray]:
    """Each model's backtest ``score`` per window, in window order."""
    frame = pd.DataFrame(rows).sort_values(["model", "window"])
    return {str(k): g["score"].to_numpy(float) for k, g in frame.groupby("model")}


def may_override(n_windows: int, config: SelectionConfig) -> bool:
    """Whether a backtest of ``n_windows`` windows can be evidence against a class default."""
    return config.min_windows is not None and n_windows >= config.min_windows


def with_evidence(
    contender: Choice,
    default: Choice,
    scores: Mapping[str, np.ndarray],
    config: SelectionConfig,
) -> Choice:
    """``contender`` (the backtest's pick) when the evidence for it is strong, else the
    class ``default``.

    Strong: at least ``config.min_windows`` windows (None: never), a mean score ``evidence_margin``
    lower than the default's, and a lower score in every window. ``scores`` holds each
    model's score per window, the default's under its name.
    """
    if contender.model == default.model:
        return default
    mine, theirs = scores[contender.model], scores[default.model]
    strong = (
        may_override(len(mine), config)
        and bool(np.all(np.isfinite(mine)))
        and float(np.mean(mine)) < float(np.mean(theirs)) * (1 - config.evidence_margin)
        and bool(np.all(mine < theirs))
    )
    return contender if strong else default


def with_fallback_column(forecasts: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """``forecasts`` with a ``fallback`` column after ``model``: why the series got a
    rule-based model instead of one chosen by backtest (e.g. "too short to backtest a
    200-period horizon (104 periods of history)"), empty when the backtest chose it."""
    reasons = selection.set_index(selection["series_id"].astype(str))["fallback"]
    column = forecasts["series_id"].astype(str).map(reasons)
    out = forecasts.drop(columns=["fallback"], errors="ignore")
    at = list(out.columns).index("model") + 1 if "model" in out.columns else len(out.columns)
    values = column.to_numpy(object)
    out.insert(at, "fallback", [None if pd.isna(v) else v for v in values])
    return out


def fallback_summary(selection: pd.DataFrame) -> str | None:
    """One sentence on the series that fell back, by reason, for a log; None when none did.

    Reasons are grouped without their per-series history length, so 600 series too short
    for a 200-period horizon make one count, not 600 lines.
    """
    reasons = selection["fallback"].dropna().astype(str)
    if reasons.empty:
        return None
    kinds = reasons.str.replace(r" \(\d+ periods of history\)$", "", regex=True)
    counts = kinds.value_counts()
    parts = "; ".join(f"{reason}: {count:,}" for reason, count in counts.items())
    text = (
        f"{len(reasons):,} of {len(selection):,} series got a rule-based fallback model "
        f"instead of one chosen by backtest ({parts})"
    )
    if kinds.str.startswith("too short to backtest").any():
        text += (
            "; the backtest needs history beyond the horizon, so a shorter horizon (or a "
            "longer history) lets it choose their model"
        )
    return text
