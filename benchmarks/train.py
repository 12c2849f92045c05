"""Benchmark: ``ordercast train all`` on the demo history, time per step and MLflow's share.

Runs the real command in a subprocess (as a scheduler would) against a fresh embedded
store in a temp folder, on the default demo history (``data/orders.csv.gz``, generated
with the defaults of ``make demo`` when missing). Every pipeline logs the seconds of its
steps as ``seconds.<step>`` metrics on its run; this script reads them back.

MLflow's share is bounded from above by the ``registry`` step (opening the store,
finding the champion) plus the ``log`` step (tags, parameters, metrics, reports, plots,
the pyfunc with its signature and pinned requirements, registration and aliases). The
``log`` step also renders the plots, so the true overhead is a little lower.

Targets (issue #6): the whole run under 5 minutes; MLflow overhead under 10% of it.

    .venv/bin/python benchmarks/train.py [--data data/orders.csv.gz]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
KINDS = ("demand", "capacity", "risk")
MLFLOW_STEPS = ("registry", "log")


def demo_history(path: Path) -> Path:
    if not path.exists():
        print(f"generating the demo history at {path} (ordercast generate defaults)")
        subprocess.run([str(BIN / "ordercast"), "generate", "--out", str(path)], check=True)
    return path


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "orders.csv.gz")
    args = parser.parse_args(argv)
    data = demo_history(args.data)

    with tempfile.TemporaryDirectory(prefix="ordercast-train-bench-") as folder:
        work = Path(folder)
        uri = f"sqlite:///{work / 'mlflow.db'}"
        config = work / "config.yaml"
        config.write_text(
            f"mlflow:\n  tracking_uri: {uri}\n  artifact_root: {work / 'artifacts'}\n"
            f"  lock_dir: {work / 'locks'}\n"
        )
        command = [str(BIN / "ordercast"), "train", "all", "--data", str(data)]
        started = time.perf_counter()
        done = subprocess.run([*command, "--config", str(config)], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 3):
            print(done.stderr[-3000:])
            raise SystemExit(f"ordercast train all failed with exit code {done.returncode}")
        steps = step_seconds(uri)

    print(f"ordercast train all --data {data} (exit {done.returncode})")
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
        f"wall time of the whole command: {wall:.1f} s (target < 300 s) "
        f"{'PASS' if wall < 300 else 'FAIL'}"
    )
    print(
        f"MLflow overhead (registry + log steps, an upper bound): {mlflow_total:.1f} s = "
        f"{mlflow_total / wall:.1%} of the run (target < 10%) "
        f"{'PASS' if mlflow_total / wall < 0.10 else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
