"""Benchmark: `ordercast forecast` on large weekly SKU x site panels, on joblib and on a
real Dask cluster, against StatsForecast's AutoETS on the same panel.

For each size (``--sizes``, default 10,000, 50,000 and 100,000 series) the script
generates a weekly panel (``--weeks`` points per series, yearly seasonality, Poisson
noise, 30% of series intermittent; seeded) and runs, as a person would:

* ``ordercast forecast PANEL --horizon H --n-jobs W`` (joblib, W local processes);
* the same with ``--dask ADDRESS`` against a cluster started here: ``dask scheduler``
  and W ``dask worker`` processes (one thread each, no nanny), started fresh for each
  size so that each worker's peak memory is that run's;
* StatsForecast ``AutoETS(season_length=52)`` with ``n_jobs=W`` on the same panel (on
  its first ``--peer-series`` series when that is smaller; once, at the first size: the
  peer's throughput is per series, so a slice measures it).

Printed per run: wall seconds, series per second, series per second per core (W cores
work: the W joblib processes or the W one-thread workers), CPU seconds of every process
involved (driver, joblib processes, workers), the driver's share of them (on the cluster:
the global model and the bookkeeping that does not spread over workers) and series per
CPU second (the figure the load of a shared machine moves least), peak resident memory
of the driver and of each worker (the kernel's VmHWM, read while the process runs), and
the 1-minute load average before and after. Ratios are to the peer's series/s/core
measured in the same run.

What the runs do differ: ordercast backtests several candidate models per series on
rolling windows, trains a global gradient-boosting model across the panel (on the
driver), chooses per series and forecasts with quantiles; AutoETS fits one model family
per series (its own AICc search) and forecasts.

    .venv/bin/python benchmarks/scale.py --sizes 2000,10000 [--weeks 156] [--workers 2]
        [--modes joblib,dask] [--peer-series 2000] [--out scale.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

BIN = Path(sys.executable).parent
SEASON = 52
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def weekly_panel(n: int, weeks: int, seed: int = 0) -> pd.DataFrame:
    """``n`` weekly SKU x site series of ``weeks`` points: a lognormal level per series,
    yearly seasonality of random amplitude (0-40%) and phase, a small trend, Poisson
    counts; 30% of the series keep each week's demand with probability 0.25 (intermittent).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    level = rng.lognormal(3, 1, n)[:, None]
    amplitude = rng.uniform(0, 0.4, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    trend = rng.normal(0, 0.002, n)[:, None]
    mean = level * (1 + amplitude * np.sin(2 * np.pi * t / SEASON + phase)) * np.exp(trend * t)
    y = rng.poisson(mean).astype(float)
    sparse = rng.random(n) < 0.3
    y[sparse] *= rng.random((int(sparse.sum()), weeks)) < 0.25
    ds = pd.date_range("2023-01-01", periods=weeks, freq="W-SUN")
    ids = np.array([f"SKU{i // 10:05d}|S{i % 10}" for i in range(n)])
    return pd.DataFrame(
        {"series_id": np.repeat(ids, weeks), "ds": np.tile(ds, n), "y": y.reshape(-1)}
    )


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), MB; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


@dataclass
class Watch:
    """Samples the peak memory and CPU time of a process, its descendants and some
    other processes (the workers) every ``interval`` seconds while a run goes on."""

    driver: int
    others: dict[str, int] = field(default_factory=dict)
    interval: float = 0.25
    peaks: dict[int, float] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    children: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._start_cpu = {pid: _cpu(pid) or 0.0 for pid in self.others.values()}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        pids = [self.driver, *self.others.values()]
        try:
            kids = [p.pid for p in psutil.Process(self.driver).children(recursive=True)]
        except psutil.NoSuchProcess:
            kids = []
        self.children.update(kids)
        for pid in [*pids, *kids]:
            peak = peak_rss_mb(pid)
            if peak is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))
            cpu = _cpu(pid)
            if cpu is not None:
                self.cpu[pid] = cpu

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def stop(self) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def worker_cpu(self) -> float:
        return sum(self.cpu.get(pid, 0.0) - self._start_cpu[pid] for pid in self.others.values())


def _cpu(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return None
    return float(times.user + times.system)


@dataclass(frozen=True)
class Figure:
    size: int
    run: str
    wall: float
    cores: int
    cpu: float
    driver_mb: float | None
    worker_mb: tuple[float, ...]
    load_before: float
    load_after: float
    series: int
    driver_cpu: float | None = None  # the driver and its joblib processes

    def row(self, peer_per_core: float | None) -> dict[str, object]:
        per_core = self.series / self.wall / self.cores
        return {
            "series": self.size,
            "run": self.run,
            "wall_s": round(self.wall, 1),
            "series_per_s": round(self.series / self.wall, 1),
            "series_per_s_core": round(per_core, 2),
            "vs_peer": None if not peer_per_core else round(per_core / peer_per_core, 2),
            "cpu_s": round(self.cpu, 1),
            "driver_cpu_s": None if self.driver_cpu is None else round(self.driver_cpu, 1),
            "series_per_cpu_s": round(self.series / self.cpu, 2) if self.cpu else None,
            "driver_peak_mb": None if self.driver_mb is None else round(self.driver_mb),
            "worker_peak_mb": "/".join(f"{m:.0f}" for m in self.worker_mb),
            "load_1min": f"{self.load_before:.1f}->{self.load_after:.1f}",
        }


def load() -> float:
    return os.getloadavg()[0]


def run_forecast(
    panel: Path, out: Path, horizon: int, extra: Sequence[str], workers: dict[str, int]
) -> tuple[float, float, float, float | None, Watch]:
    """`ordercast forecast` in a subprocess: (wall s, CPU s of driver + descendants +
    workers, CPU s of the driver and its descendants, driver peak MB, the watch)."""
    command = [str(BIN / "ordercast"), "forecast", str(panel), "--horizon", str(horizon)]
    command += ["--out", str(out), *extra]
    started = time.perf_counter()
    before = os.times()
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watch = Watch(process.pid, workers)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    watch.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}: {stderr[-2000:]!r}")
    after = os.times()
    # The driver and its joblib processes are reaped children: their CPU is in os.times().
    own = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    print("   ", stdout.decode().strip().splitlines()[-1], flush=True)
    return wall, own + watch.worker_cpu(), own, watch.peaks.get(process.pid), watch


