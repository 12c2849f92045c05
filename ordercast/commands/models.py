"""``ordercast models``: inspect and move the registry's champion and challenger aliases."""

from __future__ import annotations

from pathlib import Path

import typer

from ordercast.settings import load_settings

models_app = typer.Typer(
    help="List registered model versions; promote or roll back champions.", no_args_is_help=True
)
CONFIG_HELP = "YAML overriding configs/default.yaml (for the tracking URI)."


@models_app.command("list")
def list_models(config: Path | None = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Every version of every kind: its aliases, its gate score (every score is a loss:
    lower is better), the gate's decision, and below the table why."""
    from training import registry, tracking  # MLflow: when a command runs, not for --help

    client = tracking.connect(load_settings(config))
    frame = registry.list_versions(client)
    if frame.empty:
        typer.echo("no registered models yet: run `ordercast train all`")
        return
    typer.echo(frame.drop(columns="reason").to_string(index=False))
    reasons = frame[frame["reason"] != ""]
    if len(reasons):
        typer.echo("\nwhy:")  # a sentence per version: too long for a table column
        for row in reasons.itertuples():
            typer.echo(f"  {row.kind} v{row.version} {row.decision}: {row.reason}")


@models_app.command()
def promote(
    kind: str = typer.Argument(..., help="demand, capacity or risk"),
    version: str = typer.Argument(..., help="The version to make champion."),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Make VERSION the champion of KIND (the service picks it up on its next poll)."""
    from training import registry, tracking  # MLflow: when a command runs, not for --help

    client = tracking.connect(load_settings(config))
    registry.promote(client, registry.model_name(kind), version)
    typer.echo(f"{registry.model_name(kind)} v{version} is now champion")


@models_app.command()
def rollback(
    kind: str = typer.Argument(..., help="demand, capacity or risk"),
    to: str | None = typer.Option(None, "--to", help="Version to return to (default: previous)."),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Point champion back to the previous champion (or to --to VERSION)."""
    from training import registry, tracking  # MLflow: when a command runs, not for --help

    client = tracking.connect(load_settings(config))
    version = registry.rollback(client, registry.model_name(kind), to)
    typer.echo(f"{registry.model_name(kind)} champion rolled back to v{version}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(models_app, name="models")
