"""Inner validation of the global model's margin (``SelectionConfig.global_margin``, #20).

The margin is how much better (relatively) a series' local choice must score in its
backtest to replace the global model. It was first set by looking at M4's test files;
this script chooses it on the training files only. Each M4 Hourly and Weekly training
series loses its last ``horizon`` points, the validation slice; the pipeline runs with
its defaults on the rest, twice:

* with a margin no local model can clear (every series the global model competes for
  takes it), and
* with a margin every local model clears (each series keeps its local choice).

The backtests, and so every series' scores, are the same in both runs (the margin only
decides between them afterwards), so the rule is replayed for any margin without
refitting: a series takes the global model's forecast when it competes and its local
choice does not score ``margin`` lower, else the local one's. Scored on the validation
slices as M4 scores (sMAPE, MASE with m = 24 hourly / 1 weekly), combined as OWA against
a naive reference computed here on the same slices (seasonal naive for hourly, naive for
weekly; M4's published Naive2 figures are for the test periods, not these).

The M4 test files are not read.

Measured 2026-12-04 at d582e85 (``OMP_NUM_THREADS=1 .venv/bin/python
benchmarks/global_margin_dev.py --freq weekly,hourly``, beside ``benchmarks/scale.py`` on
the 2 cores; fits of 143-188 s each): the least validation OWA at margin **0.3** on both,
the default kept (it had been set at 0.3 by looking at the test files; it is now chosen on
the training files alone). "global series": the series taking the global model.

========  =============  =======  ======  ==========  ======
margin    global series  sMAPE    MASE    coverage80  OWA
========  =============  =======  ======  ==========  ======
weekly (359 series, validation: each training series' last 13 weeks)
--------------------------------------------------------------------
0         161            7.3243   2.3896  0.8168      0.8106
0.1       224            7.0433   2.3669  0.8164      0.7914
0.2       274            6.8371   2.3766  0.8138      0.7819
0.3       318            6.7038   2.3104  0.8234      0.7632
0.4       336            6.7886   2.3171  0.8249      0.7689
0.5       350            6.7290   2.3054  0.8243      0.7637
0.7       358            6.7805   2.3390  0.8215      0.7723
hourly (414 series, validation: each training series' last 48 hours)
--------------------------------------------------------------------
0         316            9.9653   0.9172  0.8300      0.7153
0.1       338            9.8539   0.9093  0.8232      0.7083
0.2       354            9.7856   0.9032  0.8146      0.7035
0.3       373            9.7451   0.9029  0.8067      0.7019
0.4       385            9.7848   0.9084  0.7983      0.7056
0.5       393            9.7932   0.9137  0.7944      0.7080
0.7       402            9.8048   0.9248  0.7875      0.7129
========  =============  =======  ======  ==========  ======

(0.05 and 0.15 were measured too: weekly OWA 0.7962 and 0.7892, hourly 0.7165 and 0.7066.)
The OWA here is against the naive reference on the validation slices, so it is not
comparable with the test figures of ``benchmarks/m4.py``; only the ranking of margins is.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/global_margin_dev.py [--freq hourly,weekly]
        [--margins 0,0.05,0.1,0.2,0.3,0.4,0.5,0.7] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: benchmarks.m4 is a sibling to reuse
    sys.path.insert(0, str(REPO))

from benchmarks.m4 import DATA, SPECS, Spec, training_frame  # noqa: E402
from forecasting.demand.auto import AutoForecaster  # noqa: E402
from forecasting.demand.config import ParallelConfig, SelectionConfig  # noqa: E402

GLOBAL = "global_gbm"
# Margins no local score can clear (always global), and that every one clears.
ALWAYS_GLOBAL, NEVER_GLOBAL = 0.999999, -1e12


def development(spec: Spec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """M4's training file split into the development training part and the validation
    slice (each series' last ``horizon`` points), on the calendar benchmarks/m4.py uses."""
    frame = training_frame(spec, id_column="series_id")
    last = frame.groupby("series_id")["ds"].transform("max")
    held = frame["ds"] > last - pd.tseries.frequencies.to_offset(spec.freq) * spec.horizon
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def fit(train: pd.DataFrame, spec: Spec, margin: float, n_jobs: int) -> AutoForecaster:
    return AutoForecaster(
        horizon=spec.horizon,
        freq=spec.freq,
        selection=SelectionConfig(global_margin=margin),
        parallel=ParallelConfig(n_jobs=n_jobs),
    ).fit(train)


def errors(
    spec: Spec, train: pd.DataFrame, valid: pd.DataFrame, forecast: pd.DataFrame
) -> pd.DataFrame:
    """Per series: sMAPE, MASE (in-sample scale with m) and 80% coverage on the slice."""
    joined = valid.merge(forecast, on=["series_id", "ds"], how="left", validate="1:1")
    if joined["mean"].isna().any():
        raise RuntimeError("a forecast lacks validation dates")
    history = {k: g["y"].to_numpy() for k, g in train.groupby("series_id")}
    rows = []
    for key, part in joined.groupby("series_id"):
        y, f = part["y"].to_numpy(), part["mean"].to_numpy()
        past = history[key]
        scale = np.mean(np.abs(past[spec.m :] - past[: -spec.m]))
        rows.append(
            {
                "series_id": key,
                "smape": np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))),
                "mase": np.mean(np.abs(y - f)) / scale,
                "coverage": np.mean((y >= part["q10"]) & (y <= part["q90"])),
            }
        )
    return pd.DataFrame(rows).set_index("series_id")


