"""Benchmark: planner adjustments (issue #18) — do good ones add value, and is serving fast?

**Forecast value added.** A synthetic history (``forecasting.synthetic.generate_orders``)
is split 13 weeks before its last complete week. The demand pipeline's own steps
(``training.pipelines.demand.fit`` and ``coherent_forecasts``: per-series backtest and
selection over a small, quick model list, MinT reconciliation, weekly, levels ``sku,site``,
``sku``, ``site``, ``total``) are fitted on the part before the split and served as a
:class:`DemandServingModel`. Then two kinds of planner are simulated on the 13 weeks after:

* **good** (reason code ``promotion``): the generator's promotion calendar is what a
  planner knows in advance. For every SKU-week with promotion days, a ``percent``
  adjustment of ``(lift - 1) x days / 7``, ``lift`` being the promotional lift measured on
  the history before the split (median over SKUs of units per promotion day / units per
  other day); at the ``sku`` level or on each of its ``sku,site`` series, at random;
* **bad** (reason code ``other``): as many random SKU-weeks without promotion, at the
  ``sku`` or a ``sku,site`` level, changed by a random +-30-60 %.

The two sets touch disjoint series-weeks (each one's value added is its own). They are
applied together with ``apply_adjustments``, kept in a SQLite order store with
``save_adjustment`` and scored, as ``training.adjustments.fva_report`` does, by
``forecast_value_added`` over ``read_values`` against the actuals after the split.
Targets (#18: "FVA reports the first as helping and the second as hurting"): the good ones
pooled FVA > 0, the bad ones' < 0. The share of single adjustments that helped is printed
beside it: it compares absolute errors, which a correct uplift of the mean loses on sparse
weeks where the actual is small (the mean is not the absolute-error optimum).

**Latency.** A served model of 10,251 series (50 sites x 200 SKUs, plus the ``sku``,
``site`` and ``total`` roll-ups; 13 weekly periods, the default 7-point quantile grid)
behind the real app (``api.main.create_app`` with a loader of that model and a SQLite
order store) on a live uvicorn in this process. A separate process drives
``POST /v1/forecasts/demand`` with the keep-alive client of ``benchmarks/api.py``: single
series across the levels (half of them series an adjustment names), one after another and
at a fixed rate (latency from each request's scheduled start, so queueing counts). First
with no adjustment stored (the statistical forecast: the peer), then after 1,000
adjustments of every level and kind are written to the store with ``save_adjustment``
(the rebuild they cause, on the first request after the store changed, is timed on its
own), and last the cost of one more adjustment made over HTTP while serving.
Target: p99 <= 50 ms at the fixed rate with the adjustments applied, no errors.

The machine's load average is printed at the start and the end: the latencies are only
meaningful when it is low (below the number of cores).

    .venv/bin/python benchmarks/adjustments.py [--quick] [--seed 7] [--requests 2000]
        [--rate 150] [--models window_average,seasonal_naive,tsb]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: benchmarks.api is a sibling to reuse
    sys.path.insert(0, str(ROOT))

from api.http_protocol import HeadLimitedProtocol  # noqa: E402
from api.main import create_app  # noqa: E402
from api.model_store import LoadedModel, Served  # noqa: E402
from benchmarks.api import Connection, free_port, open_loop  # noqa: E402
from forecasting.accuracy import series_actuals  # noqa: E402
from forecasting.demand.adjustments import (  # noqa: E402
    AdjustedForecast,
    Adjustment,
    apply_adjustments,
    check_adjustment,
)
from forecasting.demand.fva import forecast_value_added  # noqa: E402
from forecasting.demand.serving import (  # noqa: E402
    DemandServingModel,
    SeriesPath,
    build_serving_model,
)
from forecasting.synthetic import _catalogue, generate_orders  # noqa: E402
from ordercast.settings import (  # noqa: E402
    QUANTILE_GRID,
    DatabaseSettings,
    DemandSettings,
    Settings,
)
from store.adjustments import read_values, save_adjustment  # noqa: E402
from store.database import OrderStore  # noqa: E402
from training.pipelines.demand import coherent_forecasts, fit, hierarchy_series  # noqa: E402

HORIZON = 13
FREQ = "W-SUN"
LEVELS = (("sku", "site"), ("sku",), ("site",), ())
TARGET_P99_MS = 50.0
QUANTILES = [0.1, 0.5, 0.9]
# Quantiles of the synthetic served model as multiples of the mean, on QUANTILE_GRID:
# bottom series are noisy, roll-ups narrower (errors partly cancel when summed).
BOTTOM_BAND = np.array([0.25, 0.4, 0.68, 1.0, 1.32, 1.65, 1.9])
UPPER_BAND = np.array([0.8, 0.85, 0.93, 1.0, 1.07, 1.15, 1.2])


# ----------------------------------------------------------------------- part 1: FVA


@dataclass(frozen=True)
class Split:
    """The history cut: orders up to ``cut`` (a Sunday) train; weeks after it are scored."""

    orders: pd.DataFrame
    start: pd.Timestamp  # first day of the history (day 0 of the generator)
    cut: pd.Timestamp
    weeks: pd.DatetimeIndex  # the served periods (week-ending Sundays)


def make_split(orders: pd.DataFrame) -> Split:
    start = pd.Timestamp(orders["order_date"].min())
    last = pd.Timestamp(orders["order_date"].max())
    # The last complete week ends on the Sunday on or before the last order date.
    last_week = last if last.dayofweek == 6 else last - pd.Timedelta(days=last.dayofweek + 1)
    cut = last_week - pd.Timedelta(weeks=HORIZON)
    weeks = pd.date_range(cut + pd.Timedelta(weeks=1), periods=HORIZON, freq=FREQ)
    return Split(orders, start, cut, weeks)


def promotion_calendar(seed: int, skus: int, sites: int, days: int) -> np.ndarray:
    """The generator's promotions, (SKU x day) booleans: its catalogue redrawn from the
    seed, the promotion windows laid out as ``generate_orders`` lays them out."""
    catalogue = _catalogue(np.random.default_rng(seed), skus, sites)
    t = np.arange(days)
    flag = np.zeros((skus, days), dtype=bool)
    for k in range(catalogue["promo_start"].shape[1]):
        begin = catalogue["promo_start"][:, k] % days
        end = begin + catalogue["promo_len"][:, k]
        flag |= (t[None, :] >= begin[:, None]) & (t[None, :] < end[:, None])
    return flag


def check_calendar(orders: pd.DataFrame, calendar: np.ndarray, start: pd.Timestamp) -> None:
    """Every order line's promotion flag must match the calendar: if the generator ever
    draws its catalogue differently, this says so instead of simulating wrong planners."""
    sku = orders["sku"].cat.codes.to_numpy()
    day = (orders["order_date"] - start).dt.days.to_numpy()
    if not np.array_equal(calendar[sku, day], orders["promotion"].to_numpy(bool)):
        raise SystemExit(
            "the promotion calendar redrawn from the seed does not match the orders' promotion "
            "flags: forecasting.synthetic changed how it draws its catalogue; update this benchmark"
        )


def measured_lift(orders: pd.DataFrame, calendar: np.ndarray, split: Split) -> tuple[float, int]:
    """Units per promotion day / units per other day, per SKU on the days up to the cut;
    the median over SKUs with both (what a planner would read off past promotions)."""
    known = (split.cut - split.start).days + 1
    units = np.zeros((calendar.shape[0], known))
    before = orders[orders["order_date"] <= split.cut]
    sku = before["sku"].cat.codes.to_numpy()
    day = (before["order_date"] - split.start).dt.days.to_numpy()
    np.add.at(units, (sku, day), before["quantity"].to_numpy(float))
    promo = calendar[:, :known]
    lifts = []
    for s in range(units.shape[0]):
        on, off = units[s, promo[s]], units[s, ~promo[s]]
        if len(on) and len(off) and off.mean() > 0:
            lifts.append(on.mean() / off.mean())
    return float(np.median(lifts)), len(lifts)


def fit_statistical(split: Split, models: str) -> tuple[DemandServingModel, float]:
    """The pipeline's fit and reconciled forecasts on the orders up to the cut, served."""
    settings = Settings(demand=DemandSettings(models=models, n_jobs=1, horizon=HORIZON))
    known = split.orders[split.orders["order_date"] <= split.cut]
    series = hierarchy_series(settings, known, split.cut)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast's convergence chatter on short series
        model = fit(settings, series)
        forecasts = coherent_forecasts(settings, model, series)
    seconds = time.perf_counter() - started
    core = build_serving_model(
        forecasts,
        model.selection_,
        settings.demand.levels,
        model.freq_,
        settings.demand.quantiles,
        trained_until=split.cut,
    )
    return core, seconds


