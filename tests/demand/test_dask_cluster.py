"""`ordercast forecast --dask` and `ordercast train demand --dask` on a real Dask cluster.

The test starts a `dask scheduler` and two `dask worker` processes (one thread each, no
nanny, 1 GiB each) on loopback, as a team would on its machines, and checks that:

* the forecast and the demand training give the same numbers as the joblib run on the
  same data (same seeds), and both workers ran some of the series;
* with one worker killed (SIGKILL, like a lost machine) after the first series came
  back, the run finishes on the other worker: the scheduler hands the lost worker's
  series to the survivor, the command exits 0 and the forecasts are the joblib run's.

Every process started here is stopped in the fixtures' finalizers, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.synthetic import generate_orders
from ordercast.cli import main
from tests.mlflow_stores import empty_store
from tests.training.conftest import champion_artifacts, write_config

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
# Cheap models and a short season keep the whole module near a minute on a busy 2-core box;
# what is under test is where the work runs, not which model wins.
MODELS = "naive,seasonal_naive,theta,sba"
FORECAST = ["--horizon", "4", "--season", "4", "--windows", "2", "--models", MODELS]


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)

    def client(self) -> distributed.Client:
        return distributed.Client(self.address, timeout="20s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture()
def start_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Cluster]]:
    """Starts a scheduler and two workers (`w1`, `w2`) on loopback; stops them afterwards."""
    started: list[subprocess.Popen] = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

    def start() -> Cluster:
        folder = tmp_path_factory.mktemp("dask")
        file = folder / "scheduler.json"
        scheduler = subprocess.Popen(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "scheduler.log").open("w"),
        )
        started.append(scheduler)
        deadline = time.monotonic() + 30
        while not file.exists() or not file.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {(folder / 'scheduler.log')}")
            time.sleep(0.2)
        cluster = Cluster(json.loads(file.read_text())["address"], scheduler)
        for name in ("w1", "w2"):
            worker = subprocess.Popen(
                [
                    str(BIN / "dask"),
                    "worker",
                    cluster.address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--memory-limit",
                    "1GiB",
                    "--no-dashboard",
                    "--local-directory",
                    str(folder / name),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=(folder / f"{name}.log").open("w"),
            )
            started.append(worker)
            cluster.workers[name] = worker
        with cluster.client() as client:
            client.wait_for_workers(2, timeout=60)
        return cluster

    yield start
    for process in reversed(started):
        _stop(process)


def executed(client: distributed.Client) -> dict[str, int]:
    """Tasks each worker has run so far, by worker name."""
    counts = client.run(lambda dask_worker: (dask_worker.name, dask_worker.state.executed_count))
    return dict(counts.values())


def weekly_panel(path: Path, n_series: int = 30, weeks: int = 60) -> Path:
    rng = np.random.default_rng(0)
    ds = pd.date_range("2024-01-07", periods=weeks, freq="W-SUN")
    t = np.arange(weeks)
    parts = [
        pd.DataFrame(
            {
                "series_id": f"s{i:02d}",
                "ds": ds,
                "y": np.maximum(20 + 5 * np.sin(t * np.pi / 2 + i) + rng.normal(0, 2, weeks), 0),
            }
        )
        for i in range(n_series)
    ]
    pd.concat(parts).to_csv(path, index=False)
    return path


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).sort_values(["series_id", "ds"]).reset_index(drop=True)


def test_forecast_and_train_on_a_real_cluster_match_joblib(
    start_cluster: Callable[[], Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = weekly_panel(tmp_path / "panel.csv")
    cluster = start_cluster()

    # 1. forecast: joblib (two local processes) and the cluster give the same frame.
    local, remote = tmp_path / "local.csv", tmp_path / "remote.csv"
    assert main(["forecast", str(panel), "--out", str(local), "--n-jobs", "2", *FORECAST]) == 0
    with cluster.client() as monitor:
        before = executed(monitor)
        code = main(
            ["forecast", str(panel), "--out", str(remote), "--dask", cluster.address, *FORECAST]
        )
        assert code == 0
        ran = {name: count - before[name] for name, count in executed(monitor).items()}
    pd.testing.assert_frame_equal(read(local), read(remote))
    assert set(ran) == {"w1", "w2"}
    assert all(count > 0 for count in ran.values()), ran

    # 2. train demand: the same model choices and scores with and without the cluster.
    history = tmp_path / "orders.csv"
    generate_orders(sites=2, skus=6, days=150, seed=4).orders.to_csv(history, index=False)
    selections = []
    for name, extra in (("joblib", []), ("dask", ["--dask", cluster.address])):
        folder = tmp_path / name
        folder.mkdir()
        monkeypatch.setenv("ORDERCAST_DATABASE_URL", f"sqlite:///{folder / 'orders.db'}")
        uri = empty_store(folder / "mlflow.db")
        config = write_config(folder, uri, models=MODELS, n_jobs=2)
        with cluster.client() as monitor:
            before = executed(monitor)
            code = main(
                ["train", "demand", "--data", str(history), "--config", str(config), *extra]
            )
            ran = {w: count - before[w] for w, count in executed(monitor).items()}
        assert code == 0
        if name == "dask":
            assert all(count > 0 for count in ran.values()), ran
        else:
            assert sum(ran.values()) == 0  # the joblib run stayed off the cluster
        selection = pd.read_csv(champion_artifacts(uri, "demand")["reports/selection.csv"])
        selections.append(selection.sort_values("series_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(*selections)


def test_a_worker_killed_mid_run_leaves_the_run_to_the_other(
    start_cluster: Callable[[], Cluster], tmp_path: Path
) -> None:
    panel = weekly_panel(tmp_path / "panel.csv", n_series=40)
    local, remote = tmp_path / "local.csv", tmp_path / "remote.csv"
    assert main(["forecast", str(panel), "--out", str(local), "--n-jobs", "2", *FORECAST]) == 0
    cluster = start_cluster()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with cluster.client() as monitor:
        run = subprocess.Popen(
            [
                str(BIN / "ordercast"),
                "forecast",
                str(panel),
                "--out",
                str(remote),
                "--dask",
                cluster.address,
                *FORECAST,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Wait for the first series to come back, then kill the worker that is busy.
            deadline = time.monotonic() + 120
            while sum(executed(monitor).values()) == 0:
                assert run.poll() is None, run.communicate()
                assert time.monotonic() < deadline, "no series ran on the cluster"
                time.sleep(0.05)
            busy = monitor.run_on_scheduler(
                lambda dask_scheduler: {
                    ws.name: len(ws.processing) for ws in dask_scheduler.workers.values()
                }
            )
            victim = max(busy, key=lambda name: busy[name])
            survivor = "w2" if victim == "w1" else "w1"
            at_kill = executed(monitor)[survivor]
            assert run.poll() is None  # still running: the kill lands mid-run
            cluster.workers[victim].send_signal(signal.SIGKILL)
            _out, err = run.communicate(timeout=180)
        finally:
            _stop(run)
        after = executed(monitor)
    # The run finished on the survivor, which took on work after the kill.
    assert run.returncode == 0, err[-3000:]
    assert set(after) == {survivor}
    assert after[survivor] > at_kill
    pd.testing.assert_frame_equal(read(local), read(remote))
