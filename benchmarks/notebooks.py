"""Benchmark: each analyst notebook in ``notebooks/``, executed top to bottom at demo size.

Runs every notebook headless with nbclient (as ``tests/notebooks`` does, but without
``ORDERCAST_NOTEBOOK_SMALL``: the size an analyst opens) in a subprocess of its own, and
prints per notebook its wall seconds, its CPU seconds (user + system of the kernel and the
worker processes it started) and the load average at start and at end, then PASS or FAIL
against the 60 s target of issue #22 item 7. On a shared machine the wall time is the
load's as much as ours; the CPU time is ours, except that on a busy machine the OpenMP
threads of scikit-learn's boosting (02, 04) spin while they wait for a core and inflate
it many times (a 500-round global model on 10,000 rows at load 8: 95 CPU-s with 2 threads,
5.5 with one). ``--omp-threads 1`` shows the work without that spinning; its CPU seconds
are about what a quiet machine takes in wall seconds (less where joblib uses both cores).

Each notebook runs with its working directory at ``notebooks/``, as in JupyterLab; the
executed notebook is not written back (``--keep DIR`` writes the executed copies there).

    .venv/bin/python benchmarks/notebooks.py [--only 02] [--small] [--cells] [--keep DIR]
                                             [--omp-threads 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: benchmarks.train is a sibling to reuse
    sys.path.insert(0, str(ROOT))

from benchmarks.train import children_cpu  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
TARGET_SECONDS = 60.0
CELL_TIMEOUT = 1800


@dataclass(frozen=True)
class Timed:
    """One notebook's run: wall and CPU seconds, load average before and after, outcome."""

    name: str
    wall: float
    cpu: float
    load_start: float
    load_end: float
    ok: bool


def execute(path: Path, keep: Path | None) -> None:
    """Execute one notebook in a fresh kernel (in the subprocess); raise on a failing cell."""
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for number, cell in enumerate(book.cells):
        stamps = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "shell.execute_reply" in stamps:
            seconds = (
                datetime.fromisoformat(stamps["shell.execute_reply"])
                - datetime.fromisoformat(stamps["iopub.execute_input"])
            ).total_seconds()
            first = cell.source.splitlines()[0] if cell.source else ""
            print(f"    cell {number:>2} {seconds:7.1f} s  {first[:60]}")
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(book, keep / path.name)


def run_one(
    path: Path, small: bool, keep: Path | None, omp_threads: int | None, cells: bool
) -> Timed:
    """Time one notebook in a subprocess, so its kernel and workers are counted as our children."""
    leaked = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")  # as tests/notebooks drops them
    env = {k: v for k, v in os.environ.items() if k not in leaked}
    env["MPLBACKEND"] = "Agg"
    env.pop("ORDERCAST_NOTEBOOK_SMALL", None)
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    if small:
        env["ORDERCAST_NOTEBOOK_SMALL"] = "1"
    command = [sys.executable, __file__, "--execute", str(path)]
    if keep is not None:
        command += ["--keep", str(keep)]
    load_start, cpu, started = os.getloadavg()[0], children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall, used = time.perf_counter() - started, children_cpu() - cpu
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
    if cells:
        print(done.stdout, end="")
    return Timed(path.stem, wall, used, load_start, os.getloadavg()[0], done.returncode == 0)


def row(timed: Timed, verdict: str) -> str:
    """One line of the table."""
    return (
        f"{timed.name:<26}{timed.wall:>8.1f}{timed.cpu:>8.1f}"
        f"{timed.load_start:>12.2f}{timed.load_end:>10.2f}  {verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", default=[], help="run notebooks whose name starts with this"
    )
    parser.add_argument(
        "--small", action="store_true", help="the test suite's size (ORDERCAST_NOTEBOOK_SMALL=1)"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the executed notebooks into this folder"
    )
    parser.add_argument(
        "--omp-threads",
        type=int,
        default=None,
        help="OMP_NUM_THREADS for the kernel: 1 shows the work without OpenMP threads spinning "
        "against other processes' (on a busy machine they inflate CPU seconds many times)",
    )
    parser.add_argument(
        "--cells", action="store_true", help="print each code cell's wall seconds before its row"
    )
    parser.add_argument("--execute", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.execute is not None:
        execute(args.execute, args.keep)
        return 0

    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(prefix) for prefix in args.only)]
    size = "small (ORDERCAST_NOTEBOOK_SMALL=1)" if args.small else "demo size"
    threads = "" if args.omp_threads is None else f", OMP_NUM_THREADS={args.omp_threads}"
    print(
        f"{len(paths)} notebooks at {size} on {os.cpu_count()} cores{threads}; "
        f"target {TARGET_SECONDS:.0f} s wall each"
    )
    print(f"{'notebook':<26}{'wall s':>8}{'CPU s':>8}{'load start':>12}{'load end':>10}  result")
    results = []
    for path in paths:
        timed = run_one(path, args.small, args.keep, args.omp_threads, args.cells)
        results.append(timed)
        verdict = "ERROR" if not timed.ok else ("PASS" if timed.wall <= TARGET_SECONDS else "FAIL")
        print(row(timed, verdict), flush=True)
    total_wall, total_cpu = sum(t.wall for t in results), sum(t.cpu for t in results)
    print(f"{'total':<26}{total_wall:>8.1f}{total_cpu:>8.1f}")
    print("load average now " + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1, 5, 15 min)")
    return 0 if all(t.ok and t.wall <= TARGET_SECONDS for t in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
