"""Small domain objects for the API tests.

Demand is the real :class:`DemandServingModel` built from a hand-made forecast frame
(so the routes run the production serving code). Capacity and at-risk are fakes that
implement the documented interfaces (docs/interfaces.md §5, §6) with simple, known
arithmetic, so route, error and security tests start in milliseconds; the end-to-end
tests load them through a real MLflow registry as well.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from api.model_store import LoadedModel, Loader, Served
from forecasting.demand.base import quantile_column
from forecasting.demand.serving import DemandServingModel, build_serving_model
from forecasting.errors import ConfigError, UnknownSeriesError
from forecasting.series import level_name
from training.serving import VersionInfo

SKUS = ("SKU-1", "SKU-2")
SITES = ("SITE-A", "SITE-B")
GRID = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)
HORIZON = 6
LEVELS = (("sku", "site"), ("sku",), ("site",), ())
START = pd.Timestamp("2024-01-07")


def demand_core(offset: float = 0.0) -> DemandServingModel:
    """A serving model whose every value is known: mean = 10 * series number + step + offset."""
    rows = []
    number = 0
    for keys in LEVELS:
        name = level_name(keys)
        if keys == ("sku", "site"):
            ids = [f"{k}|{s}" for k in SKUS for s in SITES]
        elif keys == ("sku",):
            ids = list(SKUS)
        elif keys == ("site",):
            ids = list(SITES)
        else:
            ids = ["__total__"]
        for series_id in ids:
            number += 1
            for step in range(HORIZON):
                mean = 10.0 * number + step + offset
                row = {
                    "series_id": f"{name}:{series_id}",
                    "ds": START + pd.Timedelta(weeks=step),
                    "model": "ets" if number % 2 else "seasonal_naive",
                    "mean": mean,
                }
                for q in GRID:
                    row[quantile_column(q)] = mean + 4.0 * (q - 0.5)
                rows.append(row)
    forecasts = pd.DataFrame(rows)
    selection = pd.DataFrame({"series_id": forecasts["series_id"].unique(), "model": "ets"})
    return build_serving_model(
        forecasts, selection, LEVELS, "W-SUN", GRID, trained_until=pd.Timestamp("2024-01-01")
    )


class FakeCapacity:
    """Capacity outlook with known numbers: workload 80 + 10 * site number, capacity 100."""

    max_horizon = 28

    def __init__(self, sites: Sequence[str] = SITES, capacity: float = 100.0) -> None:
        self.sites = tuple(sites)
        self.capacity = capacity
        self.predictions = 0  # how many outlooks were computed (the API caches answers)

    @property
    def sites_(self) -> Sequence[str]:
        return self.sites

    def predict(
        self,
        horizon: int,
        sites: Sequence[str] | None = None,
        scenario: Mapping[str, Any] | None = None,
    ) -> pd.DataFrame:
        self.predictions += 1
        chosen = list(sites) if sites is not None else list(self.sites)
        for site in chosen:
            if site not in self.sites:
                raise UnknownSeriesError(f"unknown site '{site}': no capacity history for it")
        factor = 1.0
        for key, value in (scenario or {}).items():
            if key != "capacity_factor" or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"scenario: unknown or invalid entry '{key}'")
            factor = float(value)
        frames = []
        for site in chosen:
            number = self.sites.index(site) + 1
            workload = np.full(horizon, 80.0 + 10 * number)
            capacity = np.full(horizon, self.capacity * factor)
            frames.append(
                pd.DataFrame(
                    {
                        "site": site,
                        "ds": pd.date_range("2024-01-01", periods=horizon, freq="D"),
                        "arrivals_p10": workload * 0.8,
                        "arrivals_p50": workload,
                        "arrivals_p90": workload * 1.2,
                        "load_ratio": workload / capacity,
                        "available_p10": workload * 0.8,
                        "available_p50": workload,
                        "available_p90": workload * 1.2,
                        "capacity": capacity,
                        "p_shortfall": (workload * 1.2 > capacity).astype(float) * 0.3,
                        "backlog_p10": np.maximum(workload - capacity, 0).cumsum(),
                        "backlog_p50": np.maximum(workload - capacity, 0).cumsum(),
                        "backlog_p90": np.maximum(workload - capacity, 0).cumsum(),
                        "backlog_days": np.maximum(workload - capacity, 0).cumsum() / capacity,
                        "expected_delay_days": np.maximum(workload - capacity, 0) / capacity,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


class FakeRisk:
    """At-risk scores from slack days: p_late = 1 / (1 + slack) for open lines; ``batches``
    counts the calls that scored."""

    def __init__(self) -> None:
        self.batches = 0

    def score_lines(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp,
        *,
        batch_history: bool = True,
        actions: bool = True,
    ) -> pd.DataFrame:
        self.batches += 1
        slack = (orders["promised_date"] - as_of).dt.days.clip(lower=0).to_numpy(float)
        p_late = 1.0 / (1.0 + slack)
        band = np.select([p_late >= 0.5, p_late >= 0.2], ["high", "medium"], "low")
        return pd.DataFrame(
            {
                "order_id": orders["order_id"].to_numpy(),
                "line_id": orders["line_id"].to_numpy(),
                "promised_date": orders["promised_date"].to_numpy(),
                "p_late": p_late,
                "risk_band": band,
                "expected_delay_days": np.round(p_late * 3, 3),
                "reason_1": np.where(slack < 2, "promise in under 2 days", "site load"),
                "reason_2": "site load",
                "reason_3": "order size",
            }
        )


def fake_cores(offset: float = 0.0) -> dict[str, DemandServingModel | FakeCapacity | FakeRisk]:
    return {"demand": demand_core(offset), "capacity": FakeCapacity(), "risk": FakeRisk()}


class FakeLoader:
    """A Loader serving fixed cores at a version tests can change (or make fail)."""

    def __init__(self, version: str = "1") -> None:
        self.version = version
        self.fail: dict[str, Exception] = {}
        self.calls = 0

    def __call__(self, kind: str, served: Served | None) -> Served:
        self.calls += 1
        if kind in self.fail:
            raise self.fail[kind]
        if served is not None and served.version == self.version:
            return served
        info = VersionInfo(
            version=self.version,
            created_at="2024-01-02T00:00:00+00:00",
            run_id="run-" + self.version,
            data={"data.rows": "1000", "data.last_date": "2024-01-01"},
            scores={"score": 0.5},
            gate={"gate.decision": "promoted"},
        )
        core = fake_cores(offset=float(self.version))[kind]
        return LoadedModel(kind, self.version, core, champion=info)


LINE = {
    "order_id": "O-1",
    "line_id": "O-1-1",
    "sku": "SKU-1",
    "site": "SITE-A",
    "order_date": "2024-03-01",
    "promised_date": "2024-03-05",
    "quantity": 2,
}


def order_lines(count: int, as_of: str = "2024-03-04") -> list[dict]:
    """``count`` open lines promised 0..9 days after ``as_of``."""
    start = pd.Timestamp(as_of)
    return [
        {
            **LINE,
            "order_id": f"O-{i // 3}",
            "line_id": f"O-{i // 3}-{i % 3}",
            "promised_date": f"{start + pd.Timedelta(days=i % 10):%Y-%m-%d}",
        }
        for i in range(count)
    ]


def with_demand(core: object, version: str) -> Loader:
    """A loader serving ``core`` as the demand champion at ``version`` and the fake
    capacity and risk cores beside it."""
    fakes = FakeLoader("1")

    def loader(kind: str, served: Served | None) -> Served:
        if kind == "demand":
            return LoadedModel("demand", version, core)  # type: ignore[arg-type]
        return fakes(kind, served)

    return loader
