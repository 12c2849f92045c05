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

``--pooled`` replays instead the rule the pipeline now follows (#20): each class's
default chosen per panel by a backtest pooled over the class's series
(``forecasting.demand.selection.pooled_choice``), for several candidate sets, windows,
pooling (per class or both classes together) and margins, and prints each variant's
ratio to the best peer of each development panel (``--peers``: the panel's best MASE and
RMSSE among StatsForecast's models, from ``benchmarks/intermittent.py --split dev``),
the worse of the two per panel and their mean over panels.

``--alive`` replays the rule with the alive weighing (``forecasting.demand.obsolescence``):
each candidate of a set (rate methods alone and in pairs, with or without naive) at the
prior of least pooled backtest RMSSE from a grid, then the pooled choice among them, and
prints the same ratios. It chose ``SelectionConfig.alive_priors`` and the candidates.
Its ``ml`` rows estimate each class's prior by maximum likelihood from the comebacks in
the series' own histories instead (:func:`ml_prior`), its ``volume`` rows choose it by
the pooled backtest's volume, and its ``ml within`` rows keep the estimate where the
pooled backtest's volume error at it is within a tolerance of the best volume prior's
(adopted, with naive among the candidates and a 10% tolerance: see
``SelectionConfig.alive_tolerance``). A second table gives each rule's volume error on
the validation slice.

``--alive-margins`` replays the alive rule with other fixed defaults and a margin the
chosen prior's pooled RMSSE must beat the unweighed candidate's by (none adopted: the
current rule, IMAPA and no margin, had the least mean of the worse ratios).

    .venv/bin/python benchmarks/intermittent_dev.py [--panels ...]
        [--pooled | --alive | --alive-margins]
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

import intermittent as bench

from forecasting.demand.backtest import (
    backtest_values,
    combine,
    forecast_values,
    plan_windows,
    robust_scale,
    selection_score,
)
from forecasting.demand.classify import classify_values
from forecasting.demand.config import SelectionConfig
from forecasting.demand.obsolescence import (
    EVERY_PERCENT,
    alive_probability,
    comebacks,
    estimate_prior,
)
from forecasting.demand.selection import error_scales, pooled_choice

MODELS = (
    "croston", "sba", "tsb", "adida", "imapa", "window_average", "naive",
    "seasonal_naive", "ets", "theta", "drift",
)  # fmt: skip
CLASS_MODELS = {
    "intermittent": ("croston", "sba", "tsb", "adida", "imapa", "window_average"),
    "smooth": ("seasonal_naive", "ets", "window_average", "drift"),
}  # the pipeline's candidates (forecasting.demand.classify), by class group
DEFAULT_POOL = ("tsb", "adida", "imapa", "sba", "window_average", "naive", "ets", "theta")
QUANTILES = (0.1, 0.5, 0.9)
# The fixed class default --pooled replays against: the one of its time (the alive
# weighing, --alive, later made IMAPA alone the default).
FIXED_BEFORE_ALIVE = ("imapa", "window_average", "naive")


class Series:
    """One development series: its backtest and validation forecasts of every model of
    :data:`MODELS`, combined on demand (equal weights, no refitting)."""

    def __init__(self, y: np.ndarray, season: int, models: tuple[str, ...] = MODELS) -> None:
        self.train, self.valid = y[:-12], y[-12:]
        self.season = season
        self.demand_class = classify_values(self.train)[2]
        self.group = "intermittent" if self.demand_class in ("intermittent", "lumpy") else "smooth"
        self.windows = plan_windows(len(self.train), 12, 3, min_train=12)
        self.made: dict = {}
        self.final: dict = {}
        # As the pipeline with its global model on: no local ETS on seasons over 12.
        self.models = tuple(m for m in models if season <= 12 or m != "ets")
        if self.windows.cutoffs:
            models = self.models
            _, self.made = backtest_values(self.train, models, self.windows, season, QUANTILES)
            self.final = {n: forecast_values(n, self.train, 12, season, QUANTILES) for n in models}
        self.s_mase, _, self.s_mse1 = bench.scales(self.train, season)
        self._scores: dict[tuple[str, ...], np.ndarray] = {}
        self._errors: dict[tuple[str, ...], tuple[float, float]] = {}

    def scores(self, combo: tuple[str, ...]) -> np.ndarray:
        """Selection score of the combination in each backtest window."""
        combo = tuple(sorted(combo))
        if combo not in self._scores:
            out = []
            for w, cutoff in enumerate(self.windows.cutoffs):
                actual = self.train[cutoff : cutoff + 12]
                fc = combine([self.made[n][w] for n in combo])
                scale = robust_scale(self.train[:cutoff], self.season)
                out.append(selection_score(actual, fc, QUANTILES, scale))
            self._scores[combo] = np.array(out)
        return self._scores[combo]

    def errors(self, combo: tuple[str, ...]) -> tuple[float, float]:
        """Validation MASE and RMSSE of the combination's forecast."""
        combo = tuple(sorted(combo))
        if combo not in self._errors:
            f = combine([self.final[n] for n in combo]).mean
            v = self.valid
            self._errors[combo] = (
                float(np.mean(np.abs(v - f)) / self.s_mase),
                float(np.sqrt(np.mean((v - f) ** 2) / self.s_mse1)),
            )
        return self._errors[combo]

    def pipeline_rule(self, default: tuple[str, ...], margin: float = 0.05) -> tuple[str, ...]:
        """The pipeline's own pick among its class candidates and the default's members:
        the best single model unless the ensemble of the best three is within ``margin``."""
        own = CLASS_MODELS[self.group]
        names = tuple(m for m in (*own, *(d for d in default if d not in own)) if m in self.models)
        singles = {n: self.scores((n,)).mean() for n in names}
        ranked = sorted(singles, key=lambda n: (singles[n], n))
        members = tuple(ranked[:3])
        ensemble = self.scores(members).mean()
        best = ranked[0]
        return (best,) if singles[best] < ensemble * (1 - margin) else members

    def evidence_rule(
        self, default: tuple[str, ...], min_windows: int, margin: float
    ) -> tuple[str, ...]:
        """The default unless the pipeline's pick beats it clearly (as selection.with_evidence)."""
        default = tuple(m for m in default if m in self.models) or ("imapa",)
        contender = self.pipeline_rule(default)
        if tuple(sorted(contender)) == tuple(sorted(default)):
            return default
        d, c = self.scores(default), self.scores(contender)
        strong = (
            len(d) >= min_windows and c.mean() < d.mean() * (1 - margin) and bool(np.all(c < d))
        )
        return contender if strong else default


NO_DEFAULT = ("(pipeline rule)",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", default=",".join(bench.PANELS))
    parser.add_argument("--out", type=Path, help="write every rule's mean scores per panel (CSV)")
    parser.add_argument(
        "--tables", type=Path, nargs="*", help="rank the rules of earlier --out files instead"
    )
    parser.add_argument("--pooled", action="store_true", help="replay the pooled class default")
    parser.add_argument("--alive", action="store_true", help="replay it with the alive weighing")
    parser.add_argument(
        "--alive-margins",
        action="store_true",
        help="replay the alive weighing with other fixed defaults and adoption margins",
    )
    parser.add_argument(
        "--peers",
        default="scms_item=0.579:0.439,scms_item_country=0.863:0.547,"
        "synthetic_intermittent=0.795:0.664,synthetic_lumpy=0.768:0.544",
        help="best peer MASE:RMSSE per panel (development split, 2026-12-02)",
    )
    args = parser.parse_args()
    if args.tables:
        rank(pd.concat([pd.read_csv(t) for t in args.tables]))
        return
    warnings.simplefilter("ignore")
    names = [n.strip() for n in args.panels.split(",")]
    panels = [*bench.scms_panels(names), *bench.synthetic_panels(names, seed=1)]
    defaults = [c for k in (1, 2, 3) for c in itertools.combinations(DEFAULT_POOL, k)]
    evidence = [(w, m) for w in (1, 2, 3, 99) for m in (0.0, 0.1, 0.2, 0.3)]
    if args.pooled or args.alive or args.alive_margins:
        peers = {
            k: tuple(map(float, v.split(":")))
            for k, v in (item.split("=") for item in args.peers.split(","))
        }
        replay = replay_alive if args.alive else replay_pooled
        (replay_alive_margins if args.alive_margins else replay)(panels, peers)
        return
    results: list[tuple[object, ...]] = []
    for panel in panels:
        dev = bench.development(panel.frame, bench.HORIZON)
        train, valid = bench.split(dev, bench.HORIZON)
        full = pd.concat([train, valid]).sort_values(["series_id", "ds"])
        records = [
            Series(g["y"].to_numpy(float), panel.season) for _, g in full.groupby("series_id")
        ]
        records = [r for r in records if r.windows.cutoffs]
        counts = pd.Series([r.demand_class for r in records]).value_counts().to_dict()
        print(f"{panel.name}: {len(records)} series with a backtest window {counts}", flush=True)
        for rec in records:
            results.append(
                (panel.name, rec.group, NO_DEFAULT, 0, 0.0, *rec.errors(rec.pipeline_rule(())))
            )
            for d, (w, m) in itertools.product(defaults, evidence):
                results.append(
                    (panel.name, rec.group, d, w, m, *rec.errors(rec.evidence_rule(d, w, m)))
                )
    table = pd.DataFrame(
        results, columns=["panel", "group", "default", "min_windows", "margin", "mase", "rmsse"]
    )
    table["default"] = table["default"].map("+".join)
    keys = ["group", "panel", "default", "min_windows", "margin"]
    means = table.groupby(keys)[["mase", "rmsse"]].mean().reset_index()
    means["series"] = table.groupby(keys).size().to_numpy()
    if args.out is not None:
        means.to_csv(args.out, index=False)
    rank(means)


def development_records(panel: bench.Panel) -> list[Series]:
    dev = bench.development(panel.frame, bench.HORIZON)
    train, valid = bench.split(dev, bench.HORIZON)
    full = pd.concat([train, valid]).sort_values(["series_id", "ds"])
    # ETS and theta only where the replay uses them: the smooth and erratic series' rule.
    records = []
    for _, g in full.groupby("series_id"):
        y = g["y"].to_numpy(float)
        smooth = classify_values(y[:-12])[2] in ("smooth", "erratic")
        models = MODELS if smooth else tuple(m for m in MODELS if m not in ("ets", "theta"))
        records.append(Series(y, panel.season, models))
    return [r for r in records if r.windows.cutoffs]


def pooled_window_errors(
    rec: Series, combo: tuple[str, ...], last: int, prior: float | None = None
) -> np.ndarray:
    """Mean MASE and RMSSE of the combination's mean (weighed by the alive ``prior``; None:
    unweighed) over the last ``last`` backtest windows, scaled as
    :func:`forecasting.demand.selection.error_scales` (NaN: none)."""
    windows = range(len(rec.windows.cutoffs))[-last:]
    out = [e for w in windows if np.all(np.isfinite(e := alive_errors(rec, combo, prior, w)))]
    return np.mean(out, axis=0) if out else np.full(2, np.nan)


def replay_pooled(panels: list[bench.Panel], peers: dict[str, tuple[float, ...]]) -> None:
    fixed = FIXED_BEFORE_ALIVE
    pool = ("imapa", "adida", "tsb", "sba", "window_average", "naive")
    sets = {
        "pairs": [c for k in (1, 2) for c in itertools.combinations(pool, k)],
        "triples": [c for k in (1, 2, 3) for c in itertools.combinations(pool, k)],
    }
    records = {p.name: development_records(p) for p in panels}
    rows = []
    for (name, cands), joint, last, margin in itertools.product(
        sets.items(), (False, True), (1, 3), (0.0, 0.02, 0.05)
    ):
        cands = list(dict.fromkeys([*cands, fixed]))
        row: dict[str, object] = {"set": name, "joint": joint, "windows": last, "margin": margin}
        for panel, recs in records.items():
            inter = [r for r in recs if r.group == "intermittent"]
            groups = (
                [inter]
                if joint
                else [[r for r in inter if r.demand_class == k] for k in ("intermittent", "lumpy")]
            )
            errors = [r.errors(r.pipeline_rule(())) for r in recs if r.group != "intermittent"]
            for part in groups:
                if not part:
                    continue
                chosen = fixed
                if len(part) >= SelectionConfig().min_pooled_series:
                    means = [
                        np.nanmean([pooled_window_errors(r, c, last) for r in part], axis=0)
                        for c in cands
                    ]
                    scores = pd.DataFrame(
                        {
                            "members": cands,
                            "mase": [m[0] for m in means],
                            "rmsse": [m[1] for m in means],
                        }
                    )
                    chosen = pooled_choice(scores, fixed, margin)
                errors += [r.errors(chosen) for r in part]
            mase, rmsse = np.mean(errors, axis=0)
            best_mase, best_rmsse = peers[panel]
            row[panel] = max(mase / best_mase, rmsse / best_rmsse)
        rows.append(row)
    table = pd.DataFrame(rows)
    names = list(records)
    table["mean"] = table[names].mean(axis=1)
    print("worse of MASE/best peer and RMSSE/best peer per development panel, by variant")
    print(table.sort_values("mean").round(3).to_string(index=False))
    print(f"fixed default {'+'.join(fixed)} throughout, for comparison:")
    base = {}
    for panel, recs in records.items():
        errors = [
            r.errors(fixed if r.group == "intermittent" else r.pipeline_rule(())) for r in recs
        ]
        mase, rmsse = np.mean(errors, axis=0)
        base[panel] = max(mase / peers[panel][0], rmsse / peers[panel][1])
    print(
        {k: round(v, 3) for k, v in base.items()},
        "mean",
        round(float(np.mean(list(base.values()))), 3),
    )


def alive_errors(
    rec: Series, combo: tuple[str, ...], prior: float | None, window: int | None = None
) -> np.ndarray:
    """MASE and RMSSE of the combination weighed by the alive ``prior`` (None: unweighed):
    on the validation slice, or on backtest ``window`` scaled as the pooled backtest."""
    if window is None:
        train, actual, made = rec.train, rec.valid, [rec.final[n] for n in combo]
        s_mase, s_mse = rec.s_mase, rec.s_mse1
    else:
        cutoff = rec.windows.cutoffs[window]
        train, actual = rec.train[:cutoff], rec.train[cutoff : cutoff + 12]
        made = [rec.made[n][window] for n in combo]
        s_mase, s_mse = error_scales(train, rec.season)
        if not (s_mase > 0 and s_mse > 0):
            return np.full(2, np.nan)
    weight = 1.0 if prior is None else alive_probability(train, prior)
    error = actual - combine(made).mean * weight
    return np.array([np.mean(np.abs(error)) / s_mase, np.sqrt(np.mean(error**2) / s_mse)])


class PooledErrors:
    """Mean pooled window MASE and RMSSE of a class's series for a combination and prior,
    each series' errors computed once (a replay asks for the same ones many times)."""

    def __init__(self) -> None:
        self.memo: dict[tuple[int, tuple[str, ...], float | None], np.ndarray] = {}

    def __call__(
        self, part: list[Series], combo: tuple[str, ...], prior: float | None
    ) -> np.ndarray:
        out = []
        for r in part:
            key = (id(r), combo, prior)
            if key not in self.memo:
                self.memo[key] = pooled_window_errors(r, combo, len(r.windows.cutoffs), prior)
            out.append(self.memo[key])
        return np.nanmean(out, axis=0)


def replay_alive(panels: list[bench.Panel], peers: dict[str, tuple[float, ...]]) -> None:
    rate = ("imapa", "adida", "tsb", "sba", "window_average")
    sets = {
        "rate pairs": [c for k in (1, 2) for c in itertools.combinations(rate, k)],
        "with naive": [c for k in (1, 2) for c in itertools.combinations((*rate, "naive"), k)],
    }
    grids = {
        "none": (None,),
        "0.5-0.99": (None, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99),
        "0.1-0.99": (None, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99),
        "ml 0.01-0.99": EVERY_PERCENT,
        "ml 0.5-0.99": (0.5, 0.8, 0.9, 0.95, 0.98, 0.99),
        "volume 0.5-0.99": (None, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99),
        "volume 0.1-0.99": (None, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99),
        "ml within 2% volume": (None, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99),
        "ml within 5% volume": (None, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99),
        "ml within 10% volume": (None, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99),
    }
    records = {p.name: development_records(p) for p in panels}
    pooled = PooledErrors()

    def volume_error(part: list[Series], combo: tuple[str, ...], prior: float | None) -> float:
        """How far the pooled backtest's total forecast is from the total demand."""
        made, actual = np.sum([backtest_totals(r, combo, prior) for r in part], axis=0)
        return abs(made / actual - 1.0) if actual > 0 else np.inf

    rows = []
    volumes: dict[tuple[str, str, str], float] = {}
    for (set_name, cands), (grid_name, grid) in itertools.product(sets.items(), grids.items()):
        row: dict[str, object] = {"candidates": set_name, "priors": grid_name}
        for panel, recs in records.items():
            errors = [
                alive_errors(r, r.pipeline_rule(()), None)
                for r in recs
                if r.group != "intermittent"
            ]
            totals: list[tuple[float, float]] = []
            for klass in ("intermittent", "lumpy"):
                part = [r for r in recs if r.demand_class == klass]
                combo, prior = ("imapa",), None
                if len(part) >= SelectionConfig().min_pooled_series:
                    if grid_name.startswith("ml within"):
                        # The estimate, unless the backtest volume is off by more than
                        # the tolerance from the best the grid gives: then that best.
                        tolerance = float(grid_name.split()[2].rstrip("%")) / 100
                        ml = ml_prior([r.train for r in part], EVERY_PERCENT)
                        best = {}
                        for c in cands:
                            closest = min(grid, key=lambda p, c=c: volume_error(part, c, p))
                            near = volume_error(part, c, ml) <= (
                                volume_error(part, c, closest) + tolerance
                            )
                            best[c] = ml if near else closest
                    elif grid_name.startswith("volume"):
                        best = {
                            c: min(grid, key=lambda p, c=c: volume_error(part, c, p)) for c in cands
                        }
                    else:
                        options = grid
                        if grid_name.startswith("ml"):  # the estimate, for every candidate
                            options = (ml_prior([r.train for r in part], grid),)
                        best = {
                            c: min(options, key=lambda p, c=c: pooled(part, c, p)[1]) for c in cands
                        }
                    scores = pd.DataFrame(
                        {
                            "members": cands,
                            "mase": [pooled(part, c, best[c])[0] for c in cands],
                            "rmsse": [pooled(part, c, best[c])[1] for c in cands],
                        }
                    )
                    combo = pooled_choice(scores, ("imapa",), SelectionConfig().pooled_margin)
                    prior = best[combo]
                errors += [alive_errors(r, combo, prior) for r in part]
                totals += [validation_totals(r, combo, prior) for r in part]
            mase, rmsse = np.mean(errors, axis=0)
            row[f"{panel} MASE"] = mase / peers[panel][0]
            row[f"{panel} RMSSE"] = rmsse / peers[panel][1]
            made, actual = np.sum(totals, axis=0)
            volumes[(set_name, grid_name, panel)] = made / actual - 1.0
        rows.append(row)
    table = pd.DataFrame(rows)
    ratios = [c for c in table.columns if c.endswith(("MASE", "RMSSE"))]
    worse = pd.concat([table[[f"{p} MASE", f"{p} RMSSE"]].max(axis=1) for p in records], axis=1)
    table["mean of the worse per panel"] = worse.mean(axis=1)
    table["worst"] = table[ratios].max(axis=1)
    print("ratio to each development panel's best peer, by candidate set and prior grid")
    print(table.round(3).to_string(index=False))
    bias = pd.Series(volumes).unstack()
    print("volume error of the intermittent and lumpy series' validation forecast (sum of the")
    print("mean forecasts over the sum of demand, minus 1), by candidate set and prior grid")
    print(bias.round(3).to_string())


def backtest_totals(
    rec: Series, combo: tuple[str, ...], prior: float | None
) -> tuple[float, float]:
    """Sum of the combination's weighed mean forecasts and of the demand over the backtest
    windows."""
    made = actual = 0.0
    for w, cutoff in enumerate(rec.windows.cutoffs):
        weight = 1.0 if prior is None else alive_probability(rec.train[:cutoff], prior)
        made += float(combine([rec.made[n][w] for n in combo]).mean.sum()) * weight
        actual += float(np.nansum(rec.train[cutoff : cutoff + 12]))
    return made, actual


def validation_totals(
    rec: Series, combo: tuple[str, ...], prior: float | None
) -> tuple[float, float]:
    """Sum of the combination's weighed mean forecast and of the demand over the
    validation slice."""
    weight = 1.0 if prior is None else alive_probability(rec.train, prior)
    made = float(combine([rec.final[n] for n in combo]).mean.sum()) * weight
    return made, float(np.nansum(rec.valid))


def ml_prior(
    histories: list[np.ndarray], priors: tuple[float, ...], h: int = 12, min_train: int = 12
) -> float | None:
    """The alive prior of ``priors`` (or None: items do not die) under which the comebacks
    in ``histories`` are likeliest, as the pipeline estimates it
    (:func:`forecasting.demand.obsolescence.estimate_prior`)."""
    estimate = estimate_prior([comebacks(y, h, min_train) for y in histories], priors)
    return None if estimate is None or estimate >= 1.0 else estimate


def replay_alive_margins(panels: list[bench.Panel], peers: dict[str, tuple[float, ...]]) -> None:
    """The alive rule (rate pairs, priors 0.5-0.99) with other fixed defaults, a prior
    adopted only when its pooled RMSSE is ``margin`` below the unweighed candidate's."""
    rate = ("imapa", "adida", "tsb", "sba", "window_average")
    cands = [c for k in (1, 2) for c in itertools.combinations(rate, k)]
    grid = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
    defaults = [("imapa",), ("imapa", "tsb"), ("tsb",), ("imapa", "adida"), FIXED_BEFORE_ALIVE[:2]]
    records = {p.name: development_records(p) for p in panels}
    pooled = PooledErrors()

    rows = []
    for default, margin in itertools.product(defaults, (0.0, 0.01, 0.02, 0.05)):
        row: dict[str, object] = {"default": "+".join(default), "margin": margin}
        for panel, recs in records.items():
            errors = [
                alive_errors(r, r.pipeline_rule(()), None)
                for r in recs
                if r.group != "intermittent"
            ]
            for klass in ("intermittent", "lumpy"):
                part = [r for r in recs if r.demand_class == klass]
                combo, prior = default, None
                if len(part) >= SelectionConfig().min_pooled_series:
                    options = list(dict.fromkeys([*cands, default]))
                    best: dict[tuple[str, ...], float | None] = {}
                    for c in options:
                        p = min(grid, key=lambda p, c=c: pooled(part, c, p)[1])
                        adopt = pooled(part, c, p)[1] < pooled(part, c, None)[1] * (1 - margin)
                        best[c] = p if adopt else None
                    scores = pd.DataFrame(
                        {
                            "members": options,
                            "mase": [pooled(part, c, best[c])[0] for c in options],
                            "rmsse": [pooled(part, c, best[c])[1] for c in options],
                        }
                    )
                    combo = pooled_choice(scores, default, SelectionConfig().pooled_margin)
                    prior = best[combo]
                errors += [alive_errors(r, combo, prior) for r in part]
            mase, rmsse = np.mean(errors, axis=0)
            row[panel] = max(mase / peers[panel][0], rmsse / peers[panel][1])
        rows.append(row)
    table = pd.DataFrame(rows)
    table["mean"] = table[list(records)].mean(axis=1)
    print("worse of MASE/best peer and RMSSE/best peer per development panel, by variant")
    print(table.round(3).to_string(index=False))


def rank(means: pd.DataFrame) -> None:
    """Print the rules of each class group by their mean ratio to each panel's best rule."""
    keys = ["default", "min_windows", "margin"]
    for group, part in means.groupby("group"):
        by = part.set_index(["panel", *keys])[["mase", "rmsse"]]
        # Each panel counts equally: the mean over panels of the ratio to its best rule.
        ratio = by / by.groupby(level="panel").transform("min")
        overall = ratio.groupby(level=keys).mean()
        overall["both"] = overall[["mase", "rmsse"]].mean(axis=1)
        ranked = overall.sort_values("both")
        print(
            f"\n{group} group (intermittent+lumpy or smooth+erratic): rules by mean ratio to "
            "each panel's best rule, best first"
        )
        print(ranked.head(12).round(4).to_string())
        print("the pipeline's rule without a default:")
        print(ranked.xs(NO_DEFAULT[0], level="default", drop_level=False).round(4).to_string())
        top = ranked.index[0]
        print(f"chosen for {group}: {top}; per panel (rule vs pipeline rule):")
        chosen = by.xs(top, level=keys)
        before = by.xs((NO_DEFAULT[0], 0, 0.0), level=keys)
        print(chosen.join(before, rsuffix="_before").round(3).to_string())


if __name__ == "__main__":
    main()
