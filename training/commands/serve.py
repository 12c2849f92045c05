"""``ordercast serve``: the HTTP API under uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from training.settings import load_settings


def serve(
    host: str | None = typer.Option(None, help="Address to bind (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default 8000)."),
    workers: int | None = typer.Option(None, help="Worker processes."),
    config: Path | None = typer.Option(None, help="YAML overriding configs/default.yaml."),
) -> None:
    """Serve forecasts from the registry's champion models (docs at /docs)."""
    import os

    import uvicorn

    from api.main import create_app

    settings = load_settings(config)
    api = settings.api.model_copy(
        update={
            k: v
            for k, v in {"host": host, "port": port, "workers": workers}.items()
            if v is not None
        }
    )
    settings = settings.model_copy(update={"api": api})
    app = create_app(settings)  # validates keys vs host before binding anything
    typer.echo(
        f"ordercast API on http://{api.host}:{api.port} — docs: http://{api.host}:{api.port}/docs"
    )
    if api.workers > 1:
        if config is not None:
            os.environ["ORDERCAST_CONFIG"] = str(config)
        uvicorn.run(
            "api.main:create_app",
            factory=True,
            host=api.host,
            port=api.port,
            workers=api.workers,
            log_level="info",
        )
    else:
        uvicorn.run(app, host=api.host, port=api.port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(serve)