def week_promo_days(calendar: np.ndarray, split: Split) -> np.ndarray:
    """Promotion days per SKU and served week (SKU x week)."""
    out = np.zeros((calendar.shape[0], len(split.weeks)), dtype=int)
    for w, sunday in enumerate(split.weeks):
        last = (sunday - split.start).days
        out[:, w] = calendar[:, last - 6 : last + 1].sum(axis=1)
    return out


def planner_adjustments(
    core: DemandServingModel,
    promo_days: np.ndarray,
    lift: float,
    sku_names: Sequence[str],
    rng: np.random.Generator,
) -> list[Adjustment]:
    """Good ones on every promoted SKU-week, as many bad ones on random other SKU-weeks."""
    bottom = core.paths["sku,site"]
    sites_of = {
        sku: [b.split("|")[1] for b in bottom if b.startswith(f"{sku}|")] for sku in sku_names
    }
    made: list[Adjustment] = []
    when = pd.Timestamp("2025-01-01", tz="UTC")
    weeks = pd.DatetimeIndex(next(iter(core.paths["total"].values())).ds)

    def add(level: str, series: str, week: int, value: float, code: str, reason: str) -> None:
        made.append(
            Adjustment(
                id=f"{code[:5]}-{len(made):05d}",
                level=level,
                series_id=series,
                start=weeks[week],
                end=weeks[week],
                kind="percent",
                value=float(value),
                author=f"planner-{len(made) % 7}",
                reason=reason,
                reason_code=code,
                created_at=when + pd.Timedelta(seconds=len(made)),
            )
        )

    promoted = np.argwhere(promo_days > 0)
    for s, w in promoted:
        sku = sku_names[s]
        percent = (lift - 1) * promo_days[s, w] / 7 * 100
        why = f"promotion: {promo_days[s, w]} days in the week"
        if sku not in core.paths["sku"]:
            continue
        if rng.random() < 0.5:
            add("sku", sku, w, percent, "promotion", why)
        else:
            for site in sites_of[sku]:
                add("sku,site", f"{sku}|{site}", w, percent, "promotion", why)
    quiet = np.argwhere(promo_days == 0)
    chosen = quiet[rng.choice(len(quiet), size=min(len(promoted), len(quiet)), replace=False)]
    for s, w in chosen:
        sku = sku_names[s]
        if sku not in core.paths["sku"]:
            continue
        change = rng.choice([-1, 1]) * rng.uniform(30, 60)
        if rng.random() < 0.5:
            add("sku", sku, w, change, "other", "gut feeling")
        else:
            site = sites_of[sku][rng.integers(len(sites_of[sku]))]
            add("sku,site", f"{sku}|{site}", w, change, "other", "gut feeling")
    return made


