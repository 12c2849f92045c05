"""The models by name: the local ones (the automatic pipeline and the contract test list
them here) and the name of the global model, which is trained across series instead."""

from __future__ import annotations

from collections.abc import Sequence

from forecasting.demand.arima import AutoARIMA
from forecasting.demand.base import LocalForecaster
from forecasting.demand.baselines import Drift, Naive, SeasonalNaive, WindowAverage
from forecasting.demand.ets import AutoETS
from forecasting.demand.intermittent import ADIDA, IMAPA, SBA, TSB, Croston
from forecasting.demand.mstl import MSTLForecaster
from forecasting.demand.obsolescence import AliveWeighted, parse_alive_name
from forecasting.demand.theta import Theta
from forecasting.errors import ConfigError

GLOBAL = "global_gbm"

LOCAL_MODELS: dict[str, type[LocalForecaster]] = {
    "naive": Naive,
    "seasonal_naive": SeasonalNaive,
    "drift": Drift,
    "window_average": WindowAverage,
    "ets": AutoETS,
    "croston": Croston,
    "sba": SBA,
    "tsb": TSB,
    "adida": ADIDA,
    "imapa": IMAPA,
    "arima": AutoARIMA,
    "theta": Theta,
    "mstl": MSTLForecaster,
}


def make_model(name: str, season_length: int = 1) -> LocalForecaster:
    """A fresh model by name, or :class:`ConfigError` listing the known names.

    ``<model>_alive<percent>`` is ``<model>`` weighed by the chance the series is still
    alive (:mod:`forecasting.demand.obsolescence`), e.g. ``imapa_alive90``.
    """
    weighed = _weighed(name)
    if weighed is not None:
        base, prior = weighed
        return AliveWeighted(make_model(base, season_length), prior, season_length)
    try:
        cls = LOCAL_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(LOCAL_MODELS))
        raise ConfigError(f"unknown model '{name}'; known models: {known}, auto") from None
    return cls(season_length=season_length)


def parse_model_list(models: str | Sequence[str]) -> tuple[str, ...]:
    """Model names from ``"ets,theta"`` or a list: local ones or ``global_gbm``.

    Raises :class:`ConfigError` listing the known names for an unknown or empty list.
    """
    names = [m.strip() for m in (models.split(",") if isinstance(models, str) else models)]
    unknown = [n for n in names if n not in LOCAL_MODELS and n != GLOBAL and not _weighed(n)]
    if unknown or not names:
        known = ", ".join(sorted(LOCAL_MODELS))
        raise ConfigError(f"unknown model(s) {unknown}; known models: {known}, or 'auto'")
    return tuple(names)


def _weighed(name: str) -> tuple[str, float] | None:
    """``(base, prior)`` when ``name`` is a local model weighed by an alive prior."""
    weighed = parse_alive_name(name)
    return weighed if weighed is not None and weighed[0] in LOCAL_MODELS else None
