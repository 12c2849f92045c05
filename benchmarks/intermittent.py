"""Benchmark: the default demand pipeline on intermittent panels, against StatsForecast.

Panels (one table each):

* **SCMS item x month** and **SCMS item x country x month**: the public SCMS delivery
  history (``../shared/data``, loaded through ``configs/mappings/scms.yaml``), shipped
  quantity per month of its scheduled delivery date, from each series' first demand to
  2015-08 (the last full month; the export stops in September 2015). Horizon 12, season 12.
* **synthetic intermittent** and **synthetic lumpy**: the generator's SKUs of those
  classes (``forecasting.synthetic``, seed 2, 1,100 days), weekly per SKU x site.
  Horizon 12, season 52.

The last 12 periods of every series are the test; a series is kept when its training part
has at least 24 periods and two periods with demand. ``--split dev`` drops the test first
and scores the 12 periods before it instead (the development data the selection defaults
were chosen on, see ``forecasting.demand.selection``; the synthetic panels then use seed 1).

Models, one after another in one process on the same training data, each timed:
**ordercast** as ``ordercast forecast SERIES --horizon 12 --season S`` runs it
(``AutoForecaster``, default backtest and selection, ``--n-jobs`` workers), and
StatsForecast's Naive, SeasonalNaive, CrostonClassic, CrostonSBA, TSB(0.1, 0.1), ADIDA,
IMAPA and AutoETS (same ``--n-jobs``).

Scores, means over series of the mean forecast's: **MASE** with the in-sample seasonal
naive scale (m = season); where that scale is 0 (no change between a period and the same
period a season earlier) the lag-1 scale is used instead; **RMSSE** with the lag-1
scale; for models with an 80% interval (ordercast's P10-P90, StatsForecast's ``level=80``):
**scaled pinball** (mean pinball loss at 0.1 and 0.9 over the lag-1 mean absolute
difference) and **coverage** of the 80% interval.

    .venv/bin/python benchmarks/intermittent.py [--panels scms_item,scms_item_country,
        synthetic_intermittent,synthetic_lumpy] [--split test|dev] [--n-jobs 1]

Target (issue #20): ordercast at least as good as the best peer on MASE and RMSSE on every
panel, in no more wall time than StatsForecast's AutoETS.

Each table also gives each model's **volume** error: the panel's total mean forecast over
its total demand, minus 1. Per-series MASE and RMSSE over 12 periods of mostly zeros
reward forecasts shrunk towards zero, so a rule can win both while the plan it makes
misses most of the demand; the volume shows it.

Measured 2026-12-05 at commit 8164dca (the alive prior estimated from the comebacks in
each class's histories, kept where the pooled backtest's volume allows; naive among the
pooled candidates), this command with ``--n-jobs 1``, ordercast / best peer (ratio), wall
time as a multiple of AutoETS's, volume error of ordercast in percent (I: IMAPA's):

======================  ===========================  =============================  ====  ==========
panel (test)            MASE                         RMSSE                          time  volume (I)
======================  ===========================  =============================  ====  ==========
SCMS item (133)         0.524 / 0.534 IMAPA (0.981)  0.359 / 0.367 IMAPA (0.979)    0.42  0 (+7)
SCMS item x country     0.680 / 0.698 IMAPA (0.975)  0.415 / 0.420 IMAPA (0.988)    0.34  -3 (-0.4)
synthetic intermittent  0.809 / 0.806 TSB (1.003)    0.697 / 0.694 TSB (1.003)      0.18  -16 (-16)
synthetic lumpy         0.955 / 0.949 TSB (1.007)    0.688 / 0.684 AutoETS (1.006)  0.20  -12 (-12)
======================  ===========================  =============================  ====  ==========

Ahead of the best peer on both scores on both SCMS panels; on the synthetic panels, whose
items never stop selling, the estimate leaves IMAPA unweighed and ordercast scores as
StatsForecast's IMAPA to the third decimal, 0.3-0.7% behind TSB. On the development split
(``--split dev``): 0.987 / 0.994 (PASS), 0.999 / 0.985 (PASS), 1.008 / 1.001 and 1.043 /
1.013, volume -24%, +0.5%, -0.3% and +4.9% (IMAPA -12%, +8%, -0.3%, +4.9%).

Before it, at e663d79 (the prior chosen by the pooled backtest's volume alone): 1.070 /
1.020, 0.975 / 0.988, 0.995 / 1.007 and 1.007 / 1.006 on test, volume +7%, -3%, -21% and
-12%; the volume rule used the weighing to correct the level of classes whose items
never die (synthetic intermittent: imapa_alive98).

The rule of d76fb2e (the prior chosen by pooled RMSSE), re-run at 0fc61e8 with the
volume column, scored "ahead" on three panels by cutting them: MASE / RMSSE ratios
0.816 / 0.940, 0.777 / 0.934, 0.988 / 1.013 and 0.817 / 0.989, with volume errors of
-33%, -64%, -26% and -68% (SCMS item x country: every series weighed at a prior of 0.5,
each forecast at most half its rate). Those figures are withdrawn.

Earlier, measured 2026-12-02 at commit faf72bb (class defaults chosen per panel by the pooled
backtest; 2 cores shared with other work, load 8.8-10.5, so the seconds are slow but
each ratio compares two runs of the same minutes; ``--n-jobs 1``), ordercast / best
peer (ratio), wall time as a multiple of AutoETS's, and before (commit 7b6d704, load
0.3-4.5, this command):

=======================  =============================  ==============================  ====
panel (test)             MASE                           RMSSE                           time
=======================  =============================  ==============================  ====
SCMS item (133)          0.586 / 0.534 IMAPA (1.096)    0.382 / 0.367 IMAPA (1.042)     0.39
  before                 0.547 / 0.534 IMAPA (1.024)    0.369 / 0.367 IMAPA (1.007)     1.99
SCMS item x country      0.700 / 0.698 IMAPA (1.002)    0.422 / 0.420 IMAPA (1.004)     0.48
  before                 0.711 / 0.698 IMAPA (1.019)    0.419 / 0.420 IMAPA (0.998)     0.26
synthetic intermittent   0.806 / 0.806 TSB (1.001)      0.696 / 0.694 TSB (1.003)       0.25
  before                 0.810 / 0.806 TSB (1.005)      0.713 / 0.694 TSB (1.026)       0.18
synthetic lumpy          0.941 / 0.949 TSB (0.991)      0.686 / 0.684 AutoETS (1.003)   0.19
  before                 0.925 / 0.949 TSB (0.975)      0.693 / 0.684 AutoETS (1.012)   0.21
=======================  =============================  ==============================  ====

Not reached: ahead of the best peer on both scores nowhere (synthetic lumpy MASE only);
within 0.4% on three panels, and SCMS item is worse than before: the pooled backtest
of its 26 intermittent series (the last 36 months) chose naive for them, which the
development split favoured too but the test year did not. The time target is met on every
panel: ordercast is imported before the clock starts, as StatsForecast is (its first
panel used to pay ~2 s of imports), and SCMS item's 14 smooth/erratic series take the
panel's pooled default instead of per-series ETS backtests (80% of its fit before).
The development split (``--split dev``, defaults chosen there) moved from 0.597 / 0.440
to 0.582 / 0.438 on SCMS item (best peers Naive 0.579, IMAPA 0.439), 0.881 / 0.551 to
0.880 / 0.553 on item x country (0.863, 0.547), 0.815 / 0.690 to 0.802 / 0.662 on
synthetic intermittent (0.795, 0.664) and 0.773 / 0.559 to 0.774 / 0.561 on synthetic
lumpy (0.768, 0.544); ``benchmarks/intermittent_dev.py --pooled`` found no variant of
the rule ahead of the best peer on every development panel either (MASE favours the
last value, zero for most of these series, and RMSSE the rate methods; one combination
per class does not serve both). Before #20's selection change ordercast scored MASE
1.708 / RMSSE 0.647 on SCMS item (per-series choice on 3 windows).

Re-run 2026-12-03 at 73dc5b0 (after the ETS optimiser's iteration cap went from 200 to
1,000; the same command, ``--n-jobs 1``): every score above the same to
the third decimal (SCMS item 1.096 / 1.042, item x country 1.002 / 1.004, synthetic
intermittent 1.001 / 1.003, synthetic lumpy 0.991 / 1.003), wall time 0.57, 0.49, 0.23
and 0.16 x AutoETS's.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
SCMS = DATA / "scms-delivery-history.csv.gz"
MAPPING = REPO / "configs" / "mappings" / "scms.yaml"
HORIZON = 12
MIN_TRAIN = 24
SCMS_END = "2015-08-01"  # the last full month of the export


@dataclass(frozen=True)
class Panel:
    name: str
    frame: pd.DataFrame  # series_id, ds, y: training and test together
    freq: str
    season: int


def trimmed(frame: pd.DataFrame) -> pd.DataFrame:
    """Each series from its first period with demand on (a product enters the panel when
    first ordered)."""
    frame = frame.sort_values(["series_id", "ds"])
    started = frame.groupby("series_id")["y"].transform(lambda y: (y > 0).cummax())
    return frame[started.to_numpy(bool)][["series_id", "ds", "y"]].reset_index(drop=True)


def scms_panels(names: list[str]) -> list[Panel]:
    from forecasting.loaders import load_orders
    from forecasting.series import build_series

    keys = {"scms_item": ["sku"], "scms_item_country": ["sku", "region"]}
    wanted = [n for n in names if n in keys]
    if not wanted:
        return []
    if not SCMS.exists():
        print(f"SCMS panels skipped: {SCMS} not found (../shared/data beside the repository)")
        return []
    orders = load_orders(SCMS, MAPPING)
    panels = []
    for name in wanted:
        monthly = build_series(
            orders, by=keys[name], freq="MS", date_col="promised_date", end=SCMS_END
        )
        monthly = monthly[monthly["ds"] <= pd.Timestamp(SCMS_END)]
        panels.append(Panel(name, trimmed(monthly), "MS", 12))
    return panels


def synthetic_panels(names: list[str], seed: int) -> list[Panel]:
    from forecasting.series import build_series
    from forecasting.synthetic import generate_orders

    wanted = [n for n in names if n.startswith("synthetic_")]
    if not wanted:
        return []
    history = generate_orders(sites=3, skus=150, days=1100, seed=seed)
    weekly = build_series(history.orders, by=("sku", "site"), freq="W-MON")
    classes = history.sku_classes.set_index("sku")["demand_class"]
    weekly["intended"] = weekly["sku"].map(classes)
    panels = []
    for name in wanted:
        klass = name.removeprefix("synthetic_")
        part = weekly[weekly["intended"] == klass]
        panels.append(Panel(name, trimmed(part), "W-MON", 52))
    return panels


def split(frame: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training part and the last ``h`` periods of each series, for series whose training
    part has at least ``MIN_TRAIN`` periods and two with demand."""
    frame = frame.sort_values(["series_id", "ds"])
    back = frame.groupby("series_id").cumcount(ascending=False)
    train, test = frame[back >= h], frame[back < h]
    stats = train.groupby("series_id")["y"].agg(n="size", demand=lambda y: int((y > 0).sum()))
    keep = stats.index[(stats["n"] >= MIN_TRAIN) & (stats["demand"] >= 2)]
    return (
        train[train["series_id"].isin(keep)].reset_index(drop=True),
        test[test["series_id"].isin(keep)].reset_index(drop=True),
    )


