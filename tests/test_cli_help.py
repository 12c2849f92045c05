"""``-h`` is help on every command (#22 item 6): `forecast -h` used to mean --horizon."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from ordercast.cli import app


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # typer vendors its own click, so groups are recognised by their sub-commands
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths.extend(_command_paths(sub, (*prefix, name)))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


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


def test_the_horizon_error_points_at_a_help_flag_that_is_help() -> None:
    result = CliRunner().invoke(app, ["forecast", "missing.csv", "--horizon", "0"])
    assert result.exit_code == 2
    assert "-h" in result.output
    assert CliRunner().invoke(app, ["forecast", "-h"]).exit_code == 0
