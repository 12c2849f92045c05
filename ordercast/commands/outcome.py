"""How ``train`` and ``refresh`` report what a pipeline did: one log line with the facts a
scheduler's log search wants, and the same sentence on stdout for a person."""

from __future__ import annotations

import logging

import typer

from ordercast.logs import json_logging_active
from training.pipelines.common import TrainOutcome

logger = logging.getLogger("ordercast.commands")


def announce(outcome: TrainOutcome) -> None:
    """Log ``outcome`` (with kind, exit code, version, scores and run as fields) and, unless
    logs are JSON lines, print its message."""
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
    if not json_logging_active():
        typer.echo(outcome.message)