def development(frame: pd.DataFrame, h: int) -> pd.DataFrame:
    """The panel without its test periods (the last ``h`` of each series)."""
    back = frame.sort_values(["series_id", "ds"]).groupby("series_id").cumcount(ascending=False)
    return frame.sort_values(["series_id", "ds"])[back >= h].reset_index(drop=True)


def scales(y: np.ndarray, m: int) -> tuple[float, float, float]:
    """MASE scale (lag m; lag 1 where the lag-m one is 0 or undefined), lag-1 mean absolute
    difference and lag-1 mean squared difference of a training history."""
    lag1 = np.abs(np.diff(y))
    seasonal = np.mean(np.abs(y[m:] - y[:-m])) if len(y) > m else 0.0
    mase = seasonal if seasonal > 0 else float(np.mean(lag1))
    return float(mase), float(np.mean(lag1)), float(np.mean(lag1**2))


def pinball(y: np.ndarray, q: np.ndarray, level: float) -> float:
    diff = y - q
    return float(np.mean(np.maximum(level * diff, (level - 1) * diff)))


def score(
    train: pd.DataFrame,
    test: pd.DataFrame,
    forecast: pd.DataFrame,
    mean: str,
    band: tuple[str, str] | None,
    m: int,
) -> dict[str, float]:
    """Means over series of MASE, RMSSE, scaled pinball and 80% coverage, and the
    panel's ``volume`` error: its total mean forecast over its total demand, minus 1
    (per-series scores over periods of mostly zeros reward forecasts shrunk towards zero;
    this says what such a forecast does to the plan)."""
    history = {sid: g["y"].to_numpy(float) for sid, g in train.groupby("series_id")}
    joined = test.merge(forecast, on=["series_id", "ds"], how="left")
    volume = float(joined[mean].sum() / joined["y"].sum() - 1.0)
    out: dict[str, list[float]] = {"mase": [], "rmsse": [], "pinball": [], "coverage": []}
    for sid, rows in joined.groupby("series_id"):
        y, f = rows["y"].to_numpy(float), rows[mean].to_numpy(float)
        s_mase, s_mae1, s_mse1 = scales(history[sid], m)
        out["mase"].append(float(np.mean(np.abs(y - f))) / s_mase)
        out["rmsse"].append(float(np.sqrt(np.mean((y - f) ** 2) / s_mse1)))
        if band is not None:
            low, high = (rows[c].to_numpy(float) for c in band)
            loss = (pinball(y, low, 0.1) + pinball(y, high, 0.9)) / 2
            out["pinball"].append(loss / s_mae1)
            out["coverage"].append(float(np.mean((y >= low) & (y <= high))))
    scores = {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()}
    return {**scores, "volume": volume}


