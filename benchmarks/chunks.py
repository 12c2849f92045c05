"""Benchmark: what forecasting a panel in chunks of series (``--chunk-series``) costs in
accuracy, and what it saves in the driver's memory.

A chunk gets its own global model, trained on its series only, and its own class defaults.
This script holds that against one model for the whole panel: the weekly SKU x site panel
of ``benchmarks/scale.py`` (``--series`` series of ``--weeks`` points, 30% intermittent),
the last ``--horizon`` weeks held out, ``ordercast forecast`` run twice as a person runs it:
``--chunk-series 0`` (the whole panel at once) and ``--chunk-series N`` for each N of
``--chunks``. Scores, means over series of the mean forecast's: MASE (m = 52, the lag-1
scale where the seasonal one is 0), RMSSE (lag 1), and the coverage of the P10-P90
interval; with each run's wall time, CPU seconds and the driver's peak memory (VmHWM).

The chunk sizes measured are smaller than the default (10,000) so that a run takes
minutes: a chunk of a few thousand series has less for its global model to learn from
than one of 10,000, so its loss bounds the default's from above.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/chunks.py [--series 4000] [--weeks 156]
        [--horizon 12] [--chunks 2000,1000] [--n-jobs 2]

Measured 2026-12-04 at d582e85, ``--series 4000 --chunks 2000,1000 --n-jobs 1``, beside
``benchmarks/scale.py`` on the 2 cores:

============  ======  ======  ==========  =====  ==============
chunk_series  MASE    RMSSE   coverage80  CPU s  driver peak MB
============  ======  ======  ==========  =====  ==============
whole panel   0.7906  0.7243  0.7983      272.9  771
2,000         0.7912  0.7250  0.7975      356.5  699
1,000         0.7936  0.7272  0.8007      424.1  541
============  ======  ======  ==========  =====  ==============

MASE / whole 1.0007 and 1.0037, RMSSE / whole 1.0010 and 1.0040: little lost in accuracy
until chunks get small; CPU grows with the number of chunks (each trains its own global
model and pools its own class defaults).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: benchmarks.scale is a sibling to reuse
    sys.path.insert(0, str(REPO))

from benchmarks.scale import run_forecast, weekly_panel  # noqa: E402
from forecasting.demand.metrics import naive_scale  # noqa: E402

SEASON = 52


def scores(train: pd.DataFrame, test: pd.DataFrame, forecast: pd.DataFrame) -> dict[str, float]:
    """Means over series of MASE, RMSSE and 80% coverage of ``forecast`` on ``test``."""
    joined = test.merge(forecast, on=["series_id", "ds"], how="left", validate="1:1")
    if joined["mean"].isna().any():
        raise RuntimeError("the forecast lacks some held-out series or dates")
    history = {key: part["y"].to_numpy() for key, part in train.groupby("series_id")}
    mase, rmsse, covered = [], [], []
    for key, part in joined.groupby("series_id"):
        y, f = part["y"].to_numpy(), part["mean"].to_numpy()
        past = history[key]
        scale = naive_scale(past, SEASON)
        scale = scale if np.isfinite(scale) else naive_scale(past, 1)
        squared = naive_scale(past, 1, squared=True)
        if np.isfinite(scale):
            mase.append(np.mean(np.abs(y - f)) / scale)
        if np.isfinite(squared):
            rmsse.append(np.sqrt(np.mean((y - f) ** 2) / squared))
        covered.append(np.mean((y >= part["q10"].to_numpy()) & (y <= part["q90"].to_numpy())))
    return {
        "MASE": float(np.mean(mase)),
        "RMSSE": float(np.mean(rmsse)),
        "coverage80": float(np.mean(covered)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=4000)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--horizon", type=int, default=12)
    parser.add_argument("--chunks", default="2000,1000", help="chunk sizes, comma-separated")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)

    panel = weekly_panel(args.series, args.weeks)
    cut = panel["ds"].max() - pd.Timedelta(weeks=args.horizon)
    train, test = panel[panel["ds"] <= cut], panel[panel["ds"] > cut]
    print(
        f"{args.series:,} weekly series, {len(train) // args.series} weeks each to train, "
        f"the last {args.horizon} held out; --n-jobs {args.n_jobs}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "train.parquet"
        train.to_parquet(source, index=False)
        for size in [0, *(int(v) for v in args.chunks.split(","))]:
            out = Path(folder) / f"forecast_{size}.parquet"
            extra = ["--n-jobs", str(args.n_jobs), "--chunk-series", str(size)]
            wall, cpu, _, peak, _ = run_forecast(source, out, args.horizon, extra, {})
            row = {
                "chunk_series": "whole panel" if size == 0 else f"{size:,}",
                **scores(train, test, pd.read_parquet(out)),
                "wall_s": wall,
                "cpu_s": cpu,
                "driver_peak_mb": peak,
            }
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, float_format="%.4f"), flush=True)
    table = pd.DataFrame(rows)
    whole = table.iloc[0]
    for metric in ("MASE", "RMSSE"):
        table[f"{metric} / whole"] = table[metric] / whole[metric]
    print()
    print(table.to_string(index=False, float_format="%.4f"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
