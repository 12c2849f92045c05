"""Refresh the at-risk champion: its remembered track records take in the deliveries since
its training; no retraining (:meth:`forecasting.risk.model.AtRiskModel.with_history`).

The boosters, calibration and bands stay those the gate judged; the new version, a
refresh of its parent, becomes the champion and the API scores batches with the newer
records on its next poll.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecasting.cores import AnyCore
from forecasting.errors import ConfigError
from forecasting.risk.model import AtRiskModel
from ordercast.settings import Settings
from training.pipelines.common import TrainOutcome
from training.pipelines.refresh_common import refresh_core
from training.pipelines.risk import KIND
from training.tracking import RunLog


def refresh(settings: Settings, orders: pd.DataFrame) -> TrainOutcome:
    """Refresh, register and promote the at-risk champion on ``orders`` (the whole history
    now). Exit 0 published, 3 nothing new; :class:`ConfigError` (exit 2) otherwise."""
    return refresh_core(settings, orders, KIND, _update, _report)


def _update(core: AnyCore, orders: pd.DataFrame, as_of: pd.Timestamp) -> AtRiskModel:
    if not isinstance(core, AtRiskModel):
        raise ConfigError(f"the risk champion holds a {type(core).__name__}, not an AtRiskModel")
    return core.with_history(orders, as_of)


def _report(run: RunLog, model: AtRiskModel, orders: pd.DataFrame, workdir: Path) -> None:
    run.log_metrics({"memory_lines": float(len(model.memory_))})
