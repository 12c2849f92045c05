"""Benchmark: 10 million order lines from Parquet to daily sku x site series.

Measures ordercast's read + ``build_series`` against DuckDB's ``GROUP BY`` on the same
file in the same run, each in its own process (wall time and peak resident memory).
Targets: ours <= 5 s, <= 4 GB peak, and within 2x of DuckDB.

    .venv/bin/python benchmarks/aggregate.py [--lines 10000000] [--cache out/bench]

DuckDB comes with the ``bench`` extra (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLUMNS = ["sku", "site", "order_date", "quantity"]
LINES_PER_SKU = 1620  # what the generator gives per SKU with 3 sites over 730 days


def make_file(lines: int, cache: Path) -> Path:
    path = cache / f"orders-{lines // 1_000_000}m.parquet"
    if path.exists():
        return path
    sys.path.insert(0, str(REPO))
    from forecasting.synthetic import generate_orders

    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    history = generate_orders(sites=3, skus=max(1, lines // LINES_PER_SKU), days=730, seed=1)
    generated = time.perf_counter() - started
    history.orders.to_parquet(path, index=False)
    print(f"generated {len(history.orders):,} lines in {generated:.1f} s -> {path}")
    return path


def ours(path: str) -> dict:
    import pandas as pd

    from forecasting.series import build_series

    started = time.perf_counter()
    orders = pd.read_parquet(path, columns=COLUMNS)
    frame = build_series(orders, by=("sku", "site"), freq="D")
    return {
        "seconds": time.perf_counter() - started,
        "rows": len(frame),
        "total": float(frame["y"].sum()),
        "lines": len(orders),
    }


def duckdb_peer(path: str) -> dict:
    import duckdb

    started = time.perf_counter()
    frame = duckdb.sql(
        f"SELECT sku, site, order_date AS ds, SUM(quantity) AS y FROM read_parquet('{path}') "
        "GROUP BY ALL"
    ).df()
    return {
        "seconds": time.perf_counter() - started,
        "rows": len(frame),
        "total": float(frame["y"].sum()),
    }


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited on exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_child(name: str, path: Path) -> dict:
    """Run one engine in a fresh process, so peak memory is its own."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(REPO)!r}); "
        f"from benchmarks.aggregate import {name} as f, peak_mb; r = f({str(path)!r}); "
        "r['peak_mb'] = peak_mb(); print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--cache", type=Path, default=REPO / "out" / "bench")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine; best is kept")
    args = parser.parse_args()
    path = make_file(args.lines, args.cache)
    results = {}
    for name in ("ours", "duckdb_peer"):
        runs = [run_child(name, path) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_mb"] = max(r["peak_mb"] for r in runs)
        results[name] = best
    a, b = results["ours"], results["duckdb_peer"]
    ratio = a["seconds"] / b["seconds"]
    print(f"file: {path} ({a['lines']:,} lines)")
    print(f"{'engine':<28}{'wall s':>8}{'peak MB':>10}{'rows out':>12}")
    print(
        f"{'ordercast build_series':<28}{a['seconds']:>8.2f}{a['peak_mb']:>10.0f}{a['rows']:>12,}"
    )
    print(f"{'duckdb GROUP BY':<28}{b['seconds']:>8.2f}{b['peak_mb']:>10.0f}{b['rows']:>12,}")
    print(f"ratio ordercast / duckdb: {ratio:.2f}x (ordercast also fills zero days)")
    print(f"totals agree: {abs(a['total'] - b['total']) < 1e-6 * b['total']}")
    checks = {
        "wall <= 5 s": a["seconds"] <= 5,
        "peak <= 4 GB": a["peak_mb"] <= 4096,
        "within 2x of duckdb": ratio <= 2,
    }
    for label, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")


if __name__ == "__main__":
    main()
