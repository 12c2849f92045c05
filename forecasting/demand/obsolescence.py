"""Obsolescence: the chance an intermittent item is still ordered at all, and a model's
forecast weighed by it (pure).

Spare parts and slow movers stop being ordered: a product is replaced, a customer
leaves. Croston and kin forecast the rate of the periods with demand as if demand went
on forever, so an item whose orders ended two years ago keeps its old rate, and the
naive forecast (zero after a run of zeros) beats them on such series (#20: on the SCMS
item panel's development split, series whose run of zeros was two to four mean
intervals long scored MASE 0.006 with naive against 0.132 with IMAPA).

The model: with prior probability ``prior`` a series is still alive after its last
demand, otherwise it died then. Alive, each period has demand with the probability seen
in its history, ``p`` (periods with demand over periods), so a run of ``r`` zeros since
the last demand has likelihood ``(1 - p) ** r``; dead, likelihood 1. The posterior
probability of being alive is

    alive = prior (1 - p)^r / (prior (1 - p)^r + 1 - prior)

and the forecast is the mixture of the model's (weight ``alive``) and zero: the mean is
``alive`` times the model's, quantile level ``q`` is zero up to ``1 - alive`` and the
model's level ``(q - (1 - alive)) / alive`` above. ``prior`` is chosen per panel and
demand class (:meth:`forecasting.demand.auto.AutoForecaster`,
:func:`forecasting.demand.selection.alive_choice`): by maximum likelihood from the
comebacks in the class's histories (:func:`estimate_prior`: at every cutoff, the run of
zeros then and whether demand came back within the horizon), unless the pooled
backtest's forecasts at that prior add up worse than ``SelectionConfig.alive_tolerance``
behind the prior of ``alive_priors`` that matches the demand in its windows best; then
that one. The estimate says how many items die; the volume check keeps the weighing from
taking away demand that still comes.

A weighed model is named ``<model>_alive<percent>``: ``imapa_alive90`` is IMAPA with a
prior of 0.9.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.demand.base import LocalForecaster, SeriesForecast, SeriesModel

_NAME = re.compile(r"^(?P<base>[a-z_]+?)_alive(?P<percent>\d{1,2})$")


def alive_probability(y: np.ndarray, prior: float) -> float:
    """Posterior probability that the series ``y`` still has demand (module docstring);
    0 without any demand. NaN periods count as periods without demand."""
    return float(alive_from_run(*run_and_share(y), prior))


def run_and_share(y: np.ndarray) -> tuple[int, float]:
    """The run of periods without demand at the end of ``y`` and its share of periods with
    demand: what the chance of being alive reads of a history (NaN: no demand)."""
    demand_at = np.flatnonzero(np.nan_to_num(np.asarray(y, dtype=float), nan=0.0) > 0)
    if demand_at.size == 0:
        return len(y), 0.0
    return len(y) - 1 - int(demand_at[-1]), demand_at.size / len(y)


def alive_from_run(run: np.ndarray | int, share: np.ndarray | float, prior: float) -> np.ndarray:
    """:func:`alive_probability` from :func:`run_and_share`'s run and share (arrays alike);
    0 where the share is 0 (no demand at all)."""
    share = np.asarray(share, dtype=float)
    alive = prior * (1.0 - share) ** np.asarray(run, dtype=float)
    return np.where(share > 0, alive / (alive + (1.0 - prior)), 0.0)


@dataclass(frozen=True)
class Comebacks:
    """Cutoffs of a history with demand before them and ``horizon`` periods after: the
    run of zeros and the share of periods with demand before each, and whether demand
    came back within the horizon after it."""

    runs: np.ndarray
    shares: np.ndarray
    came_back: np.ndarray
    horizon: int


def comebacks(y: np.ndarray, horizon: int, min_train: int) -> Comebacks:
    """Every cutoff of ``y`` with at least ``min_train`` periods before it (NaN periods
    count as periods without demand)."""
    demand = np.nan_to_num(np.asarray(y, dtype=float), nan=0.0) > 0
    n = demand.size
    count = np.concatenate([[0], np.cumsum(demand)])  # count[c]: periods with demand before c
    last = np.maximum.accumulate(np.where(demand, np.arange(n), -1))
    cutoffs = np.arange(max(min_train, 1), n - horizon + 1)
    cutoffs = cutoffs[count[cutoffs] > 0]
    return Comebacks(
        runs=(cutoffs - 1 - last[cutoffs - 1]).astype(float),
        shares=count[cutoffs] / cutoffs,
        came_back=count[cutoffs + horizon] > count[cutoffs],
        horizon=horizon,
    )


def estimate_prior(events: Sequence[Comebacks], priors: Sequence[float]) -> float | None:
    """The prior of ``priors``, or 1 (items do not die), under which the comebacks are
    likeliest: demand comes back within ``h`` periods with probability
    ``alive(run, share, prior) * (1 - (1 - share) ** h)``. None without any cutoff."""
    runs = np.concatenate([e.runs for e in events]) if events else np.zeros(0)
    if runs.size == 0:
        return None
    shares = np.concatenate([e.shares for e in events])
    came_back = np.concatenate([e.came_back for e in events])
    horizons = np.concatenate([np.full(e.runs.size, e.horizon) for e in events])
    ever = 1.0 - (1.0 - shares) ** horizons

    def log_likelihood(chance: np.ndarray) -> float:
        chance = np.clip(chance, 1e-12, 1.0 - 1e-12)
        return float(np.sum(np.where(came_back, np.log(chance), np.log1p(-chance))))

    best, best_ll = 1.0, log_likelihood(ever)
    for prior in sorted(priors, reverse=True):  # ties go to the milder prior
        ll = log_likelihood(alive_from_run(runs, shares, prior) * ever)
        if ll > best_ll:
            best, best_ll = prior, ll
    return best


EVERY_PERCENT = tuple(k / 100 for k in range(1, 100))


def is_whole_percent(prior: float) -> bool:
    """Whether ``prior`` can name a weighed model: a whole percent from 0.01 to 0.99."""
    return 0 < prior < 1 and bool(np.isclose(round(prior * 100), prior * 100))


def alive_name(base: str, prior: float) -> str:
    """The name of ``base`` weighed by a prior (``imapa``, 0.9 -> ``imapa_alive90``)."""
    if not is_whole_percent(prior):
        raise ValueError(f"an alive prior is a whole percent from 0.01 to 0.99, not {prior}")
    return f"{base}_alive{round(prior * 100)}"


def parse_alive_name(name: str) -> tuple[str, float] | None:
    """``(base, prior)`` of a weighed model's name, or None for any other name."""
    match = _NAME.match(name)
    if match is None or int(match["percent"]) == 0:
        return None
    return match["base"], int(match["percent"]) / 100


