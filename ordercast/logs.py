"""Logging set-up for the CLI and the service: readable lines by default, JSON on request."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key.startswith("ctx_"):
                payload[key[4:]] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: int = logging.INFO, json_lines: bool = False) -> None:
    """Send logs to stderr, human-readable or as JSON lines; quiets chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("mlflow", "alembic", "urllib3", "distributed", "matplotlib", "numba"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def json_logging_active() -> bool:
    """Whether ``--log-json`` is on, so every line a scheduler sees must be JSON."""
    return any(isinstance(h.formatter, JsonLineFormatter) for h in logging.getLogger().handlers)


def say_error(message: str) -> None:
    """An error line for a person: red text on stderr, or a JSON log record with --log-json."""
    if json_logging_active():
        logging.getLogger("ordercast").error(message)
    else:
        import typer

        typer.secho(message, err=True, fg=typer.colors.RED)
