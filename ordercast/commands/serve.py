"""``ordercast serve``: the HTTP API under uvicorn."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer

from ordercast.settings import load_settings


def serve(
    host: str | None = typer.Option(
        None, help="Address to bind (default 127.0.0.1; others need API keys)."
    ),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default 8000)."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (each loads the champions)."
    ),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="Log one line per request (never keys)."
    ),
) -> None:
    """Serve forecasts and risk scores from the registry's champion models.

    Reads the registry at MLFLOW_TRACKING_URI (default: the local store under models/).
    Listens at once and loads each kind's `champion` in the background (/ready is 503,
    with the reason, until they are loaded), then polls for promotions every
    api.poll_seconds; a registry that is down is retried at each poll.
    API keys: ORDERCAST_API_KEYS="key1:read,key2:admin". The interactive docs are at /docs.
    """
    import logging

    import uvicorn

    from api.http_protocol import HeadLimitedProtocol
    from api.main import create_app

    settings = load_settings(config)
    overrides = {"host": host, "port": port, "workers": workers}
    api = settings.api.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    settings = settings.model_copy(update={"api": api})
    app = create_app(settings)  # refuses a public address without keys, before binding
    if not access_log:
        logging.getLogger("api.access").setLevel(logging.WARNING)
    base = f"http://{'127.0.0.1' if api.host in ('0.0.0.0', '::') else api.host}:{api.port}"
    typer.echo(f"ordercast API on {base} — docs: {base}/docs (Ctrl+C to stop)")
    options: dict[str, Any] = {
        "host": api.host,
        "port": api.port,
        "access_log": False,
        "log_config": None,
        "http": HeadLimitedProtocol,  # 431 for oversized headers, without reading them all
    }
    if api.workers > 1:
        # Each worker process builds its own app from the same configuration: worker
        # processes inherit only the environment, so the entry point hands it on there.
        if config is not None:
            os.environ["ORDERCAST_CONFIG"] = str(config)
        os.environ["MLFLOW_TRACKING_URI"] = settings.mlflow.tracking_uri
        uvicorn.run("api.main:create_app", factory=True, workers=api.workers, **options)
    else:
        uvicorn.run(app, **options)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(serve)
