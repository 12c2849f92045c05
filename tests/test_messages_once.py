"""Every ``train`` message reaches its reader once: on a terminal, through ``2>&1``, and
with stdout and stderr kept apart (the log line for the scheduler, the sentence for a
person). A real ``ordercast`` process each time, on a small history, as a dry run."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from forecasting.synthetic import generate_orders

ORDERCAST = str(Path(sys.executable).parent / "ordercast")
KINDS = ("demand", "capacity", "risk")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "orders.csv"
    generate_orders(sites=1, skus=4, days=90, seed=1).orders.to_csv(path, index=False)
    return path


def _command(history: Path) -> list[str]:
    return [ORDERCAST, "train", "all", "--data", str(history), "--dry-run"]


def _environment() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def _on_a_terminal(command: list[str]) -> str:
    """What a person at a terminal sees: stdout and stderr on one pseudo-terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=_environment()
    )
    os.close(follower)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=60)
    os.close(leader)
    return seen.decode(errors="replace")


def test_each_outcome_reaches_a_terminal_once(history: Path) -> None:
    seen = _on_a_terminal(_command(history))
    assert seen.count("dry run:") == len(KINDS), seen
    assert seen.count("load done in") == len(KINDS), seen


def test_each_outcome_is_one_line_when_stderr_joins_stdout(history: Path) -> None:
    done = subprocess.run(
        _command(history),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environment(),
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("dry run:") == len(KINDS), done.stdout
    for kind in KINDS:
        assert done.stdout.count(f"{kind}: load done in") == 1, done.stdout


def test_a_scheduler_capturing_stderr_alone_still_logs_each_outcome(history: Path) -> None:
    done = subprocess.run(
        _command(history), capture_output=True, text=True, env=_environment(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("dry run:") == len(KINDS), done.stderr
    assert done.stdout.count("dry run:") == len(KINDS), done.stdout
    assert done.stderr.count("ordercast.commands") == len(KINDS), done.stderr
