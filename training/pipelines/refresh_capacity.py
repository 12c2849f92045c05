"""Refresh the capacity champion: its outlook starts from the open orders now, with the
new work to come forecast again from the newest weeks; the capacity estimate stays
(:meth:`forecasting.capacity.forecaster.CapacityForecaster.with_backlog`).

The new version, a refresh of its parent, becomes the champion; the API's outlooks then
run from the day after the newest order.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.capacity import CapacityForecaster
from forecasting.cores import AnyCore
from forecasting.errors import ConfigError
from ordercast.settings import Settings
from training.pipelines.capacity import KIND
from training.pipelines.common import TrainOutcome
from training.pipelines.refresh_common import refresh_core
from training.tracking import RunLog

OUTLOOK_DAYS = 28  # the report's outlook, as a training logs it


def refresh(settings: Settings, orders: pd.DataFrame) -> TrainOutcome:
    """Refresh, register and promote the capacity champion on ``orders`` (the whole history
    now). Exit 0 published, 3 nothing new; :class:`ConfigError` (exit 2) otherwise."""
    return refresh_core(settings, orders, KIND, _update, _report)


def _update(core: AnyCore, orders: pd.DataFrame, as_of: pd.Timestamp) -> CapacityForecaster:
    if not isinstance(core, CapacityForecaster):
        raise ConfigError(
            f"the capacity champion holds a {type(core).__name__}, not a CapacityForecaster"
        )
    return core.with_backlog(orders, as_of)


def _report(run: RunLog, model: CapacityForecaster, orders: pd.DataFrame, workdir: Path) -> None:
    outlook = model.predict(min(OUTLOOK_DAYS, model.max_horizon))
    outlook.to_csv(workdir / "outlook-28d.csv", index=False)
    run.log_artifact(workdir / "outlook-28d.csv", "reports")
    run.log_metrics(
        {
            "max_load_ratio": float(outlook["load_ratio"].max()),
            "backlog_start": float(sum(model.backlog_.values())),
        }
    )