def save_all(
    store: OrderStore, adjustments: Sequence[Adjustment], result: AdjustedForecast
) -> float:
    """Keep every adjustment with the values it sets, as the API does; seconds taken."""
    values = {i: frame for i, frame in result.applied.groupby("adjustment_id", sort=False)}
    started = time.perf_counter()
    for adjustment in adjustments:
        save_adjustment(store, adjustment, values[adjustment.id])
    return time.perf_counter() - started


def fva_part(args: argparse.Namespace, folder: Path) -> dict[str, dict[str, float]]:
    sites, skus, days = (2, 30, 400) if args.quick else (3, 60, 500)
    history = generate_orders(sites=sites, skus=skus, days=days, seed=args.seed)
    orders = history.orders
    split = make_split(orders)
    calendar = promotion_calendar(args.seed, skus, sites, days)
    check_calendar(orders, calendar, split.start)
    lift, counted = measured_lift(orders, calendar, split)
    print(
        f"history: {len(orders):,} lines, {sites} sites x {skus} SKUs, {days} days "
        f"({split.start:%Y-%m-%d} to {orders['order_date'].max():%Y-%m-%d}); trained up to "
        f"{split.cut:%Y-%m-%d}, scored on {split.weeks[0]:%Y-%m-%d}..{split.weeks[-1]:%Y-%m-%d}"
    )
    print(
        f"promotion calendar redrawn from the seed matches every line's flag; measured lift "
        f"x{lift:.2f} per promotion day (median of {counted} SKUs before the cut; the "
        "generator draws x1.8-3.0)"
    )
    core, seconds = fit_statistical(split, args.models)
    n_series = sum(len(p) for p in core.paths.values())
    print(f"statistical model ({args.models}, reconciled): {n_series} series in {seconds:.1f} s")

    promo_days = week_promo_days(calendar, split)
    sku_names = list(orders["sku"].cat.categories)
    adjustments = planner_adjustments(
        core, promo_days, lift, sku_names, np.random.default_rng(args.seed)
    )
    result = apply_adjustments(core, adjustments)
    if not result.orphaned.empty:
        print(f"WARNING: {len(result.orphaned)} adjustments did not apply:\n{result.orphaned}")
    store = OrderStore.open(f"sqlite:///{folder / 'fva.db'}")
    try:
        saved = save_all(store, adjustments, result)
        kept = read_values(store)
    finally:
        store.dispose()
    cfg = Settings().demand
    actuals = series_actuals(orders, levels=cfg.levels, freq=cfg.freq, date_col=cfg.date_column)
    actuals = actuals.assign(series_id=actuals["series_id"].str.split(":", n=1).str[1])
    report = forecast_value_added(kept, actuals)
    direct = forecast_value_added(result.applied, actuals)
    same = np.allclose(
        report.per_adjustment.set_index("adjustment_id")["fva"].sort_index(),
        direct.per_adjustment.set_index("adjustment_id")["fva"].sort_index(),
        equal_nan=True,
    )
    print(
        f"{len(adjustments)} adjustments saved in {saved:.1f} s; FVA from the store's kept "
        f"values {'equals' if same else 'DIFFERS FROM'} FVA from apply_adjustments' frame"
    )
    class_of = dict(
        zip(history.sku_classes["sku"], history.sku_classes["demand_class"], strict=True)
    )
    classes = {a.id: class_of[a.series_id.split("|")[0]] for a in adjustments}
    return summarize_fva(report.summary, report.per_adjustment, classes)


