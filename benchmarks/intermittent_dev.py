"""Inner validation that chose the selection defaults for intermittent panels (#20).

Development data only: each panel of ``benchmarks/intermittent.py`` without its test
periods (the last 12), whose own last 12 periods are the validation slice; the synthetic
panels use seed 1 (the benchmark's test panels use seed 2). For each series the
candidates are backtested on the development training part as the pipeline does (3
windows of 12, at least 12 points before a window) and fitted on all of it to forecast
the validation slice. Then every rule of a grid is replayed without refitting:

* **class default**: a fixed combination of models per demand class (intermittent/lumpy),
  or for smooth/erratic the pipeline's own rule (best single model when it beats the
  ensemble of the best three by ``margin``, else that ensemble);
* **evidence**: the backtest's best model replaces the class default only with at least
  ``min_windows`` windows, a mean score ``margin`` lower than the default's, and a lower
  score in every window.

Printed: mean validation MASE and RMSSE (the benchmark's scorer) per panel and rule.

    .venv/bin/python benchmarks/intermittent_dev.py [--panels ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intermittent as bench  # noqa: E402

from forecasting.demand.backtest import backtest_values, combine, plan_windows  # noqa: E402
from forecasting.demand.backtest import forecast_values, selection_score  # noqa: E402
from forecasting.demand.backtest import robust_scale  # noqa: E402
from forecasting.demand.classify import classify_values  # noqa: E402

INTERMITTENT = ("croston", "sba", "tsb", "adida", "imapa", "window_average", "naive")
SMOOTH = ("seasonal_naive", "ets", "window_average", "drift", "naive", "theta")
QUANTILES = (0.1, 0.5, 0.9)


def series_records(y: np.ndarray, season: int) -> dict | None:
    """Backtest window scores and validation forecasts of every candidate and pair/triple
    combination of one development series (None when it has no backtest window)."""
    train, valid = y[:-12], y[-12:]
    klass = classify_values(train)[2]
    windows = plan_windows(len(train), 12, 3, min_train=12)
    if not windows.cutoffs:
        return None
    names = INTERMITTENT if klass in ("intermittent", "lumpy") else SMOOTH
    _, made = backtest_values(train, names, windows, season, QUANTILES)
    final = {n: forecast_values(n, train, 12, season, QUANTILES) for n in names}
    combos = [c for k in (1, 2, 3) for c in itertools.combinations(names, k)]
    window_scores, forecasts = {}, {}
    for combo in combos:
        per_window = []
        for w, cutoff in enumerate(windows.cutoffs):
            actual = train[cutoff : cutoff + 12]
            fc = combine([made[n][w] for n in combo])
            per_window.append(
                selection_score(actual, fc, QUANTILES, robust_scale(train[:cutoff], season))
            )
        window_scores[combo] = np.array(per_window)
        forecasts[combo] = combine([final[n] for n in combo]).mean
    s_mase, _, s_mse1 = bench.scales(train, season)
    errors = {
        c: (np.mean(np.abs(valid - f)) / s_mase, np.sqrt(np.mean((valid - f) ** 2) / s_mse1))
        for c, f in forecasts.items()
    }
    return {"class": klass, "windows": window_scores, "errors": errors, "names": names}


def pipeline_rule(rec: dict, margin: float) -> tuple[str, ...]:
    """The pipeline's rule before #20: best single unless the best-3 ensemble is within margin."""
    singles = {c: s.mean() for c, s in rec["windows"].items() if len(c) == 1}
    ranked = sorted(singles, key=lambda c: singles[c])
    members = tuple(sorted(n for c in ranked[:3] for n in c))
    ensemble = rec["windows"][tuple(n for n in rec["names"] if n in members)].mean()
    best = ranked[0]
    return best if singles[best] < ensemble * (1 - margin) else tuple(
        n for n in rec["names"] if n in members
    )


def evidence_rule(
    rec: dict, default: tuple[str, ...], min_windows: int, margin: float
) -> tuple[str, ...]:
    """The default unless a single model or the best-3 ensemble beats it clearly."""
    default = tuple(n for n in rec["names"] if n in default)
    scores = rec["windows"]
    contender = pipeline_rule(rec, 0.05)
    d, c = scores[default], scores[contender]
    strong = len(d) >= min_windows and c.mean() < d.mean() * (1 - margin) and bool(np.all(c < d))
    return contender if strong else default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", default=",".join(bench.PANELS))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    names = [n.strip() for n in args.panels.split(",")]
    panels = [*bench.scms_panels(names), *bench.synthetic_panels(names, seed=1)]
    defaults = [c for k in (1, 2, 3) for c in itertools.combinations(INTERMITTENT, k)]
    evidence = [(w, m) for w in (1, 2, 3, 99) for m in (0.0, 0.1, 0.2, 0.3)]
    results = []
    for panel in panels:
        dev = bench.development(panel.frame, bench.HORIZON)
        train, valid = bench.split(dev, bench.HORIZON)
        full = pd.concat([train, valid]).sort_values(["series_id", "ds"])
        records = [
            r
            for _, g in full.groupby("series_id")
            if (r := series_records(g["y"].to_numpy(float), panel.season)) is not None
        ]
        print(f"{panel.name}: {len(records)} series with a backtest window", flush=True)
        for rec in records:
            if rec["class"] not in ("intermittent", "lumpy"):
                choice = pipeline_rule(rec, 0.05)
                for d, (w, m) in itertools.product(defaults, evidence):
                    results.append((panel.name, rec["class"], d, w, m, *rec["errors"][choice]))
                continue
            for d, (w, m) in itertools.product(defaults, evidence):
                choice = evidence_rule(rec, d, w, m)
                results.append((panel.name, rec["class"], d, w, m, *rec["errors"][choice]))
        old = [rec["errors"][pipeline_rule(rec, 0.05)] for rec in records]
        print(f"  pipeline rule before: MASE {np.mean([o[0] for o in old]):.3f} "
              f"RMSSE {np.mean([o[1] for o in old]):.3f}")
    table = pd.DataFrame(
        results, columns=["panel", "class", "default", "min_windows", "margin", "mase", "rmsse"]
    )
    table["default"] = table["default"].map("+".join)
    by = table.groupby(["panel", "default", "min_windows", "margin"])[["mase", "rmsse"]].mean()
    # Each panel counts equally: the mean over panels of the ratio to that panel's best rule.
    ratio = by / by.groupby(level="panel").transform("min")
    overall = ratio.groupby(level=["default", "min_windows", "margin"]).mean()
    overall["both"] = overall[["mase", "rmsse"]].mean(axis=1)
    best = overall.sort_values("both").head(15)
    print("\nrules by mean ratio to each panel's best rule (MASE, RMSSE), best first:")
    print(best.round(4).to_string())
    top = best.index[0]
    print(f"\nchosen: default {top[0]}, min_windows {top[1]}, margin {top[2]}; per panel:")
    print(by.xs(top, level=["default", "min_windows", "margin"]).round(3).to_string())


if __name__ == "__main__":
    main()
