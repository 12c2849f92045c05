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
demand class by the pooled backtest (:meth:`forecasting.demand.auto.AutoForecaster`),
from ``SelectionConfig.alive_priors``: the one whose forecasts of the backtest windows
add up closest to the demand in them
(:func:`forecasting.demand.selection.alive_choice`), so that the weighing takes away
the demand of items that stopped selling and not of those that still sell.

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