def summarize_fva(
    summary: pd.DataFrame, per: pd.DataFrame, classes: dict[str, str]
) -> dict[str, dict[str, float]]:
    print(
        f"\n{'group':<26} {'adj':>5} {'helped':>7} {'share':>6} {'WAPE stat':>9} "
        f"{'WAPE adj':>9} {'FVA':>8} {'bias stat':>9} {'bias adj':>9}"
    )
    rows = summary[summary["group_by"].isin(["reason_code", "all"])]
    for _, r in rows.iterrows():
        print(
            f"{r['group']:<26} {r['adjustments']:>5} {r['helped']:>7} {r['share_helped']:>6.1%} "
            f"{r['wape_statistical']:>9.3f} {r['wape_adjusted']:>9.3f} {r['fva']:>+8.3f} "
            f"{r['bias_statistical']:>+9.3f} {r['bias_adjusted']:>+9.3f}"
        )
    # The same groups by level (a roll-up adjustment is judged on its roll-up) and by the
    # SKU's demand class (on sparse series a right uplift still often misses the week).
    rows_of = per.assign(demand_class=per["adjustment_id"].map(classes))
    for by in ("level", "demand_class"):
        for (code, part), g in rows_of.groupby(["reason_code", by]):
            actual = g["actual"].sum()
            wape_s = g["abs_error_statistical"].sum() / actual
            wape_a = g["abs_error_adjusted"].sum() / actual
            print(
                f"  {f'{code} @ {part}':<24} {len(g):>5} {int(g['helped'].sum()):>7} "
                f"{g['helped'].mean():>6.1%} {wape_s:>9.3f} {wape_a:>9.3f} "
                f"{wape_s - wape_a:>+8.3f}"
            )
    table = summary[summary["group_by"] == "reason_code"].set_index("group")
    wanted = ("share_helped", "fva")
    return {
        code: {name: float(table[name][code]) for name in wanted}
        for code in ("promotion", "other")
        if code in table.index
    }


