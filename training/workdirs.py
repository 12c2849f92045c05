"""Work folders of trainings and refreshes: named after the process that made them, so the
next run can remove what a killed one (kill -9, OOM, a node gone) left in the temp folder.

A normal exit removes its folder as ``tempfile.TemporaryDirectory`` does; only a process
that never reached its cleanup leaves one, and it is removed once no process of that number
is alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)
PREFIX = "ordercast-work-"


@contextlib.contextmanager
def work_folder() -> Iterator[str]:
    """A fresh folder for one run's files, removed when the block ends."""
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale(root: Path | None = None) -> list[Path]:
    """Remove the work folders under ``root`` (the temp folder) whose process is gone."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name.removeprefix(PREFIX).split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)) or not folder.is_dir():
            continue
        shutil.rmtree(folder, ignore_errors=True)
        logger.info("removed %s, left by an interrupted run (process %s)", folder, pid)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to judge
        return True
    return True
