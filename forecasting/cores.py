"""What a served model must offer: one typed interface per model kind.

The API and the MLflow pyfuncs hold a fitted domain object (a "core") per kind and call
it only through these protocols, so any object with these members serves: the trained
models, and the small fakes the tests use. ``runtime_checkable`` lets a loader refuse an
artifact of the wrong kind when it loads it (``isinstance`` checks the members' names,
not their signatures; mypy checks those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd


@runtime_checkable
class DemandCore(Protocol):
    """Precomputed demand forecasts (:class:`forecasting.demand.serving.DemandServingModel`)."""

    @property
    def max_horizon(self) -> int:
        """The longest horizon served, in periods of ``freq``."""
        ...

    @property
    def freq(self) -> str:
        """The pandas frequency of the forecast periods, e.g. ``"W-SUN"``."""
        ...

    @property
    def grid(self) -> tuple[float, ...]:
        """The quantile levels trained; a request outside their span is refused."""
        ...

    @property
    def level_names(self) -> tuple[str, ...]:
        """The roll-up levels served, e.g. ``("sku,site", "sku", "site", "total")``."""
        ...

    def level_for(
        self, sku: str | None, site: str | None, channel: str | None, level: str | None
    ) -> tuple[str, tuple[str, ...]]:
        """The roll-up level a request addresses (its name, its key columns); raises
        :class:`~forecasting.errors.UnknownSeriesError` for a level the model lacks."""
        ...

    def forecast(
        self,
        sku: str | None = None,
        site: str | None = None,
        channel: str | None = None,
        level: str | None = None,
        horizon: int = 1,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    ) -> pd.DataFrame:
        """Rows ``series_id, ds, model, mean, q..`` (+ key columns) of one series, one row
        per period, quantile columns in ascending level order."""
        ...


@runtime_checkable
class CapacityCore(Protocol):
    """Site capacity outlooks (:class:`forecasting.capacity.forecaster.CapacityForecaster`)."""

    @property
    def max_horizon(self) -> int:
        """The longest horizon served, in days."""
        ...

    @property
    def sites_(self) -> Sequence[str]:
        """The sites the model has history for."""
        ...

    def predict(
        self,
        horizon: int,
        sites: Sequence[str] | None = None,
        scenario: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        """The outlook (``forecasting.capacity.forecaster.OUTPUT_COLUMNS``), one row per
        site and day; ``sites`` None means every site."""
        ...


@runtime_checkable
class RiskCore(Protocol):
    """Late-delivery risk of open order lines (:class:`forecasting.risk.model.AtRiskModel`)."""

    def score_lines(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp,
        *,
        batch_history: bool = True,
        actions: bool = True,
    ) -> pd.DataFrame:
        """One row per line open at ``as_of``: ``order_id, line_id, promised_date, p_late,
        risk_band, expected_delay_days, delay_p50_days, delay_p90_days, reason_1..3``.
        ``batch_history`` False: the other lines of ``orders`` are not the history its
        features count (a request's lines, not a file of the whole history). ``actions``
        False: no ``action`` (what would lower a high line's risk) is computed."""
        ...


# Any served core; a loaded model's kind says which.
AnyCore = DemandCore | CapacityCore | RiskCore