# ----------------------------------------------------------------------- part 2: latency


def synthetic_core(sites: int, skus: int, seed: int) -> DemandServingModel:
    """A coherent served model: bottom means drawn per SKU x site share, roll-ups summed."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2026-01-04", periods=HORIZON, freq=FREQ).to_numpy()
    sku_ids = [f"SKU-{i + 1:05d}" for i in range(skus)]
    site_ids = [f"SITE-{j + 1}" for j in range(sites)]
    scale = rng.lognormal(3.0, 1.0, skus)[:, None] * rng.dirichlet(np.full(sites, 2.0), skus)
    season = 1 + 0.2 * np.sin(np.arange(HORIZON) / 4 + rng.uniform(0, 6, (skus, 1)))
    means = scale[:, :, None] * season[:, None, :]  # sku x site x period
    levels: dict[str, dict[str, np.ndarray]] = {
        "sku,site": {
            f"{k}|{s}": means[i, j] for i, k in enumerate(sku_ids) for j, s in enumerate(site_ids)
        },
        "sku": {k: means[i].sum(axis=0) for i, k in enumerate(sku_ids)},
        "site": {s: means[:, j].sum(axis=0) for j, s in enumerate(site_ids)},
        "total": {"__total__": means.sum(axis=(0, 1))},
    }
    paths = {
        level: {
            sid: SeriesPath(
                ds=dates,
                model="ets",
                mean=m,
                quantiles=(BOTTOM_BAND if level == "sku,site" else UPPER_BAND)[:, None]
                * m[None, :],
            )
            for sid, m in series.items()
        }
        for level, series in levels.items()
    }
    selection = pd.DataFrame(
        {"series_id": [f"{lv}:{s}" for lv, ss in paths.items() for s in ss], "model": "ets"}
    )
    return DemandServingModel(
        freq=FREQ, grid=tuple(QUANTILE_GRID), levels=LEVELS, paths=paths, selection=selection
    )


def many_adjustments(core: DemandServingModel, count: int, seed: int) -> list[Adjustment]:
    """``count`` adjustments of every level and kind on distinct series (none negative)."""
    rng = np.random.default_rng(seed + 1)
    dates = pd.DatetimeIndex(core.paths["total"]["__total__"].ds)
    plan = {"total": max(1, count // 100), "site": max(1, count // 25)}
    plan["sku"] = count // 5
    plan["sku,site"] = count - sum(plan.values())
    made: list[Adjustment] = []
    when = pd.Timestamp(datetime.now(UTC)).floor("s")
    for level, n in plan.items():
        ids = list(core.paths[level])
        picks = (
            [ids[0]] * n
            if level == "total"
            else rng.choice(ids, size=min(n, len(ids)), replace=False)
        )
        for k, series in enumerate(picks):
            first = int(rng.integers(0, HORIZON))
            last = min(HORIZON - 1, first + int(rng.integers(0, 4)))
            mean = float(core.paths[level][series].mean[first])
            kind = rng.choice(["percent", "add", "set"], p=[0.6, 0.3, 0.1])
            if kind == "percent":
                value = float(rng.uniform(-30, 50))
            elif kind == "add":
                value = float(round(mean * rng.uniform(0.05, 0.4), 1))
            else:  # a set at a roll-up is a planner's target for it; fine at every level
                value = float(round(mean * rng.uniform(0.8, 1.5), 1))
            made.append(
                Adjustment(
                    id=f"bench-{len(made):05d}",
                    level=level,
                    series_id=str(series),
                    start=dates[first],
                    end=dates[last],
                    kind=str(kind),  # type: ignore[arg-type]
                    value=value,
                    # Distinct authors on the total: one author may not overlap themself.
                    author=f"planner-{k}" if level == "total" else f"planner-{k % 25}",
                    reason="benchmark",
                    reason_code=str(rng.choice(["promotion", "customer commitment", "other"])),
                    created_at=when + pd.Timedelta(milliseconds=len(made)),
                )
            )
    return made


def request_bodies(
    core: DemandServingModel, adjusted: Sequence[Adjustment], n: int, seed: int
) -> list[dict]:
    """``n`` single-series requests: half on series an adjustment names, half anywhere
    (70 % bottom, 15 % SKU, 10 % site, 5 % total)."""
    rng = np.random.default_rng(seed)
    ids = {level: list(paths) for level, paths in core.paths.items()}
    bodies = []
    for _ in range(n):
        if adjusted and rng.random() < 0.5:
            a = adjusted[int(rng.integers(len(adjusted)))]
            level, series = a.level, a.series_id
        else:
            level = str(rng.choice(list(ids), p=[0.7, 0.15, 0.1, 0.05]))
            series = ids[level][rng.integers(len(ids[level]))]
        bodies.append(body_for(level, series))
    return bodies


def body_for(level: str, series: str) -> dict:
    base = {"horizon": HORIZON, "quantiles": QUANTILES}
    if level == "sku,site":
        sku, site = series.split("|")
        return {"sku": sku, "site": site, **base}
    if level == "sku":
        return {"sku": series, **base}
    if level == "site":
        return {"site": series, **base}
    return {"level": "total", **base}


class CoreLoader:
    """The app's model loader, serving one fixed demand core at version 1."""

    def __init__(self, core: DemandServingModel) -> None:
        self.loaded = LoadedModel("demand", "1", core)

    def __call__(self, kind: str, served: Served | None) -> Served:
        return served if served is not None else self.loaded