def reference(spec: Spec, train: pd.DataFrame, valid: pd.DataFrame) -> pd.DataFrame:
    """The naive reference's forecast of the slice: the last season (hourly) or value."""
    m = 24 if spec.freq == "h" else 1
    history = {key: part["y"].to_numpy() for key, part in train.groupby("series_id")}
    rows = []
    for key, part in valid.groupby("series_id"):
        values = np.resize(history[key][-m:], len(part))
        rows.append(part.assign(mean=values, q10=values, q90=values))
    return pd.concat(rows)[["series_id", "ds", "mean", "q10", "q90"]]


def replay(
    spec: Spec,
    always: AutoForecaster,
    never: AutoForecaster,
    scores: dict[str, pd.DataFrame],
    margins: list[float],
) -> pd.DataFrame:
    """Mean validation sMAPE, MASE and coverage for each margin, with the series taking
    the global model."""
    local = never.selection_.set_index("series_id")
    competes = always.selection_.set_index("series_id")["model"].eq(GLOBAL)
    backtest = always.backtest_
    global_score = (
        backtest[backtest["model"] == GLOBAL].groupby("series_id")["score"].mean()
    ).reindex(local.index)
    global_score = global_score.where(np.isfinite(global_score), np.inf)
    rows = []
    for margin in margins:
        takes = (
            competes.reindex(local.index, fill_value=False)
            & local["model"].ne(GLOBAL)
            & ~(local["score"] < global_score * (1 - margin))
        )
        chosen = scores["never"].where(~takes.reindex(scores["never"].index), scores["always"])
        rows.append(
            {
                "margin": margin,
                "global series": int(takes.sum() + local["model"].eq(GLOBAL).sum()),
                "smape": chosen["smape"].mean(),
                "mase": chosen["mase"].mean(),
                "coverage80": chosen["coverage"].mean(),
            }
        )
    table = pd.DataFrame(rows)
    ref = scores["reference"]
    table["owa"] = 0.5 * (table["smape"] / ref["smape"].mean() + table["mase"] / ref["mase"].mean())
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--freq", default="hourly,weekly")
    parser.add_argument("--margins", default="0,0.05,0.1,0.15,0.2,0.3,0.4,0.5,0.7")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args(argv)
    if not (DATA / "m4-hourly-train.csv.gz").exists():
        print(f"skipped: the M4 files are not in {DATA} (see ../shared/data/README.md)")
        return 0
    warnings.filterwarnings("ignore")
    margins = [float(v) for v in args.margins.split(",")]
    for key in args.freq.split(","):
        spec = SPECS[key.strip()]
        train, valid = development(spec)
        print(
            f"\nM4 {spec.name} training files: {train['series_id'].nunique()} series, the "
            f"last {spec.horizon} points of each held out for validation",
            flush=True,
        )
        runs = {}
        for name, margin in (("always", ALWAYS_GLOBAL), ("never", NEVER_GLOBAL)):
            started = time.perf_counter()
            runs[name] = fit(train, spec, margin, args.n_jobs)
            print(f"  fit ({name} global): {time.perf_counter() - started:.0f} s", flush=True)
        scores = {name: errors(spec, train, valid, run.predict()) for name, run in runs.items()}
        scores["reference"] = errors(spec, train, valid, reference(spec, train, valid))
        table = replay(spec, runs["always"], runs["never"], scores, margins)
        print(table.to_string(index=False, float_format="%.4f"))
        best = table.loc[table["owa"].idxmin()]
        print(f"  least validation OWA: margin {best['margin']:g} ({best['owa']:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
