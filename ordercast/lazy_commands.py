"""The top-level command group that imports a command's module only when it runs.

Every command module pulls in pandas, scikit-learn, statsmodels or MLflow; importing
all twelve took 5.5 s before ``ordercast --help`` printed a line, and every
``ordercast validate`` paid for the MLflow and FastAPI imports it never uses. The
listing in ``ordercast --help`` reads the one-line summaries of :data:`ENTRIES`
(a test holds them equal to each command's own help); running or asking help of a
command imports its module alone.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import typer
import typer.main

# typer vendors its own click: the group's commands and errors must be its classes.
from typer import _click as click
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Entry:
    """A top-level command: the module under ``ordercast.commands`` that registers it,
    and its summary for the listing."""

    module: str
    summary: str


ENTRIES: dict[str, Entry] = {
    "generate": Entry(
        "data", "Generate a realistic synthetic order history (and its true capacity calendar)."
    ),
    "validate": Entry(
        "data",
        "Check an order history against the contract; exit 0 when valid, 2 listing every problem.",
    ),
    "series": Entry(
        "data",
        "Turn order lines into the long series frame (series_id, ds, y + keys), zeros filled.",
    ),
    "ingest": Entry(
        "ingest",
        "Add or update order lines in the order store (database.url, ORDERCAST_DATABASE_URL).",
    ),
    "forecast": Entry(
        "demand",
        "Forecast every series with the model chosen for it by backtest, with quantiles.",
    ),
    "backtest": Entry(
        "demand",
        "Rolling-origin backtest: MASE, RMSSE, sMAPE, WAPE, bias, scaled pinball, coverage.",
    ),
    "train": Entry(
        "train",
        "Train, track in MLflow, register, and promote when the new version is better.",
    ),
    "refresh": Entry(
        "refresh",
        "Bring the champions up to date with the latest orders, without retraining.",
    ),
    "serve": Entry("serve", "Serve forecasts and risk scores from the registry's champion models."),
    "accuracy": Entry(
        "accuracy",
        "Accuracy of every published forecast whose period is complete: WAPE, bias, MASE and "
        "80% interval coverage next to the backtest's expectation, and the drift flag per lag.",
    ),
    "capacity": Entry(
        "capacity",
        "Site capacity: arrivals, work available, shortfall risk, backlog, scenarios.",
    ),
    "risk": Entry("risk", "Late-delivery risk of open order lines."),
    "models": Entry("models", "List registered model versions; promote or roll back champions."),
    "keys": Entry(
        "keys",
        "API keys for `ordercast serve`. Each key has a name (recorded as the author of what "
        "it changes) and a role: read (forecasts and scores), write (push order lines) or "
        "admin (everything). Only a digest is stored; the key is shown once, when made.",
    ),
    "adjustments": Entry(
        "adjustments",
        "Planner adjustments of the demand forecast: list them, export them with their audit "
        "trail. Forecast value added: `ordercast accuracy --fva`.",
    ),
}


def module_commands(module_name: str) -> dict[str, click.Command]:
    """The click commands a command module registers, by name (imports the module), their
    help reflowed (:func:`reflow_help`)."""
    module = importlib.import_module(f"ordercast.commands.{module_name}")
    holder = typer.Typer()
    module.register(holder)
    commands = dict(typer.main.get_group(holder).commands)
    for command in commands.values():
        reflow_help(command)
    return commands


def reflow_help(command: click.Command) -> None:
    """Join the docstring's wrapped lines within each paragraph of a command's help, and of
    its sub-commands'.

    typer keeps the single line breaks of every paragraph after the first, and the
    terminal wraps again: a docstring wrapped at 90 columns came out in an 80-column
    terminal as a long line and a word or two, line after line. Joined, the help is
    wrapped once, to the terminal. A paragraph marked ``\\b`` (click's "keep my lines")
    is left as written.
    """
    if command.help:
        paragraphs = command.help.split("\n\n")
        command.help = "\n\n".join(
            p if p.lstrip().startswith("\b") else " ".join(line.strip() for line in p.splitlines())
            for p in paragraphs
        )
    for sub in getattr(command, "commands", {}).values():
        reflow_help(sub)


class LazyCommands(TyperGroup):
    """A :class:`TyperGroup` whose commands are :data:`ENTRIES`, each built on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(ENTRIES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = ENTRIES.get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # the help's listing needs a name and a summary, not the command
            return TyperCommand(cmd_name, short_help=entry.summary)
        if cmd_name not in self.commands:
            self.commands.update(module_commands(entry.module))
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except UsageError as error:
            # typer suggests from the commands built so far: none, here
            matches = get_close_matches(args[0], ENTRIES) if args else []
            if matches and "Did you mean" not in error.message:
                names = ", ".join(f"{m!r}" for m in matches)
                error.message = f"{error.message.rstrip('.')}. Did you mean {names}?"
            raise

    @contextlib.contextmanager
    def _names_and_summaries(self) -> Iterator[None]:
        """Within: :meth:`get_command` answers from :data:`ENTRIES` alone."""
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        with self._names_and_summaries():  # completing a command's name
            return super().shell_complete(ctx, incomplete)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._names_and_summaries():
            super().format_help(ctx, formatter)