@contextmanager
def live_app(core: DemandServingModel, database: str) -> Iterator[str]:
    """The real app over ``core`` and the order store at ``database`` on a live uvicorn
    (a thread of this process, the protocol ``ordercast serve`` uses); yields its URL."""
    logging.getLogger("api.access").setLevel(logging.WARNING)
    settings = Settings(database=DatabaseSettings(url=database))
    app = create_app(settings, loader=CoreLoader(core), kinds=("demand",), poll=False)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        log_config=None,
        http=HeadLimitedProtocol,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def sequential(url: str, bodies: list[bytes]) -> tuple[int, int, float, list[float]]:
    """One client, one request after another: the latency of each on an idle server."""
    parsed = httpx.URL(url)
    connection = Connection(parsed.host, int(parsed.port or 80))
    path = parsed.raw_path.decode()
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    for body in bodies:
        began = time.perf_counter()
        if await connection.post(path, body) == 200:
            latencies.append((time.perf_counter() - began) * 1000)
        else:
            errors += 1
    connection.close()
    return len(bodies), errors, time.perf_counter() - started, latencies


def drive(kind: str, url: str, bodies: list[dict], rate: float) -> tuple:
    """Entry point of the load-generator process (its own interpreter: no GIL shared with
    the server under test)."""
    encoded = [json.dumps(body).encode() for body in bodies]
    if kind == "sequential":
        return asyncio.run(sequential(url, encoded))
    return asyncio.run(open_loop(url, encoded, rate, len(encoded) / rate))


@dataclass
class Run:
    label: str
    sent: int
    errors: int
    seconds: float
    latencies: list[float]

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    def row(self) -> str:
        return (
            f"{self.label:<40} {len(self.latencies) / self.seconds:>7.1f} {self.pct(50):>7.2f} "
            f"{self.pct(95):>7.2f} {self.pct(99):>7.2f} "
            f"{max(self.latencies, default=np.nan):>8.1f} {self.errors:>6d}"
        )


def timed_post(client: httpx.Client, url: str, body: dict) -> tuple[float, int]:
    began = time.perf_counter()
    status = client.post(url, json=body).status_code
    return (time.perf_counter() - began) * 1000, status


