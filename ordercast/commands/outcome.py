"""How ``train`` and ``refresh`` report what a pipeline did: one log line with the facts a
scheduler's log search wants, and the same sentence on stdout for a person."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import typer

from ordercast.logs import json_logging_active, logs_reach_stdout

if TYPE_CHECKING:  # imported for the annotation only: `--help` need not load MLflow
    from training.pipelines.common import TrainOutcome

logger = logging.getLogger("ordercast.commands")


def announce(outcome: TrainOutcome) -> None:
    """Log ``outcome`` (with kind, exit code, version, scores and run as fields) and, unless
    logs are JSON lines, print its message: once, where the log lines and stdout reach the
    same terminal or file (a person watching ``make demo`` read every outcome twice)."""
    json_lines = json_logging_active()
    if json_lines or not logs_reach_stdout():
        _log(outcome)
    if not json_lines:
        typer.echo(outcome.message)


def _log(outcome: TrainOutcome) -> None:
    logger.info(
        outcome.message,
        extra={
            "ctx_kind": outcome.kind,
            "ctx_exit_code": outcome.exit_code,
            "ctx_version": outcome.version,
            "ctx_score": outcome.score,
            "ctx_champion_score": outcome.champion_score,
            "ctx_run_id": outcome.run_id,
        },
    )