class LocalCluster:
    """A real `dask scheduler` and ``n`` one-thread `dask worker` processes on loopback."""

    def __init__(self, n: int, folder: Path) -> None:
        self.processes: list[subprocess.Popen] = []
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / "scheduler.json"
        self._start(
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
            folder / "scheduler.log",
        )
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("dask scheduler did not start")
            time.sleep(0.2)
        self.address = json.loads(file.read_text())["address"]
        self.workers: dict[str, int] = {}
        for i in range(n):
            name = f"w{i + 1}"
            process = self._start(
                [
                    str(BIN / "dask"),
                    "worker",
                    self.address,
                    "--name",
                    name,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--memory-limit",
                    "0",
                    "--no-dashboard",
                    "--local-directory",
                    str(folder / name),
                ],
                folder / f"{name}.log",
            )
            self.workers[name] = process.pid
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(n, timeout=120)

    def _start(self, command: list[str], log: Path) -> subprocess.Popen:
        with log.open("w") as sink:
            process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=sink)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def peer(frame: pd.DataFrame, horizon: int, n_jobs: int) -> tuple[float, float, int]:
    """StatsForecast AutoETS on ``frame``: (wall s, CPU s of this process and its
    children, series)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    data = frame.rename(columns={"series_id": "unique_id"})
    started, before = time.perf_counter(), os.times()
    sf = StatsForecast(models=[AutoETS(season_length=SEASON)], freq="W-SUN", n_jobs=n_jobs)
    sf.forecast(df=data, h=horizon)
    after = os.times()
    cpu = sum(getattr(after, a) - getattr(before, a) for a in ("user", "system"))
    cpu += sum(getattr(after, a) - getattr(before, a) for a in ("children_user", "children_system"))
    return time.perf_counter() - started, cpu, int(data["unique_id"].nunique())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,100000", help="series counts, e.g. 2000")
    parser.add_argument("--weeks", type=int, default=156, help="points per series")
    parser.add_argument("--horizon", type=int, default=13)
    parser.add_argument("--workers", type=int, default=2, help="joblib processes / dask workers")
    parser.add_argument("--modes", default="joblib,dask", help="joblib, dask or both")
    parser.add_argument(
        "--peer-series", type=int, default=2000, help="AutoETS on at most this many (0: all)"
    )
    parser.add_argument("--out", type=Path, help="also write the table here (CSV)")
    args = parser.parse_args(argv)
    sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    print(f"machine: {os.cpu_count()} cores; load {os.getloadavg()}", flush=True)

    rows = []
    peer_per_core: float | None = None
    with tempfile.TemporaryDirectory(prefix="ordercast-scale-") as tmp:
        folder = Path(tmp)
        for size in sizes:
            frame = weekly_panel(size, args.weeks)
            panel = folder / f"panel-{size}.parquet"
            frame.to_parquet(panel, index=False)
            figures: list[Figure] = []
            if peer_per_core is None:  # once: the peer's rate is per series, not per panel
                sample = frame.iloc[: args.peer_series * args.weeks] if args.peer_series else frame
                print(f"{size:,} series x {args.weeks} weeks: StatsForecast AutoETS", flush=True)
                before = load()
                wall, cpu, count = peer(sample, args.horizon, args.workers)
                peer_per_core = count / wall / args.workers
                figures.append(
                    Figure(size, f"statsforecast AutoETS ({count:,} series)", wall,
                           args.workers, cpu, None, (), before, load(), count)
                )  # fmt: skip
            if "joblib" in modes:
                print(f"{size:,} series: ordercast forecast --n-jobs {args.workers}", flush=True)
                before = load()
                wall, cpu, own, driver, watch = run_forecast(
                    panel, folder / "fc.parquet", args.horizon, ["--n-jobs", str(args.workers)], {}
                )
                joblib_peaks = tuple(
                    watch.peaks[p] for p in sorted(watch.children) if p in watch.peaks
                )
                figures.append(
                    Figure(size, "ordercast joblib", wall, args.workers, cpu, driver,
                           joblib_peaks, before, load(), size, own)
                )  # fmt: skip
            if "dask" in modes:
                print(f"{size:,} series: ordercast forecast --dask ({args.workers} workers)")
                cluster = LocalCluster(args.workers, folder / f"dask-{size}")
                try:
                    before = load()
                    wall, cpu, own, driver, watch = run_forecast(
                        panel,
                        folder / "fc.parquet",
                        args.horizon,
                        ["--dask", cluster.address],
                        cluster.workers,
                    )
                    worker_peaks = tuple(watch.peaks.get(p, 0.0) for p in cluster.workers.values())
                finally:
                    cluster.close()
                figures.append(
                    Figure(size, "ordercast dask", wall, args.workers, cpu, driver,
                           worker_peaks, before, load(), size, own)
                )  # fmt: skip
            for figure in figures:
                rows.append(figure.row(peer_per_core))
            table = pd.DataFrame(rows)
            print(table.to_string(index=False), flush=True)
            if args.out:
                table.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