def run_ordercast(
    panel: Panel, train: pd.DataFrame, n_jobs: int
) -> tuple[pd.DataFrame, tuple[str, str] | None]:
    """As ``ordercast forecast SERIES --horizon 12 --season S --n-jobs N`` runs it."""
    from forecasting.demand.auto import AutoForecaster
    from forecasting.demand.config import GlobalModelConfig, ParallelConfig

    model = AutoForecaster(
        horizon=HORIZON,
        season_length=panel.season,
        freq=panel.freq,
        global_model=GlobalModelConfig(seasons=(panel.season,)),
        parallel=ParallelConfig(n_jobs=n_jobs),
    ).fit(train)
    chosen = model.selection_["model"].value_counts()
    print(f"  ordercast chose: {', '.join(f'{k} {v}' for k, v in chosen.items())}")
    return model.predict(), ("q10", "q90")


def peers(season: int) -> dict[str, Callable[[], object]]:
    from statsforecast import models as sf

    return {
        "Naive": sf.Naive,
        "SeasonalNaive": lambda: sf.SeasonalNaive(season_length=season),
        "CrostonClassic": sf.CrostonClassic,
        "CrostonSBA": sf.CrostonSBA,
        "TSB": lambda: sf.TSB(alpha_d=0.1, alpha_p=0.1),
        "ADIDA": sf.ADIDA,
        "IMAPA": sf.IMAPA,
        "AutoETS": lambda: sf.AutoETS(season_length=season),
    }


