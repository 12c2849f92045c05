"""Benchmark: scoring a batch of open lines the way the API gets them.

A caller sends the lines open at the as-of date, not the history behind them. The model
remembers the lines delivered before its training date; this measures what that is
worth, on the demo history (``ordercast generate`` defaults) in the middle of its winter
backlog, against the same batch scored with nothing remembered (how the service scored
before the model kept its history), and against the whole history file. It also times
1,000-line batches, the API's unit of work, without HTTP.

    .venv/bin/python benchmarks/risk_batch.py [--as-of 2025-01-20] [--repeats 10]

Measured 2026-12-03 (the model's defaults, now the service's queue profile; 55 s):
2,288 open lines, 46.2% late; remembered history mean p_late 0.451, ROC-AUC 0.986, Brier
0.041, ECE 0.030 (the whole history file the same); nothing remembered 0.547, 0.984,
0.102, 0.113. A 1,000-line batch with reasons, in process: median 140 ms, max 155 ms.
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings

import numpy as np
import pandas as pd

from forecasting.risk.evaluate import risk_metrics
from forecasting.risk.features import scoring_snapshots
from forecasting.risk.labels import is_late
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders


def open_batch(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines open at ``as_of`` as a caller knows them then (no later dates)."""
    batch = orders.loc[scoring_snapshots(orders, as_of)["row"]].copy()
    for column in ("delivered_date", "ship_date"):
        batch[column] = batch[column].where(batch[column] < as_of)
    return batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--as-of", default="2025-01-20", help="Train and score as of this day")
    parser.add_argument("--repeats", type=int, default=10, help="Timed 1,000-line batches")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    as_of = pd.Timestamp(args.as_of)
    orders = generate_orders().orders
    started = time.perf_counter()
    model = AtRiskModel().fit(orders, as_of=as_of)
    print(
        f"trained as of {as_of:%Y-%m-%d} on {len(orders):,} lines in "
        f"{time.perf_counter() - started:.1f} s; remembers {len(model.memory_):,} lines"
    )
    batch = open_batch(orders, as_of)
    truth = is_late(orders).set_axis(orders["line_id"])
    forgetful = copy.copy(model)
    forgetful.memory_ = None
    rows = []
    for name, scorer, lines in [
        ("open lines, history remembered", model, batch),
        ("open lines, nothing remembered", forgetful, batch),
        ("whole history file", forgetful, orders),
    ]:
        scored = scorer.score_lines(lines, as_of)
        scored = scored[scored["line_id"].isin(batch["line_id"])]
        y = truth.reindex(scored["line_id"]).to_numpy()
        known = ~pd.isna(y)
        metrics = risk_metrics(
            y[known].astype(int), scored["p_late"].to_numpy()[known], model.base_rate_
        )
        rows.append({"scored": name, "mean_p_late": scored["p_late"].mean(), **metrics})
    table = pd.DataFrame(rows).set_index("scored")
    columns = ["lines", "late_share", "mean_p_late", "roc_auc", "brier", "ece"]
    print(table[columns].to_string(float_format="{:.3f}".format))
    rng = np.random.default_rng(0)
    seconds = []
    for _ in range(args.repeats):
        sample = batch.iloc[rng.choice(len(batch), 1000, replace=len(batch) < 1000)]
        sample = sample.assign(line_id=[f"B{i}" for i in range(len(sample))])
        started = time.perf_counter()
        model.score_lines(sample, as_of)
        seconds.append(time.perf_counter() - started)
    print(
        f"1,000-line batch with reasons: median {1000 * np.median(seconds):.0f} ms, "
        f"max {1000 * max(seconds):.0f} ms over {args.repeats} batches"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
