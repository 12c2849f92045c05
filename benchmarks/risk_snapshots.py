"""Benchmark: how many training snapshots the at-risk boosters need (``max_fit_snapshots``).

Runs the risk pipeline's own evaluation (``training.pipelines.risk.window_evaluation``:
train as of ``as_of - 56 days``, score the lines open then, judge by what happened before
``as_of``) once per cap, and prints its metrics with the wall and CPU seconds it took.

Choose the cap on the validation window, the 56 days *before* the gate's
(``--shift-days 56``, the default); the gate's own window (``--shift-days 0``) is the test
figure, to report, not to choose by.

    .venv/bin/python benchmarks/risk_snapshots.py [--data data/orders.csv.gz]
        [--shift-days 56] [--caps 150000,300000,none]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from forecasting.loaders import load_orders_with_issues
from training.pipelines.risk import window_evaluation

REPO = Path(__file__).resolve().parent.parent
SHOWN = ("lines", "late_share", "roc_auc", "pr_auc", "brier", "ece", "precision_top10")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "orders.csv.gz")
    parser.add_argument("--shift-days", type=int, default=56)
    parser.add_argument("--caps", default="150000,300000,none")
    args = parser.parse_args(argv)
    orders, _ = load_orders_with_issues(args.data, None)
    as_of = pd.Timestamp(orders["order_date"].max()) - pd.Timedelta(days=args.shift_days)
    for cap in args.caps.split(","):
        started, cpu = time.perf_counter(), time.process_time()
        evaluation = window_evaluation(
            orders, as_of, {"max_fit_snapshots": None if cap == "none" else int(cap)}
        )
        row = {
            "as_of": f"{as_of:%Y-%m-%d}",
            "max_fit_snapshots": cap,
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "load_1min": round(os.getloadavg()[0], 2),
            **{k: round(evaluation.metrics[k], 5) for k in SHOWN},
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