WITH_INTERVALS = {"Naive", "SeasonalNaive", "AutoETS"}


def run_peer(
    name: str, make: Callable[[], object], panel: Panel, train: pd.DataFrame, n_jobs: int
) -> tuple[pd.DataFrame, tuple[str, str] | None]:
    from statsforecast import StatsForecast

    model = make()
    sf = StatsForecast(models=[model], freq=panel.freq, n_jobs=n_jobs)  # type: ignore[list-item]
    df = train.rename(columns={"series_id": "unique_id"})
    level = [80] if name in WITH_INTERVALS else None
    out = sf.forecast(df=df, h=HORIZON, level=level).rename(columns={"unique_id": "series_id"})
    column = str(model)
    out = out.rename(columns={column: "mean"})
    if level is None:
        return out[["series_id", "ds", "mean"]], None
    out = out.rename(columns={f"{column}-lo-80": "lo", f"{column}-hi-80": "hi"})
    return out[["series_id", "ds", "mean", "lo", "hi"]], ("lo", "hi")


def measure(panel: Panel, split_name: str, n_jobs: int, only_ours: bool) -> pd.DataFrame:
    frame = panel.frame if split_name == "test" else development(panel.frame, HORIZON)
    train, test = split(frame, HORIZON)
    zeros = float((train["y"] == 0).mean())
    print(
        f"\n{panel.name} ({split_name}): {train['series_id'].nunique():,} series, "
        f"{len(train):,} training periods ({zeros:.0%} zero), horizon {HORIZON}, "
        f"season {panel.season}"
    )
    runners: dict[str, Callable[[], tuple[pd.DataFrame, tuple[str, str] | None]]] = {
        "ordercast": lambda: run_ordercast(panel, train, n_jobs)
    }
    if not only_ours:
        for name, make in peers(panel.season).items():
            runners[name] = lambda name=name, make=make: run_peer(name, make, panel, train, n_jobs)
    rows = []
    for name, run in runners.items():
        started = time.perf_counter()
        forecast, band = run()
        seconds = time.perf_counter() - started
        mean = "mean"
        rows.append(
            {"model": name, **score(train, test, forecast, mean, band, panel.season), "s": seconds}
        )
    table = pd.DataFrame(rows)
    peer_rows = table[table["model"] != "ordercast"]
    if not peer_rows.empty:
        ours = table.iloc[0]
        best_mase, best_rmsse = peer_rows["mase"].min(), peer_rows["rmsse"].min()
        ets_s = float(table.loc[table["model"] == "AutoETS", "s"].iloc[0])
        table["mase/best"] = table["mase"] / best_mase
        table["rmsse/best"] = table["rmsse"] / best_rmsse
        print(table.round(3).to_string(index=False))
        print(
            f"  ordercast vs best peer: MASE {ours['mase'] / best_mase:.3f} "
            f"({peer_rows.loc[peer_rows['mase'].idxmin(), 'model']}), RMSSE "
            f"{ours['rmsse'] / best_rmsse:.3f} "
            f"({peer_rows.loc[peer_rows['rmsse'].idxmin(), 'model']}), wall time "
            f"{ours['s'] / ets_s:.2f} x AutoETS"
        )
        ok = ours["mase"] <= best_mase and ours["rmsse"] <= best_rmsse and ours["s"] <= ets_s
        print(f"  {'PASS' if ok else 'FAIL'}  MASE and RMSSE <= best peer, time <= AutoETS")
    else:
        print(table.round(3).to_string(index=False))
    table.insert(0, "panel", panel.name)
    return table


PANELS = ("scms_item", "scms_item_country", "synthetic_intermittent", "synthetic_lumpy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", default=",".join(PANELS))
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--only-ours", action="store_true", help="Only ordercast")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    names = [n.strip() for n in args.panels.split(",") if n.strip()]
    unknown = sorted(set(names) - set(PANELS))
    if unknown:
        raise SystemExit(f"unknown panels {unknown}; known: {', '.join(PANELS)}")
    seed = 2 if args.split == "test" else 1
    # Both sides are imported before any timing: StatsForecast is (peers() runs before
    # the clock starts), and ordercast's first panel used to pay for importing
    # scikit-learn, statsmodels and joblib inside its measured time (#20: ~2 s of 5.9).
    import forecasting.demand.auto  # noqa: F401

    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; n_jobs {args.n_jobs}")
    for panel in [*scms_panels(names), *synthetic_panels(names, seed)]:
        measure(panel, args.split, args.n_jobs, args.only_ours)


if __name__ == "__main__":
    main()