def latency_part(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    sites, skus, count = (10, 50, 200) if args.quick else (50, 200, 1000)
    core = synthetic_core(sites, skus, args.seed)
    n_series = sum(len(p) for p in core.paths.values())
    adjustments = many_adjustments(core, count, args.seed)
    started = time.perf_counter()
    result = apply_adjustments(core, adjustments)
    applying = time.perf_counter() - started
    mix = pd.Series([a.level for a in adjustments]).value_counts()
    print(
        f"\nserved model: {n_series:,} series ({sites} sites x {skus} SKUs + roll-ups), "
        f"{HORIZON} weeks, grid {len(QUANTILE_GRID)} quantiles; {len(adjustments):,} "
        f"adjustments ({', '.join(f'{lv} {n}' for lv, n in mix.items())}) applied in "
        f"{applying:.2f} s in-process, {len(result.orphaned)} orphaned"
    )
    # The API checks each one against those stored; check a couple the same way.
    for a in adjustments[-2:]:
        check_adjustment(core, a, [o for o in adjustments if o.id != a.id])

    database = f"sqlite:///{folder / 'orders.db'}"
    # Each run draws its own requests (a repeated one is a response-cache hit), all from
    # the same mix, so the statistical runs are the peer of the adjusted ones.
    n = args.requests
    bodies = {k: request_bodies(core, adjustments, n, args.seed + k) for k in range(4)}
    touched = sum(1 for b in bodies[3] if result.touching(*level_and_id(b)))
    spawn = multiprocessing.get_context("spawn")
    runs: dict[str, Run] = {}
    out: dict[str, object] = {}
    with (
        live_app(core, database) as url,
        concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool,
    ):
        demand = f"{url}/v1/forecasts/demand"

        def run(label: str, kind: str, bodies: list[dict]) -> Run:
            sent, errors, seconds, latencies = pool.submit(
                drive, kind, demand, bodies, args.rate
            ).result()
            runs[label] = Run(label, sent, errors, seconds, latencies)
            print(runs[label].row(), flush=True)
            return runs[label]

        pool.submit(
            drive, "sequential", demand, request_bodies(core, [], 300, 1), 0
        ).result()  # warm-up
        print(
            f"{'demand endpoint':<40} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
            f"{'max ms':>8} {'errors':>6}"
        )
        run("statistical, sequential", "sequential", bodies[0])
        run(f"statistical, {args.rate:g} req/s", "open", bodies[1])

        store = OrderStore.open(database)
        try:
            saved = save_all(store, adjustments, result)
        finally:
            store.dispose()
        time.sleep(1.2)  # the service looks for new adjustment events at most once a second
        with httpx.Client(timeout=120) as client:
            first, status = timed_post(client, demand, body_for("total", "__total__"))
            second, _ = timed_post(client, demand, body_for("sku,site", "SKU-00001|SITE-1"))
        print(
            f"{len(adjustments):,} adjustments saved to the store in {saved:.1f} s; first demand "
            f"request after (rebuilds the adjusted forecast): {first:.0f} ms (status {status}); "
            f"the next: {second:.1f} ms"
        )
        out["rebuild_ms"] = first
        run(f"adjusted ({len(adjustments):,}), sequential", "sequential", bodies[2])
        rate = run(f"adjusted ({len(adjustments):,}), {args.rate:g} req/s", "open", bodies[3])
        print(
            f"(in the last run {touched:,} of {n:,} requests ({touched / n:.0%}) ask for a series "
            "an adjustment changes: an adjustment of a roll-up spreads to every series under it)"
        )
        out["one_more"] = one_more_over_http(core, demand, pool, args)
        out["rate"] = rate
        out["statistical_rate"] = runs[f"statistical, {args.rate:g} req/s"]
    return out


def one_more_over_http(
    core: DemandServingModel,
    demand: str,
    pool: concurrent.futures.Executor,
    args: argparse.Namespace,
) -> dict[str, object]:
    """A planner adds one more over HTTP while the endpoint is under load: how long the
    POST takes, and the rate run's p99 around it (the rebuild blocks the event loop)."""
    dates = pd.DatetimeIndex(core.paths["total"]["__total__"].ds)
    body = {
        "sku": "SKU-00002",
        "site": "SITE-2",
        "start": f"{dates[2]:%Y-%m-%d}",
        "end": f"{dates[3]:%Y-%m-%d}",
        "kind": "percent",
        "value": 15,
        "reason": "one more, under load",
        "reason_code": "promotion",
    }
    seconds = 6.0
    bodies = request_bodies(core, [], int(args.rate * seconds), 6)
    future = pool.submit(drive, "open", demand, bodies, args.rate)
    time.sleep(2.0)
    with httpx.Client(timeout=120) as client:
        post_ms, status = timed_post(client, f"{demand}/adjustments", body)
    sent, errors, elapsed, latencies = future.result()
    during = Run(f"{args.rate:g} req/s while one more is POSTed", sent, errors, elapsed, latencies)
    print(during.row())
    print(f"POST /v1/forecasts/demand/adjustments under load: {post_ms:.0f} ms (status {status})")
    return {"post_ms": post_ms, "p99": during.pct(99), "rate": during.label}


def level_and_id(body: dict) -> tuple[str, str]:
    if "level" in body:
        return "total", "__total__"
    if "sku" in body and "site" in body:
        return "sku,site", f"{body['sku']}|{body['site']}"
    if "sku" in body:
        return "sku", body["sku"]
    return "site", body["site"]


# ----------------------------------------------------------------------- main


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Small history, model and store")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the history and draws")
    parser.add_argument("--requests", type=int, default=2000, help="Demand requests per run")
    parser.add_argument("--rate", type=float, default=150.0, help="Requests/s of the rate runs")
    parser.add_argument(
        "--models",
        default="window_average,seasonal_naive,tsb",
        help="Demand models the statistical forecast selects from (the pipeline's list syntax)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = min(args.requests, 500)
    logging.basicConfig(level=logging.WARNING)
    start_load = load()
    print(f"load average at start: {start_load}")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ordercast-adjustments-") as work:
        folder = Path(work)
        fva = fva_part(args, folder)
        latency = latency_part(args, folder)
    end_load = load()
    print(f"\nload average at end: {end_load}; total {time.perf_counter() - began:.0f} s")
    print(
        "The latencies are only meaningful when the load average stays below the number of "
        "cores: on a busy machine they measure the other work as well."
    )
    report(fva, latency)
    busiest = max(os.getloadavg()[0], float(start_load.split(" /")[0]))
    cores = os.cpu_count() or 1
    if busiest >= cores:
        print(
            f"  NOTE: load average up to {busiest:.1f} on {cores} cores: the latency figures "
            "above measure a busy machine, not the service; rerun on an idle one"
        )
    return 0


def report(fva: dict[str, dict[str, float]], latency: dict[str, object]) -> None:
    print("\nsummary")
    good, bad = fva.get("promotion"), fva.get("other")
    if good is not None:
        ok = good["fva"] > 0
        print(
            f"  good (promotion) adjustments help: FVA {good['fva']:+.3f} (> 0), share helped "
            f"{good['share_helped']:.1%}  {'PASS' if ok else 'FAIL'}"
        )
    if bad is not None:
        print(
            f"  bad (noise) adjustments hurt: FVA {bad['fva']:+.3f} (< 0), share helped "
            f"{bad['share_helped']:.1%}  {'PASS' if bad['fva'] < 0 else 'FAIL'}"
        )
    rate, peer = latency["rate"], latency["statistical_rate"]
    assert isinstance(rate, Run) and isinstance(peer, Run)
    ok = rate.pct(99) <= TARGET_P99_MS and rate.errors == 0
    print(
        f"  demand p99 with adjustments at {rate.label.split(', ')[-1]}: {rate.pct(99):.1f} ms "
        f"(<= {TARGET_P99_MS:g}), {rate.errors} errors  {'PASS' if ok else 'FAIL'}"
    )
    ratio = rate.pct(99) / peer.pct(99) if peer.pct(99) else float("nan")
    print(
        f"  adjusted vs statistical p99: {rate.pct(99):.1f} / {peer.pct(99):.1f} ms = "
        f"{ratio:.2f}x; p50 {rate.pct(50):.2f} / {peer.pct(50):.2f} ms"
    )
    more = latency["one_more"]
    assert isinstance(more, dict)
    print(
        f"  info: rebuild on the first request after the store changed "
        f"{latency['rebuild_ms']:.0f} ms; one more adjustment over HTTP {more['post_ms']:.0f} "
        f"ms, p99 of the {more['rate']} run around it {more['p99']:.1f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
