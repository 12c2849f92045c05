"""Logging set-up for the CLI and the service: readable lines by default, JSON on request."""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import TextIO

from forecasting.redaction import redact


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


class _StderrHandler(logging.StreamHandler):
    """Writes each record to ``sys.stderr`` as it is when the record comes, not as it was
    when logging was set up: a caller that swaps stderr (a notebook, a test capturing it)
    and closes its stream later left the handler writing to a closed file ("--- Logging
    error ---" in the test run)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


def configure_logging(level: int = logging.INFO, json_lines: bool = False) -> None:
    """Send logs to stderr, human-readable or as JSON lines; quiets chatty libraries."""
    handler = _StderrHandler()
    if json_lines:
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(_RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A warning (ours: "36% of the periods have no row"; a library's: scikit-learn's "least
    # populated class") is printed raw by Python, with its file, line and source code; with
    # --log-json every stderr line must be JSON. So warnings go through the logger
    # ("py.warnings") and come out as records like any other line: the message alone.
    warnings.showwarning = _log_warning
    for noisy in ("mlflow", "alembic", "urllib3", "distributed", "matplotlib", "numba"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    for own in MLFLOW_OWN_LOGGERS:
        # MLflow gives these loggers a stderr handler of its own on import; through ours
        # instead, their lines get our format (JSON with --log-json) and our levels.
        logger = logging.getLogger(own)
        logger.handlers[:] = []
        logger.propagate = True
    pyfunc = logging.getLogger("mlflow.pyfunc")
    if not any(isinstance(f, _DropPickleAdvice) for f in pyfunc.filters):
        pyfunc.addFilter(_DropPickleAdvice())


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` as a log record: what a person reads, without the file,
    line and source code Python prints (a UserWarning is ours to word; other kinds keep
    their name, which says what they are)."""
    text = str(message) if category is UserWarning else f"{category.__name__}: {message}"
    logging.getLogger("py.warnings").warning("%s", text)


# The loggers MLflow configures itself (mlflow.utils.logging_utils._configure_mlflow_loggers).
MLFLOW_OWN_LOGGERS = ("mlflow", "alembic", "huey", "sqlalchemy.engine")


class _DropPickleAdvice(logging.Filter):
    """MLflow advises against pickled ``python_model`` objects on every model saved; ours are
    empty on purpose (the core travels as a joblib artifact), so the advice is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "serialized using CloudPickle" not in record.getMessage()


class _RedactSecrets(logging.Filter):
    """The last guard: no log line leaves with a password in a URL or DSN, whoever wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def json_logging_active() -> bool:
    """Whether ``--log-json`` is on, so every line a scheduler sees must be JSON."""
    return any(isinstance(h.formatter, JsonLineFormatter) for h in logging.getLogger().handlers)


def logs_reach_stdout() -> bool:
    """Whether the log lines land where stdout does (one terminal, or ``2>&1`` into one pipe
    or file), so a sentence both logged and printed would reach the reader twice."""
    streams = [
        getattr(h, "stream", None)
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler)
    ]
    try:
        out = os.fstat(sys.stdout.fileno())
        return any(s is not None and os.path.samestat(out, os.fstat(s.fileno())) for s in streams)
    except (AttributeError, OSError, ValueError):  # an in-memory stream (tests): no file
        return False


def say_error(message: str) -> None:
    """An error line for a person: red text on stderr, or a JSON log record with --log-json."""
    message = redact(message)
    if json_logging_active():
        logging.getLogger("ordercast").error(message)
    else:
        import typer

        typer.secho(message, err=True, fg=typer.colors.RED)
