"""Work folders a killed training left in the temp folder are removed by the next run (#16);
a live process's folder, and anything not ours, is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from training.workdirs import PREFIX, sweep_stale, work_folder


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_folders_of_dead_processes_go_and_the_rest_stay(tmp_path: Path) -> None:
    dead = tmp_path / f"{PREFIX}{_dead_pid()}-abc"
    alive = tmp_path / f"{PREFIX}{os.getpid()}-def"
    other = tmp_path / "ordercast-model-xyz"  # the service's download folders: not ours here
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "core.joblib").write_bytes(b"left behind")
    assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and other.exists()


def test_a_work_folder_is_named_for_its_process_and_removed_after() -> None:
    with work_folder() as folder:
        assert Path(folder).name.startswith(f"{PREFIX}{os.getpid()}-")
        (Path(folder) / "model.pkl").write_bytes(b"x")
    assert not Path(folder).exists()


def test_a_killed_training_leaves_a_folder_the_next_sweep_removes(tmp_path: Path) -> None:
    script = (
        "import os, signal\n"
        "from training.workdirs import work_folder\n"
        "with work_folder() as folder:\n"
        "    print(folder, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    killed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -9
    left = Path(killed.stdout.strip())
    assert left.is_dir()  # the kill skipped the cleanup
    assert sweep_stale(tmp_path) == [left]
