"""Soak: mixed traffic at a fixed rate for minutes, with a champion swap every 30 s.

Starts ``ordercast serve`` over a registry, drives it from a separate process with demand,
capacity and at-risk requests at a fixed rate (latency from each request's scheduled
time, so queueing counts), and every ``--swap-every`` seconds promotes the other of two
demand versions (``training.registry.promote``) and posts ``/v1/admin/reload``. Prints
the errors, p50/p99 overall, within +-1 s of a swap and away from swaps.

Usage: ``.venv/bin/python benchmarks/soak.py [--seconds 600] [--rate 200] [--swap-every 30]
[--store sqlite:///models/mlflow.db] [--train] [--fresh-risk]``. Without demand, capacity and risk
champions in the store (or with ``--train``) the demo models are trained into a temp store.
Targets (#16): 0 errors; p99 <= 50 ms overall; p99 around swaps <= 2x p99 away from them.

Measured 2026-12-02 on the demo's champions (2 cores, quiet, one server worker unless
said), p50 / p99 ms:

==========================================  =======  ===========  ============  ======
run                                         errors   all          near swaps    away
==========================================  =======  ===========  ============  ======
default, 600 s (19 swaps)                   0        1.9 / 5.5    2.2 / 7.6     5.0
  same, loading at the default switch int.  0        1.8 / 6.5    2.1 / 22.8    5.3
--fresh-risk, 300 s                         0        21,505 /     saturated: latency grew
                                                     37,948       from 0.5 s to 31 s
--fresh-risk, 90 s, ORDERCAST_API__WORKERS=2  0      2.4 / 42.7   3.6 / 124.9   41.2
==========================================  =======  ===========  ============  ======

The default run cycles 50 at-risk batches (as it cycles 200 demand and 2 capacity
questions): after the first round they are answered from the response cache, and its
first minute, while they are stored, has p99 38 ms. Scored every time, a 5-line batch
costs ~21 ms over HTTP, and 22 a second on top of the rest is more than one worker's
interpreter gives (it holds the GIL); two workers keep up, at p99 139 ms for at-risk.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: benchmarks.api is a sibling to reuse
    sys.path.insert(0, str(ROOT))

from benchmarks.api import (  # noqa: E402
    QUANTILES,
    Connection,
    at_risk_bodies,
    demand_series,
    has_champion,
    start_serve,
    train_demo,
    wait_until_up,
)

KINDS = ("demand", "capacity", "risk")
AROUND_SWAP_SECONDS = 1.0

# (path, encoded body) per request; the generator cycles through them.
Request = tuple[str, bytes]


PATHS = {
    "demand": "/v1/forecasts/demand",
    "capacity": "/v1/forecasts/capacity",
    "risk": "/v1/orders/at-risk",
}
DEFAULT_MIX = {"demand": 6, "capacity": 2, "risk": 1}
# Different at-risk batches the default run cycles through (--fresh-risk: one per request).
CYCLED_RISK_BATCHES = 50


def parse_mix(text: str) -> dict[str, int]:
    """``demand=6,capacity=2,risk=1`` -> requests of each kind per round (0 leaves a kind out)."""
    mix: dict[str, int] = {}
    for part in text.split(","):
        kind, _, count = part.partition("=")
        if kind.strip() not in PATHS or not count.strip().isdigit():
            raise SystemExit(f"--mix: '{part}' is not KIND=COUNT with KIND one of {list(PATHS)}")
        mix[kind.strip()] = int(count)
    if not any(mix.values()):
        raise SystemExit("--mix: every count is 0")
    return mix


def mixed_requests(
    pairs: list[tuple[str, str]],
    mix: dict[str, int] = DEFAULT_MIX,
    risk_batches: int = CYCLED_RISK_BATCHES,
) -> list[Request]:
    """Demand forecasts, capacity outlooks and 5-line at-risk batches, interleaved by
    ``mix`` (default 6:2:1), cycling through ``risk_batches`` different batches (the
    server answers a repeated request from its response cache, as for the other kinds)."""
    sites = sorted({site for _, site in pairs})
    bodies = {
        "demand": [
            {"sku": sku, "site": site, "horizon": 13, "quantiles": QUANTILES} for sku, site in pairs
        ],
        "capacity": [{"sites": [site], "horizon": 14} for site in sites],
        "risk": at_risk_bodies(pairs, 5, risk_batches),
    }
    taken = dict.fromkeys(PATHS, 0)
    requests: list[Request] = []
    rounds = max(len(pairs) // (mix.get("demand") or 1), risk_batches // (mix.get("risk") or 1))
    for _ in range(rounds):
        for kind, count in mix.items():
            for _ in range(count):
                body = bodies[kind][taken[kind] % len(bodies[kind])]
                taken[kind] += 1
                requests.append((PATHS[kind], json.dumps(body).encode()))
    return requests


async def mixed_open_loop(
    url: str, requests: list[Request], rate: float, seconds: float
) -> list[tuple[float, float, int, str]]:
    """``rate`` requests/s for ``seconds``: (wall-clock scheduled time, latency ms, status)
    of each, so the caller can set them against the swap times."""
    parsed = httpx.URL(url)
    host, port = parsed.host, int(parsed.port or 80)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(256):
        idle.put_nowait(Connection(host, port))
    results: list[tuple[float, float, int, str]] = []
    wall_offset = time.time() - time.perf_counter()

    async def one(i: int, scheduled: float) -> None:
        path, body = requests[i % len(requests)]
        connection = await idle.get()
        try:
            status = await asyncio.wait_for(connection.post(path, body), 10)
        except TimeoutError:
            connection.close()
            status = 0
        idle.put_nowait(connection)
        latency = (time.perf_counter() - scheduled) * 1000
        results.append((scheduled + wall_offset, latency, status, path))

    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return results


def drive(url: str, requests: list[Request], rate: float, seconds: float) -> list:
    """Entry point of the load-generator process."""
    return asyncio.run(mixed_open_loop(url, requests, rate, seconds))


def two_demand_versions(uri: str) -> tuple[str, str]:
    """The demand champion and a second version to swap with. Without one, the champion's
    model is registered again (same artifacts and recorded hash): a real download and load
    at each swap, without a training."""
    from mlflow.tracking import MlflowClient

    from training import registry
    from training.serving import MODEL_HASH_TAG

    client = MlflowClient(uri, uri)
    name = registry.model_name("demand")
    champion = client.get_model_version_by_alias(name, registry.CHAMPION)
    for found in client.search_model_versions(f"name='{name}'"):
        other = str(found.version) != str(champion.version)
        if other and registry.decided(found) and MODEL_HASH_TAG in found.tags:
            return str(champion.version), str(found.version)
    copy = client.create_model_version(
        name, champion.source, run_id=champion.run_id, tags=dict(champion.tags)
    )
    return str(champion.version), str(copy.version)


def swap_loop(
    uri: str, url: str, versions: tuple[str, str], every: float, stop: threading.Event
) -> list[tuple[float, str, int]]:
    """Promote the versions in turn every ``every`` seconds and reload: (wall time of the
    reload, version, reload status) of each swap."""
    from mlflow.tracking import MlflowClient

    from training import registry

    client = MlflowClient(uri, uri)
    name = registry.model_name("demand")
    swaps: list[tuple[float, str, int]] = []
    turn = 1
    while not stop.wait(every):
        version = versions[turn % 2]
        registry.promote(client, name, version)
        began = time.time()
        try:
            status = httpx.post(f"{url}/v1/admin/reload", timeout=120).status_code
        except httpx.HTTPError:  # an overloaded server may not even accept: a failed swap
            status = 0
        swaps.append((began, version, status))
        turn += 1
    return swaps


def summary(label: str, latencies: np.ndarray, errors: int) -> str:
    if latencies.size == 0:
        return f"{label:<26} {0:>8d} {'-':>8} {'-':>8} {errors:>7d}"
    p50, p99 = np.percentile(latencies, 50), np.percentile(latencies, 99)
    return f"{label:<26} {latencies.size:>8d} {p50:>8.1f} {p99:>8.1f} {errors:>7d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="Length of the soak")
    parser.add_argument("--rate", type=float, default=200.0, help="Requests/s, all kinds")
    parser.add_argument("--swap-every", type=float, default=30.0, help="Seconds between swaps")
    parser.add_argument("--store", help="Tracking URI (default: MLFLOW_TRACKING_URI or models/)")
    parser.add_argument("--train", action="store_true", help="Train demo models into a temp store")
    parser.add_argument(
        "--mix",
        default="demand=6,capacity=2,risk=1",
        help="Requests of each kind per round, e.g. demand=6,capacity=2,risk=0 to leave "
        "at-risk batches out and see what the other kinds alone meet",
    )
    parser.add_argument(
        "--fresh-risk",
        action="store_true",
        help="Send a different at-risk batch every time (none is answered from the response "
        "cache): what scoring itself costs under the load",
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ordercast-soak-"))
    uri = (
        args.store
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{ROOT / 'models' / 'mlflow.db'}"
    )
    if args.train or not all(has_champion(uri, kind) for kind in KINDS):
        uri = train_demo(work)
    versions = two_demand_versions(uri)
    mix = parse_mix(args.mix)
    rounds = int(args.rate * (args.seconds + 10) / sum(mix.values())) + 1  # with the warm-up's
    risk_batches = rounds * mix.get("risk", 0) if args.fresh_risk else CYCLED_RISK_BATCHES
    requests = mixed_requests(demand_series(uri), mix, risk_batches)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "ORDERCAST_API_KEYS": ""}
    env.pop("ORDERCAST_CONFIG", None)
    log = work / "ordercast.log"
    server, url = start_serve(env, log)
    stop = threading.Event()
    try:
        wait_until_up(f"{url}/ready", server, log)  # 503 until the champions are loaded
        print(f"store: {uri}\nswapping demand v{versions[0]} <-> v{versions[1]}", flush=True)
        spawn = multiprocessing.get_context("spawn")
        with (
            concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool,
            concurrent.futures.ThreadPoolExecutor(1) as swapper,
        ):
            pool.submit(drive, url, requests, 20, 2).result()  # warm the server, not counted
            load = pool.submit(drive, url, requests, args.rate, args.seconds)
            swaps_done = swapper.submit(swap_loop, uri, url, versions, args.swap_every, stop)
            results = load.result()
            stop.set()
            swaps = swaps_done.result()
    finally:
        stop.set()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    times = np.asarray([t for t, _, _, _ in results])
    latencies = np.asarray([ms for _, ms, _, _ in results])
    ok = np.asarray([status == 200 for _, _, status, _ in results])
    paths = np.asarray([path for _, _, _, path in results])
    near = np.zeros(len(results), dtype=bool)
    for began, _, _ in swaps:
        near |= np.abs(times - began) <= AROUND_SWAP_SECONDS
    statuses: dict[int, int] = {}
    for _, _, status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    risk_note = (
        "every at-risk batch new"
        if args.fresh_risk
        else f"{CYCLED_RISK_BATCHES} at-risk batches cycled"
    )
    print(
        f"{len(results)} requests in {args.seconds:g} s at {args.rate:g}/s; mix {args.mix}; "
        f"{risk_note}"
    )
    print(f"statuses {statuses}")
    print(f"swaps: {len(swaps)}, reload statuses {sorted({s for _, _, s in swaps})}")
    print(f"{'requests':<26} {'answered':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    print(summary("all", latencies[ok], int((~ok).sum())))
    print(
        summary(
            f"within {AROUND_SWAP_SECONDS:g} s of a swap",
            latencies[ok & near],
            int((~ok & near).sum()),
        )
    )
    print(summary("away from swaps", latencies[ok & ~near], int((~ok & ~near).sum())))
    for kind, path in PATHS.items():
        mine = paths == path
        if mine.any():
            print(summary(f"  {kind}", latencies[ok & mine], int((~ok & mine).sum())))
    # Over time, to tell a slow start (answers not yet stored) from spikes later on.
    tenths = np.minimum(((times - times.min()) / (args.seconds / 10)).astype(int), 9)
    for part in range(10):
        mine = tenths == part
        start = part * args.seconds / 10
        label = f"  {start:.0f}-{start + args.seconds / 10:.0f} s"
        print(summary(label, latencies[ok & mine], int((~ok & mine).sum())))
    p99_all = np.percentile(latencies[ok], 99) if ok.any() else float("inf")
    p99_near = np.percentile(latencies[ok & near], 99) if (ok & near).any() else float("nan")
    p99_away = np.percentile(latencies[ok & ~near], 99) if (ok & ~near).any() else float("nan")
    passed = (~ok).sum() == 0 and p99_all <= 50 and not p99_near > 2 * p99_away
    print(
        f"targets: 0 errors, p99 <= 50 ms, p99 near swaps <= 2x away "
        f"({p99_near:.1f} vs {p99_away:.1f} ms): {'PASS' if passed else 'FAIL'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
