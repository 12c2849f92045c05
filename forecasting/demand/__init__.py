"""Demand forecasting: model families, backtests, automatic selection, reconciliation."""
