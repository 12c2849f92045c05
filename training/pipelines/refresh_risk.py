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
from forecasting.risk.features import scoring_snapshots
from forecasting.risk.model import AtRiskModel
from ordercast.settings import Settings
from training.model_logging import log_risk_model
from training.pipelines.common import TrainOutcome
from training.pipelines.refresh_common import refresh_core
from training.pipelines.risk import KIND, input_example
from training.tracking import RunLog


def refresh(settings: Settings, orders: pd.DataFrame) -> TrainOutcome:
    """Refresh, register and promote the at-risk champion on ``orders`` (the whole history
    now). Exit 0 published, 3 nothing new; :class:`ConfigError` (exit 2) otherwise."""
    return refresh_core(settings, orders, KIND, _update, _log)


def _update(core: AnyCore, orders: pd.DataFrame, as_of: pd.Timestamp) -> AtRiskModel:
    if not isinstance(core, AtRiskModel):
        raise ConfigError(f"the risk champion holds a {type(core).__name__}, not an AtRiskModel")
    return core.with_history(orders, as_of)


def _log(run: RunLog, model: AtRiskModel, orders: pd.DataFrame, workdir: Path, name: str) -> str:
    as_of = model.memory_.as_of
    open_rows = scoring_snapshots(orders, as_of)["row"]
    # The example is scored when logged: open lines, as a planner's request holds.
    lines = orders.loc[open_rows, "line_id"] if len(open_rows) else orders["line_id"]
    run.log_metrics({"memory_lines": float(len(model.memory_))})
    return log_risk_model(run, model, input_example(orders, lines.head(3), as_of), workdir, name)
