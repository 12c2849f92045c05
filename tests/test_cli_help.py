"""``-h`` is help on every command (#22 item 6): `forecast -h` used to mean --horizon.
``ordercast --help`` lists every command without importing one (the listing's summaries
are each command's own)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from ordercast.cli import app
from ordercast.lazy_commands import ENTRIES, module_commands


def _command_paths(
    command: Any, context: Any, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    # typer vendors its own click, so groups are recognised by their sub-commands
    paths = [prefix]
    if not hasattr(command, "list_commands"):
        return paths
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        paths.extend(_command_paths(sub, context, (*prefix, name)))
    return paths


_ROOT = typer.main.get_command(app)
COMMANDS = _command_paths(_ROOT, _ROOT.make_context("ordercast", ["-h"], resilient_parsing=True))


def test_the_walk_finds_the_commands_a_user_types() -> None:
    assert ("forecast",) in COMMANDS
    assert ("risk", "score") in COMMANDS
    assert len(COMMANDS) > 15


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "ordercast")
def test_dash_h_prints_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "-h"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert "--help" in result.output
    # Wrapped once, to the terminal: typer kept the docstring's own line breaks, and an
    # 80-column terminal showed a long line and a word or two, line after line.
    description = result.output.split("Usage:")[1].split("╭")[0].splitlines()[1:]
    for block in "\n".join(line.rstrip() for line in description).split("\n\n"):
        lines = block.strip("\n").splitlines()
        assert all(len(line) >= 55 for line in lines[:-1]), lines


def test_the_horizon_error_points_at_a_help_flag_that_is_help() -> None:
    result = CliRunner().invoke(app, ["forecast", "missing.csv", "--horizon", "0"])
    assert result.exit_code == 2
    assert "-h" in result.output
    assert CliRunner().invoke(app, ["forecast", "-h"]).exit_code == 0


def test_the_listing_says_what_each_command_says_of_itself() -> None:
    for name, entry in ENTRIES.items():
        command = module_commands(entry.module)[name]
        own = (command.short_help or command.help or "").split("\n\n")[0]
        assert " ".join(entry.summary.split()) == " ".join(own.split()), name


def test_the_listing_imports_no_command_and_no_library() -> None:
    probe = (
        "import sys\n"
        "from ordercast.cli import main\n"
        "assert main(['--help']) == 0\n"
        "heavy = ('pandas', 'sklearn', 'statsmodels', 'mlflow', 'fastapi', 'ordercast.commands.')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    *listing, imported = result.stdout.splitlines()
    assert imported == "[]", imported
    assert any("Late-delivery risk" in line for line in listing), result.stdout


def test_a_commands_help_does_not_load_the_models_or_mlflow() -> None:
    # `train --help` took 4.6 s, `refresh --help` 4.7 s, `capacity forecast --help` 2.9 s: each
    # loaded MLflow, scikit-learn and statsmodels to print its options. One process, as
    # each help is asked in turn, so a module one of them loads shows for the rest.
    helps = [
        ["train", "--help"],
        ["refresh", "--help"],
        ["forecast", "--help"],
        ["backtest", "--help"],
        ["risk", "score", "--help"],
        ["risk", "evaluate", "--help"],
        ["risk", "promise", "--help"],
        ["models", "list", "--help"],
        ["capacity", "forecast", "--help"],
        ["capacity", "plan", "--help"],
    ]
    probe = (
        "import sys\n"
        "from ordercast.cli import main\n"
        f"for args in {helps!r}:\n"
        "    assert main(args) == 0, args\n"
        "heavy = ('sklearn', 'statsmodels', 'mlflow', 'lightgbm', 'forecasting.demand.auto')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.splitlines()[-1] == "[]", result.stdout[-500:]


def test_completing_a_command_name_imports_no_command() -> None:
    probe = (
        "import sys\n"
        "from ordercast.cli import main\n"
        "try:\n"
        "    main([])\n"
        "except SystemExit:\n"  # completion exits once it has printed
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pandas', 'ordercast.commands.'))))\n"
    )
    env = {
        **os.environ,
        "_ORDERCAST_COMPLETE": "complete_zsh",
        "_TYPER_COMPLETE_ARGS": "ordercast ri",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    *completion, imported = result.stdout.splitlines()
    assert '"risk":"Late-delivery risk of open order lines."' in " ".join(completion), result
    assert imported == "[]", imported


def test_an_unknown_command_suggests_the_near_ones() -> None:
    result = CliRunner().invoke(app, ["risc"])
    assert result.exit_code == 2
    assert "Did you mean 'risk'" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "0"],
        ["serve", "--port", "70000"],
        ["train", "all", "--lock-timeout", "-1"],
        ["refresh", "--lock-timeout", "-5"],
    ],
    ids=" ".join,
)
def test_numbers_out_of_range_are_usage_errors_naming_the_option(args: list[str]) -> None:
    # These were accepted at the command line and left to fail further in (a port in
    # uvicorn, a negative wait in the training lock).
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{args[-2]}'" in result.output
