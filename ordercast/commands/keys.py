"""``ordercast keys``: make, list and revoke the service's named API keys."""

from __future__ import annotations

from pathlib import Path

import typer

from api.key_file import create_key, read_keys, revoke_key
from ordercast.settings import DEFAULT_KEYS_FILE, load_settings

keys_app = typer.Typer(
    help=(
        "API keys for `ordercast serve`. Each key has a name (recorded as the author of what "
        "it changes) and a role: read (forecasts and scores), write (push order lines) or "
        "admin (everything). Only a digest is stored; the key is shown once, when made."
    ),
    no_args_is_help=True,
)
CONFIG_HELP = "YAML overriding configs/default.yaml (for api.keys_file)."


def _path(config: Path | None) -> Path:
    return load_settings(config).api.keys_file or DEFAULT_KEYS_FILE


@keys_app.command()
def create(
    name: str = typer.Argument(..., help="Who holds the key, e.g. planner-anna or erp-feed."),
    role: str = typer.Option("read", help="read, write or admin."),
    replace: bool = typer.Option(
        False, "--replace", help="Issue a new key under an existing name (the old one stops)."
    ),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Make a key and print it (once). A running `ordercast serve` takes it at once."""
    settings = load_settings(config)
    path = settings.api.keys_file or DEFAULT_KEYS_FILE
    plain = create_key(path, name, role, replace=replace)
    base = f"http://{settings.api.host}:{settings.api.port}"
    typer.echo(f"{name} ({role}): {plain}")
    typer.echo(f"  use it as: curl -H 'X-API-Key: {plain}' {base}/v1/models")
    typer.echo(f"  kept as a digest in {path}; a running `ordercast serve` accepts it now")


@keys_app.command("list")
def list_keys(config: Path | None = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Names, roles and creation times (never the keys)."""
    path = _path(config)
    keys = read_keys(path)
    if not keys:
        typer.echo(f"no keys in {path}: `ordercast keys create NAME --role read` makes one")
        return
    for key in keys:
        typer.echo(f"{key.name:<24} {key.role:<6} created {key.created}")


@keys_app.command()
def revoke(
    name: str = typer.Argument(..., help="The key's name."),
    config: Path | None = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Remove a key: a running `ordercast serve` refuses it, and ends the pages' sessions
    signed in with it, from its next request."""
    path = _path(config)
    revoke_key(path, name)
    typer.echo(f"revoked {name}; the service refuses it from its next request")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(keys_app, name="keys")
