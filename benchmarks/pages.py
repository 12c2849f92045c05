"""The planner's pages on the demo: how long each page takes to answer (#19: <= 300 ms
server time on the demo data; the demand picker <= 100 ms per keystroke).

Generates the demo history (``ordercast generate`` defaults: 3 sites, 200 SKUs, two
years), ingests it into an order store, trains the three models from that store with
``ordercast train all`` (or reuses ``--work FOLDER`` from an earlier run), starts
``ordercast serve`` with one admin key, signs in through the sign-in form and asks every
page ``--repeats`` times after one unrecorded request each. Times are measured at the
client on loopback (the server's own time plus well under a millisecond of transport).

    .venv/bin/python benchmarks/pages.py [--repeats 20] [--work /tmp/ordercast-pages]

The peer, measured in the same run: the API's JSON answer of what the demand and capacity
pages draw (``POST /v1/forecasts/demand`` and ``/capacity``), so the ratio is what the page
adds to the numbers it shows.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: benchmarks.api is a sibling to reuse
    sys.path.insert(0, str(ROOT))

from benchmarks.api import BIN, start_serve, wait_until_up  # noqa: E402

KEY = "bench-pages-admin-key-0123456789"
TARGET_MS = 300.0
PICKER_TARGET_MS = 100.0
QUERIES = ("s", "sk", "sku", "sku-0", "sku-00", "sku-001", "sku-0012", "sku-0012 site-2")


def prepare(work: Path) -> dict[str, str]:
    """The demo's history in an order store under ``work`` and its three models trained
    from it (skipped when an earlier run left them); returns the server's environment."""
    uri = f"sqlite:///{work / 'mlflow.db'}"
    database = f"sqlite:///{work / 'orders.db'}"
    config = work / "config.yaml"
    config.write_text(
        f"mlflow:\n  tracking_uri: {uri}\n  artifact_root: {work / 'artifacts'}\n"
        f"  lock_dir: {work / 'locks'}\n"
    )
    env = {**os.environ, "ORDERCAST_DATABASE_URL": database, "ORDERCAST_API_KEYS": f"{KEY}:admin"}
    env["ORDERCAST_CONFIG"] = str(config)
    env["ORDERCAST_API_KEYS_FILE"] = str(work / "keys.json")
    data = work / "orders.csv.gz"
    if not (work / "trained").exists():
        ordercast = str(BIN / "ordercast")
        subprocess.run([ordercast, "generate", "--out", str(data)], check=True, env=env)
        subprocess.run([ordercast, "ingest", str(data)], check=True, env=env)
        trained = subprocess.run([ordercast, "train", "all"], env=env)
        if trained.returncode not in (0, 3):
            raise SystemExit(f"training the demo models failed (exit {trained.returncode})")
        (work / "trained").touch()
    return env


def signed_in(base: str) -> httpx.Client:
    """A client holding a session cookie, signed in the way a browser is."""
    client = httpx.Client(base_url=base, timeout=120, headers={"accept": "text/html"})
    form = client.get("/web/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit("no CSRF token on the sign-in page")
    answer = client.post("/web/sign-in", data={"csrf": token.group(1), "key": KEY})
    if answer.status_code >= 400:
        raise SystemExit(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
    return client


def timed(client: httpx.Client, path: str, repeats: int) -> list[float]:
    """Milliseconds per request of ``path`` (one unrecorded request first)."""
    first = client.get(path)
    if first.status_code != 200:
        raise SystemExit(f"GET {path}: {first.status_code} {first.text[:300]}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(path)
        times.append(1000 * (time.perf_counter() - start))
        response.raise_for_status()
    return times


def api_times(client: httpx.Client, path: str, body: dict, repeats: int) -> list[float]:
    """Milliseconds per POST of the API endpoint answering what a page draws (the peer)."""
    headers = {"X-API-Key": KEY, "accept": "application/json"}
    client.post(path, json=body, headers=headers).raise_for_status()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.post(path, json=body, headers=headers)
        times.append(1000 * (time.perf_counter() - start))
        response.raise_for_status()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="Timed requests per page")
    parser.add_argument("--work", type=Path, help="Folder to keep (and reuse) the trained demo")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="ordercast-pages-"))
    work.mkdir(parents=True, exist_ok=True)
    env = prepare(work)

    log = work / "serve.log"
    server, base = start_serve(env, log)
    try:
        wait_until_up(f"{base}/ready", server, log, seconds=600)
        client = signed_in(base)
        series = client.get("/web/demand/series", params={"q": "sku site"}).json()["matches"]
        first = next(m["series"] for m in series if m["level"] == "sku,site")
        pages = {
            "overview": "/web/overview",
            "demand": f"/web/demand?level=sku,site&series={first}",
            "demand data": f"/web/demand/data?level=sku,site&series={first}",
            "capacity": "/web/capacity?site=SITE-1",
            "at-risk": "/web/at-risk",
            "models": "/web/models",
        }
        # The first request of a page after start-up waits for the figures the server
        # computes in the background; the timed requests below come after it.
        print(f"{'page':<14}{'p50 ms':>9}{'p90 ms':>9}{'max ms':>9}  target {TARGET_MS:.0f} ms")
        for name, path in pages.items():
            times = sorted(timed(client, path, args.repeats))
            p50, p90 = statistics.median(times), times[int(0.9 * (len(times) - 1))]
            verdict = "ok" if p90 <= TARGET_MS else "OVER"
            print(f"{name:<14}{p50:>9.1f}{p90:>9.1f}{times[-1]:>9.1f}  {verdict}")

        sku, site = first.split("|")
        peers = {
            "demand": ("/v1/forecasts/demand", {"sku": sku, "site": site, "horizon": 13}),
            "capacity": ("/v1/forecasts/capacity", {"sites": ["SITE-1"], "horizon": 28}),
        }
        for name, (path, body) in peers.items():
            page = statistics.median(timed(client, pages[name], args.repeats))
            api = statistics.median(api_times(client, path, body, args.repeats))
            print(f"{name} page p50 {page:.1f} ms, API {path} p50 {api:.1f} ms: {page / api:.2f}x")

        picker = []
        for _ in range(max(1, args.repeats // len(QUERIES))):
            for query in QUERIES:
                start = time.perf_counter()
                client.get("/web/demand/series", params={"q": query}).raise_for_status()
                picker.append(1000 * (time.perf_counter() - start))
        picker.sort()
        print(
            f"picker p50 {statistics.median(picker):.1f} ms, p90 "
            f"{picker[int(0.9 * (len(picker) - 1))]:.1f} ms per keystroke over HTTP "
            f"(target {PICKER_TARGET_MS:.0f} ms)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"work folder (reuse with --work): {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
