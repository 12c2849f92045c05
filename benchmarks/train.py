"""Benchmark: ``make demo`` from the history to a ready API, and ``ordercast train all``
per kind and step.

Runs the real commands of ``make demo`` in subprocesses (as a person or a scheduler
would): ``validate``, the two ``series`` builds, ``train all`` and ``serve`` until
``/ready`` answers 200, against a fresh embedded store, order store and output folder
in a temp folder, on the default demo history (``data/orders.csv.gz``, generated with
the defaults of ``make demo`` when missing; that one-time step is timed apart). Each
command's wall seconds and CPU seconds (user + system of the process and its children)
are printed: on a shared machine the wall time is the load's as much as ours, the CPU
time is ours. The load average is printed before and after.

Every pipeline logs the seconds of its steps as ``seconds.<step>`` metrics on its run;
this script reads them back. MLflow's share is bounded from above by the ``registry``
step (opening the store, finding the champion) plus the ``log`` step (tags, parameters,
metrics, reports, plots, the pyfunc with its signature and pinned requirements,
registration and aliases). The ``log`` step also renders the plots, so the true overhead
is a little lower.

Targets (issues #6, #22): ``make demo`` to a ready API under 5 minutes on a quiet 2-core
machine; MLflow overhead under 10% of ``train all``.

    .venv/bin/python benchmarks/train.py [--data data/orders.csv.gz] [--train-only]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KINDS = ("demand", "capacity", "risk")
MLFLOW_STEPS = ("registry", "log")
TARGET_SECONDS = 300.0
READY_TIMEOUT = 600.0


@dataclass(frozen=True)
class Timed:
    """One command of ``make demo``: its wall and CPU seconds and exit code."""

    name: str
    wall: float
    cpu: float
    code: int


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(name: str, command: list[str], ok: tuple[int, ...] = (0,)) -> Timed:
    """Run ``command``; raise with its stderr's tail when it exits with a code not in ``ok``."""
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    result = Timed(name, time.perf_counter() - started, children_cpu() - cpu, done.returncode)
    if done.returncode not in ok:
        print(done.stderr[-3000:])
        raise SystemExit(f"{name} failed with exit code {done.returncode}")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_until_ready(config: Path) -> Timed:
    """Start ``ordercast serve`` and time it until ``/ready`` answers 200 (then stop it)."""
    port = free_port()
    command = [str(BIN / "ordercast"), "serve", "--config", str(config), "--port", str(port)]
    cpu, started = children_cpu(), time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < READY_TIMEOUT:
            if server.poll() is not None:
                raise SystemExit(f"ordercast serve exited with code {server.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        else:
            raise SystemExit(f"the API was not ready within {READY_TIMEOUT:.0f} s")
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return Timed("serve until /ready", wall, children_cpu() - cpu, 0)


def demo_history(path: Path) -> tuple[Path, Timed | None]:
    if path.exists():
        return path, None
    print(f"generating the demo history at {path} (ordercast generate defaults)")
    return path, timed("generate (once)", [str(BIN / "ordercast"), "generate", "--out", str(path)])


def step_seconds(uri: str) -> dict[str, dict[str, float]]:
    """``{kind: {step: seconds}}`` from the newest run of each kind's experiment."""
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found = {}
    for kind in KINDS:
        experiment = client.get_experiment_by_name(f"ordercast-{kind}")
        if experiment is None:
            continue
        run = client.search_runs(
            [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
        )[0]
        found[kind] = {
            key.removeprefix("seconds."): value
            for key, value in run.data.metrics.items()
            if key.startswith("seconds.")
        } | {"total": run.data.metrics.get("train_seconds", float("nan"))}
    return found


def write_config(work: Path) -> tuple[Path, str]:
    """A configuration that keeps every store of the run in ``work``."""
    uri = f"sqlite:///{work / 'mlflow.db'}"
    config = work / "config.yaml"
    config.write_text(
        f"mlflow:\n  tracking_uri: {uri}\n  artifact_root: {work / 'artifacts'}\n"
        f"  lock_dir: {work / 'locks'}\n"
        f"database:\n  url: sqlite:///{work / 'orders.db'}\n"
    )
    return config, uri


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "orders.csv.gz")
    parser.add_argument(
        "--train-only",
        action="store_true",
        help="Time `train all` alone (no validate, series, serve).",
    )
    args = parser.parse_args(argv)
    print(f"before: {load()}, {os.cpu_count()} cores")
    data, generated = demo_history(args.data)
    ordercast = str(BIN / "ordercast")

    with tempfile.TemporaryDirectory(prefix="ordercast-train-bench-") as folder:
        work = Path(folder)
        config, uri = write_config(work)
        commands: list[Timed] = []
        if not args.train_only:
            commands.append(timed("validate", [ordercast, "validate", str(data)]))
            for by, freq, out in (("sku,site", "D", "daily.parquet"), ("site", "W", "weekly.csv")):
                series = [ordercast, "series", str(data), "--by", by, "--freq", freq]
                commands.append(timed(f"series {by} {freq}", [*series, "--out", str(work / out)]))
        train = [ordercast, "train", "all", "--data", str(data), "--config", str(config)]
        commands.append(timed("train all", train, ok=(0, 3)))
        steps = step_seconds(uri)
        if not args.train_only:
            commands.append(serve_until_ready(config))

    wall = next(c.wall for c in commands if c.name == "train all")
    print(f"\nordercast train all --data {data}")
    print(f"{'kind':<9} {'step':<18} {'seconds':>8} {'share':>7}")
    pipelines_total = 0.0
    mlflow_total = 0.0
    for kind, seconds in steps.items():
        for step, value in seconds.items():
            if step == "total":
                continue
            print(f"{kind:<9} {step:<18} {value:>8.1f} {value / wall:>7.1%}")
            if step in MLFLOW_STEPS:
                mlflow_total += value
        pipelines_total += seconds["total"]
        print(f"{kind:<9} {'(total)':<18} {seconds['total']:>8.1f} {seconds['total'] / wall:>7.1%}")
    startup = wall - pipelines_total
    print(f"{'process':<9} {'start-up, imports':<18} {startup:>8.1f} {startup / wall:>7.1%}")
    print(
        f"MLflow overhead (registry + log steps, an upper bound): {mlflow_total:.1f} s = "
        f"{mlflow_total / wall:.1%} of train all (target < 10%) "
        f"{'PASS' if mlflow_total / wall < 0.10 else 'FAIL'}"
    )

    print(f"\nmake demo, command by command (after: {load()})")
    print(f"{'command':<22} {'wall s':>8} {'CPU s':>8}")
    for command in ([generated] if generated else []) + commands:
        print(f"{command.name:<22} {command.wall:>8.1f} {command.cpu:>8.1f}")
    total = sum(c.wall for c in commands)
    cpu = sum(c.cpu for c in commands)
    what = "train all" if args.train_only else "make demo to a ready API"
    print(
        f"{what}: {total:.1f} s wall, {cpu:.1f} s CPU (target < {TARGET_SECONDS:.0f} s on a "
        f"quiet machine) {'PASS' if total < TARGET_SECONDS else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
