"""Capacity: site workload against capacity, shortfall risk, backlog projection, scenarios."""

from forecasting.capacity.forecaster import CapacityForecaster

__all__ = ["CapacityForecaster"]
