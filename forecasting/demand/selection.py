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
(seed 1; the benchmark's test panels use seed 2). Each panel then chooses its classes'
defaults again by a backtest pooled over their series (:func:`pooled_choice`), every
candidate weighed by the chance its series are still ordered at all, at the prior read
from the comebacks in the class's histories where the pooled backtest's volume allows it
(:func:`alive_choice`, :mod:`forecasting.demand.obsolescence`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.demand.backtest import ENSEMBLE, Windows, forecast_values, plan_windows
from forecasting.demand.base import SeriesForecast
from forecasting.demand.classify import CLASS_MODELS
from forecasting.demand.config import SelectionConfig
from forecasting.demand.obsolescence import (
    EVERY_PERCENT,
    Comebacks,
    alive_from_run,
    alive_name,
    comebacks,
    estimate_prior,
    parse_alive_name,
    run_and_share,
)
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
    """Mean backtest ``score`` per ``model`` over the windows, NaN scores left out (inf
    when not finite), models in name order."""
    # Plain Python: a frame and a groupby per series cost more than the intermittent
    # models' fits (#20: 0.5 s of a 3 s fit of 133 series).
    by_model: dict[str, list[float]] = {}
    for row in rows:
        by_model.setdefault(str(row["model"]), []).append(float(row["score"]))  # type: ignore[arg-type]
    out = {}
    for name in sorted(by_model):
        values = [v for v in by_model[name] if not np.isnan(v)]
        mean = _kahan_sum(values) / len(values) if values else np.nan
        out[name] = float(mean) if np.isfinite(mean) else np.inf
    return out


def _kahan_sum(values: Sequence[float]) -> float:
    """Compensated sum, step for step as pandas' groupby mean adds (the scores, and so
    the choices, stay what they were when a frame computed them)."""
    total = compensation = 0.0
    for value in values:
        y = value - compensation
        t = total + y
        compensation = t - total - y
        if compensation != compensation:  # an infinite value: keep the sum infinite
            compensation = 0.0
        total = t
    return total


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


# A class's default chosen from a backtest pooled over its series (#20). One combination
# per class and panel, judged on every series' windows at once: a per-series choice on
# 2-3 windows of mostly zeros picks noise, a pooled one sees hundreds of windows.
POOLED_CLASSES = ("intermittent", "lumpy")


@dataclass(frozen=True)
class PooledSeries:
    """One series as the pooled backtest sees it, one row per backtest window: the
    actuals (``(windows, horizon)``), each model's mean forecast of them (``means[name]``,
    same shape) and the error scales of the training part before each window (MASE: lag
    ``m``, lag 1 where that is 0; RMSSE: squared lag 1)."""

    actuals: np.ndarray
    means: dict[str, np.ndarray]
    mase_scales: np.ndarray
    rmsse_scales: np.ndarray
    # Per window, what the chance of being alive reads from the training part before it
    # (:func:`forecasting.demand.obsolescence.alive_from_run`): the run of zeros at its
    # end and its share of periods with demand. A weighed member's mean is its base
    # model's times that chance, so the priors cost no refit.
    zero_runs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    demand_shares: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Every cutoff of the whole history and whether demand came back after it: what the
    # class's prior is estimated from (:func:`forecasting.demand.obsolescence.estimate_prior`).
    comebacks: Comebacks | None = None


def error_scales(train: np.ndarray, m: int) -> tuple[float, float]:
    """MASE scale (mean absolute lag-``m`` difference, lag 1 where that is 0 or undefined)
    and RMSSE scale (mean squared lag-1 difference) of a training part; 0 when flat."""
    train = np.nan_to_num(np.asarray(train, dtype=float), nan=0.0)
    if train.size < 2:
        return 0.0, 0.0
    lag1 = np.diff(train)
    seasonal = float(np.mean(np.abs(train[m:] - train[:-m]))) if train.size > m else 0.0
    mase = seasonal if seasonal > 0 else float(np.mean(np.abs(lag1)))
    return mase, float(np.mean(lag1**2))


def pooled_series(
    y: np.ndarray,
    models: Sequence[str],
    horizon: int,
    n_windows: int,
    season_length: int,
) -> PooledSeries | None:
    """Each of ``models`` fitted before each backtest window of ``y`` (planned as the
    pipeline plans a series' windows) and its mean forecast kept; None for a series the
    pipeline gives a rule-based fallback (no demand, constant, too short)."""
    y = np.asarray(y, dtype=float)
    windows = plan_windows(len(y), horizon, n_windows, min_train=max(8, horizon))
    if fallback_choice(y[np.isfinite(y)], windows) is not None:
        return None
    cutoffs = windows.cutoffs
    scales = np.array([error_scales(y[:c], season_length) for c in cutoffs]).reshape(-1, 2)
    # No quantiles: only the mean is scored, and intervals cost more than the mean here.
    means = {
        name: np.array(
            [forecast_values(name, y[:c], horizon, season_length, ()).mean for c in cutoffs]
        )
        for name in models
    }
    runs, shares = zip(*(run_and_share(y[:c]) for c in cutoffs), strict=True)
    return PooledSeries(
        np.array([y[c : c + horizon] for c in cutoffs]),
        means,
        scales[:, 0],
        scales[:, 1],
        np.array(runs, dtype=float),
        np.array(shares, dtype=float),
        comebacks(y, horizon, min_train=max(8, horizon)),
    )


def base_models(candidates: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """The models to fit for ``candidates``: each member, weighed ones by their base."""
    names = [m for c in candidates for m in c]
    return tuple(dict.fromkeys(_base_of(m) for m in names))


def _base_of(name: str) -> str:
    weighing = parse_alive_name(name)
    return name if weighing is None else weighing[0]


def weighed(members: tuple[str, ...], prior: float | None) -> tuple[str, ...]:
    """``members`` each weighed by the alive ``prior`` (None: as they are)."""
    return members if prior is None else tuple(alive_name(m, prior) for m in members)


def alive_choice(
    series: Sequence[PooledSeries],
    members: tuple[str, ...],
    priors: Sequence[float],
    estimate: float | None = None,
    tolerance: float = 0.0,
) -> tuple[str, ...]:
    """``members`` weighed by the class's ``estimate`` of the prior (1: as they are) when
    the pooled backtest's forecasts at it add up to the demand in its windows within
    ``tolerance`` of the best of ``priors`` (:func:`pooled_volume_error`); otherwise by
    that best (as they are when no prior comes closer). Without an estimate, that best.

    Volume, not MASE or RMSSE: both, averaged over series of mostly zeros, favour
    forecasts shrunk towards zero, and a prior chosen by RMSSE cut every series of a class
    by half and its total by 59-71% on three of the four development panels (#20,
    ``benchmarks/intermittent_dev.py --alive``): better per-series scores, a plan that
    misses most of the demand. The estimate reads how many items stop selling from every
    cutoff of their histories; the volume keeps it from taking away demand that comes."""
    options = [members, *(weighed(members, p) for p in priors)]
    estimated = None
    if estimate is not None:
        estimated = members if estimate >= 1.0 else weighed(members, estimate)
    # The estimate is often one of the options already: each is scored once.
    errors = pooled_volume_errors(series, list(dict.fromkeys([*options, estimated or members])))
    if not np.all(np.isfinite(list(errors.values()))):
        return members
    closest = min(options, key=errors.__getitem__)
    if estimated is None:
        return closest
    return estimated if errors[estimated] <= errors[closest] + tolerance else closest


def class_prior(series: Sequence[PooledSeries]) -> float | None:
    """The class's prior estimated from its series' comebacks (1: items do not die; None
    without any cutoff to read)."""
    events = [s.comebacks for s in series if s.comebacks is not None]
    return estimate_prior(events, EVERY_PERCENT)


def pooled_volume_error(series: Sequence[PooledSeries], members: tuple[str, ...]) -> float:
    """``|total forecast - total demand| / total demand`` of the equal-weight combination
    of ``members`` over every window of every series (periods without actuals left out).
    Without any demand in the windows it is divided by 1 unit instead, so that the least
    forecast is the best; inf without series."""
    return pooled_volume_errors(series, [members])[members]


def pooled_volume_errors(
    series: Sequence[PooledSeries], candidates: Sequence[tuple[str, ...]]
) -> dict[tuple[str, ...], float]:
    """:func:`pooled_volume_error` of each candidate, the actuals read once."""
    if not series:
        return {c: float("inf") for c in candidates}
    actuals = np.concatenate([s.actuals for s in series])
    known = np.isfinite(actuals)
    total = float(actuals[known].sum())
    out = {}
    for members in candidates:
        made = np.mean([_pooled_means(series, m) for m in members], axis=0)
        out[members] = abs(float(made[known].sum()) - total) / (total if total > 0 else 1.0)
    return out


def pooled_scores(
    series: Sequence[PooledSeries], candidates: Sequence[tuple[str, ...]]
) -> pd.DataFrame:
    """Per candidate (equal-weight combination of its members): the mean over series of
    each series' mean MASE and RMSSE over its windows (windows with a flat training part,
    and gaps in the actuals, left out), and how many series scored. One row per
    candidate, in the given order."""
    columns = ["members", "mase", "rmsse", "series"]
    if not series:
        return pd.DataFrame([(c, np.inf, np.inf, 0) for c in candidates], columns=columns)
    # Every window of every series as one row, so that each candidate is scored at once.
    owner = np.concatenate([np.full(len(s.actuals), i) for i, s in enumerate(series)])
    actuals = np.concatenate([s.actuals for s in series])
    mase_scale = np.concatenate([s.mase_scales for s in series])
    rmsse_scale = np.concatenate([s.rmsse_scales for s in series])
    models = {m for c in candidates for m in c}
    means = {m: _pooled_means(series, m) for m in models}
    rows = []
    for members in candidates:
        error = actuals - np.mean([means[m] for m in members], axis=0)
        known = np.isfinite(error)
        counted = known.sum(axis=1)
        usable = (mase_scale > 0) & (rmsse_scale > 0) & (counted > 0)
        error = np.where(known, error, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            mase = np.abs(error).sum(axis=1) / counted / mase_scale
            rmsse = np.sqrt((error**2).sum(axis=1) / counted / rmsse_scale)
        per_series = []
        for values in (mase, rmsse):
            total = np.bincount(owner[usable], values[usable], minlength=len(series))
            windows = np.bincount(owner[usable], minlength=len(series))
            scored = windows > 0
            per_series.append(total[scored] / windows[scored])
        n = len(per_series[0])
        rows.append(
            (
                members,
                float(np.mean(per_series[0])) if n else np.inf,
                float(np.mean(per_series[1])) if n else np.inf,
                n,
            )
        )
    return pd.DataFrame(rows, columns=columns)


def _pooled_means(series: Sequence[PooledSeries], name: str) -> np.ndarray:
    """Every window's mean forecast by model ``name`` (weighed ones from their base)."""
    weighing = parse_alive_name(name)
    if weighing is None:
        return np.concatenate([s.means[name] for s in series])
    base, prior = weighing
    alive = np.concatenate([alive_from_run(s.zero_runs, s.demand_shares, prior) for s in series])
    return np.concatenate([s.means[base] for s in series]) * alive[:, None]


def pooled_choice(scores: pd.DataFrame, default: tuple[str, ...], margin: float) -> tuple[str, ...]:
    """The candidate of least mean ratio to the best candidate's MASE and RMSSE (both
    targets count alike), or ``default`` unless it is at least ``margin`` better than it
    (``default`` must be one of the candidates); ties go to the earlier candidate."""
    best_mase, best_rmsse = scores["mase"].min(), scores["rmsse"].min()
    if not (np.isfinite(best_mase) and np.isfinite(best_rmsse) and best_mase > 0 < best_rmsse):
        return default
    ratio = (scores["mase"] / best_mase + scores["rmsse"] / best_rmsse).to_numpy() / 2
    members = list(scores["members"])
    winner = int(np.argmin(ratio))
    if default not in members:
        return members[winner]
    own = ratio[members.index(default)]
    return members[winner] if ratio[winner] < own * (1 - margin) else default
