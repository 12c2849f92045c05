"""Capacity: site workload against capacity, shortfall risk, backlog projection, scenarios."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecasting.capacity.forecaster import CapacityForecaster

__all__ = ["CapacityForecaster"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the planning and scenario modules (and `ordercast capacity
    # --help`) need no scikit-learn, which the forecaster brings.
    if name == "CapacityForecaster":
        from forecasting.capacity.forecaster import CapacityForecaster

        return CapacityForecaster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