@dataclass(frozen=True)
class _AliveState:
    base: object
    alive: float


def alive_of(states: Sequence[object]) -> float:
    """The chance a fitted series is still alive, as its weighed members read it (their
    mean: one history, one chance, unless members differ in prior); NaN when none is."""
    chances = [s.alive for s in states if isinstance(s, _AliveState)]
    return float(np.mean(chances)) if chances else float("nan")


class AliveWeighted(LocalForecaster[_AliveState]):
    """A local model's forecast weighed by the chance the series is still alive."""

    def __init__(self, base: SeriesModel, prior: float, season_length: int = 1) -> None:
        super().__init__(season_length=season_length)
        self.base = base
        self.prior = prior
        self.name = alive_name(base.name, prior)

    def fit_series(self, y: np.ndarray) -> _AliveState:
        return _AliveState(self.base.fit_series(y), alive_probability(y, self.prior))

    def predict_series(
        self, state: _AliveState, h: int, quantiles: Sequence[float]
    ) -> SeriesForecast:
        alive = float(state.alive)
        levels = np.asarray(quantiles, dtype=float)
        live = levels > 1.0 - alive
        # Increasing in the level, so the base model gets its levels sorted as it expects.
        mapped = (levels[live] - (1.0 - alive)) / alive if alive > 0 else levels[live]
        inner = self.base.predict_series(state.base, h, tuple(mapped))
        if inner.quantiles is None:
            return SeriesForecast(inner.mean * alive, None)
        bands = np.zeros((levels.size, h))
        bands[live] = inner.quantiles
        return SeriesForecast(inner.mean * alive, bands)
