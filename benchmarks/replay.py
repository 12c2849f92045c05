"""Benchmark: the planning loop replayed week by week, refresh against a weekly retrain.

A synthetic history of two years is fed into an order store week by week after its first
year, as an order-management system would: each week the lines ordered that week arrive
(new) and lines shipped or delivered that week arrive again with their dates filled in
(updated). Two arms run on the same weeks, each with its own MLflow store and order store:

* **refresh**: one ``train demand`` on the first year, then every week ``ingest`` the
  week's lines and ``refresh`` (no reselection, no backtest);
* **retrain**: every week ``ingest`` the same lines and a full ``train demand --force
  --promote`` (promoted whatever the gate says: the arm is the weekly retrain itself).

Both publish their forecasts to their order store; at the end every published forecast
is scored against the actuals of the full history (``forecasting.accuracy``) at lags 1,
2, 4 and 8, on the ``sku,site`` level (the planner's) and over all levels.

A second part times the ingest of a demo-sized week (the default generator, ~3,000
lines) into SQLite and into the PostgreSQL server at 127.0.0.1:5432 (skipped, saying so,
when it cannot be reached).

Targets (issue #17): refreshed forecasts within 3% (relative) of the weekly retrain's
WAPE at every lag, at <= 10% of its time; ingest of a week of lines <= 2 s on SQLite and
on PostgreSQL.

    .venv/bin/python benchmarks/replay.py [--weeks 12] [--sites 2] [--skus 40] [--seed 11]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from forecasting.accuracy import score_published, series_actuals
from forecasting.synthetic import generate_orders
from ordercast.settings import DatabaseSettings, MlflowSettings, Settings
from store.database import OrderStore
from store.ingest import ingest_source
from store.orders import read_orders
from store.publications import read_published_forecasts
from training.pipelines import demand
from training.pipelines.refresh import refresh

LAGS = (1, 2, 4, 8)
TARGET_WAPE_GAP = 0.03
TARGET_TIME_SHARE = 0.10
TARGET_INGEST_SECONDS = 2.0
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATES = ("ship_date", "delivered_date")


def snapshot(orders: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """The lines as the order system shows them at the end of day ``end``: ordered by then,
    with ship and delivery dates only when they have happened."""
    seen = orders[orders["order_date"] <= end].copy()
    for column in DATES:
        if column in seen:
            seen[column] = seen[column].where(seen[column] <= end)
    return seen


def week_batch(orders: pd.DataFrame, before: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """The lines that are new or changed between two snapshots: what the week pushes."""
    new = orders["order_date"].between(before, end, inclusive="right")
    changed = np.zeros(len(orders), dtype=bool)
    for column in DATES:
        if column in orders:
            changed |= orders[column].between(before, end, inclusive="right").to_numpy()
    rows = orders[(new.to_numpy() | changed) & (orders["order_date"] <= end).to_numpy()]
    return snapshot(rows, end)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    for column in ("order_date", "promised_date", *DATES):
        if column in out:
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False)
    return path


def settings_for(folder: Path, name: str) -> Settings:
    root = folder / name
    root.mkdir(parents=True, exist_ok=True)
    return Settings(
        mlflow=MlflowSettings(
            tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
            artifact_root=root / "artifacts",
            lock_dir=root / "locks",
        ),
        database=DatabaseSettings(url=f"sqlite:///{root / 'orders.db'}"),
    )


@dataclass
class Arm:
    """One arm of the replay: its settings, and the seconds of each week's model work."""

    name: str
    settings: Settings
    seconds: list[float] = field(default_factory=list)

    def ingest(self, path: Path) -> float:
        store = OrderStore.open(self.settings.database.url)
        try:
            started = time.perf_counter()
            summary = ingest_source(store, path)
            elapsed = time.perf_counter() - started
        finally:
            store.dispose()
        if summary.refused:
            raise SystemExit(f"{self.name}: the week's batch was refused: {summary.describe()}")
        return elapsed

    def orders(self) -> pd.DataFrame:
        store = OrderStore.open(self.settings.database.url)
        try:
            return read_orders(store)
        finally:
            store.dispose()

    def train(self) -> float:
        started = time.perf_counter()
        outcome = demand.train(self.settings, self.orders(), force=True, promote=True)
        if outcome.exit_code not in (0, 3):
            raise SystemExit(f"{self.name}: training failed: {outcome.message}")
        return time.perf_counter() - started

    def refresh(self) -> float:
        started = time.perf_counter()
        outcome = refresh(self.settings, self.orders())
        if outcome.exit_code != 0:
            raise SystemExit(f"{self.name}: refresh did not publish: {outcome.message}")
        return time.perf_counter() - started

    def published(self) -> pd.DataFrame:
        store = OrderStore.open(self.settings.database.url)
        try:
            return read_published_forecasts(store)
        finally:
            store.dispose()


def wape_by_origin(
    published: pd.DataFrame, actuals: pd.DataFrame, level: str | None
) -> pd.DataFrame:
    rows = published if level is None else published[published["level"] == level]
    return score_published(rows, actuals, by=("origin", "lag"), lags=list(LAGS))


def pooled(published: pd.DataFrame, actuals: pd.DataFrame, level: str | None) -> pd.Series:
    rows = published if level is None else published[published["level"] == level]
    table = score_published(rows, actuals, by=("lag",), lags=list(LAGS))
    return table.set_index("lag")["wape"]


def replay(args: argparse.Namespace, folder: Path) -> None:
    history = generate_orders(sites=args.sites, skus=args.skus, days=730, seed=args.seed).orders
    for column in ("order_date", "promised_date", *DATES):
        history[column] = pd.to_datetime(history[column])
    start = history["order_date"].min()
    # The first year ends on a Sunday, as the weekly series do.
    first_end = (start + pd.Timedelta(days=364)).to_period("W-SUN").end_time.normalize()
    arms = [
        Arm("refresh", settings_for(folder, "refresh")),
        Arm("retrain", settings_for(folder, "retrain")),
    ]
    first = write_csv(snapshot(history, first_end), folder / "first-year.csv")
    print(
        f"history: {len(history):,} lines, {args.sites} sites x {args.skus} SKUs, "
        f"{history['order_date'].min():%Y-%m-%d} to {history['order_date'].max():%Y-%m-%d}; "
        f"first year to {first_end:%Y-%m-%d}, then {args.weeks} weeks"
    )
    for arm in arms:
        arm.ingest(first)
    initial = arms[0].train()
    print(f"initial train demand (refresh arm): {initial:.1f} s")
    print(
        f"{'week':>10} {'lines':>6} {'ingest s':>8} {'refresh s':>9} {'retrain s':>9} {'share':>6}"
    )
    ingest_seconds = []
    before = first_end
    for week in range(1, args.weeks + 1):
        end = first_end + pd.Timedelta(weeks=week)
        batch = week_batch(history, before, end)
        path = write_csv(batch, folder / f"week-{week:02d}.csv")
        ingest_seconds.append(arms[0].ingest(path))
        arms[1].ingest(path)
        arms[0].seconds.append(arms[0].refresh())
        arms[1].seconds.append(arms[1].train())
        share = arms[0].seconds[-1] / arms[1].seconds[-1]
        print(
            f"{end:%Y-%m-%d} {len(batch):>6,} {ingest_seconds[-1]:>8.2f} "
            f"{arms[0].seconds[-1]:>9.1f} {arms[1].seconds[-1]:>9.1f} {share:>6.1%}",
            flush=True,
        )
        before = end
    report(history, arms, ingest_seconds)


def report(history: pd.DataFrame, arms: list[Arm], ingest_seconds: list[float]) -> None:
    cfg = arms[0].settings.demand
    actuals = series_actuals(history, levels=cfg.levels, freq=cfg.freq, date_col=cfg.date_column)
    published = {arm.name: arm.published() for arm in arms}
    # The refresh arm's first publication is its initial training: leave it out, so both
    # arms are compared on the same weekly origins.
    first_origin = published["refresh"]["origin"].min()
    published["refresh"] = published["refresh"][published["refresh"]["origin"] > first_origin]
    print("\nWAPE by origin (sku,site level), lag 1 and lag 4: refresh vs retrain")
    by_origin = {
        name: wape_by_origin(rows, actuals, "sku,site").set_index(["origin", "lag"])["wape"]
        for name, rows in published.items()
    }
    for origin in sorted(set(by_origin["retrain"].index.get_level_values(0))):
        cells = []
        for lag in (1, 4):
            r = by_origin["refresh"].get((origin, lag), np.nan)
            t = by_origin["retrain"].get((origin, lag), np.nan)
            cells.append(f"lag {lag}: {r:6.3f} vs {t:6.3f}")
        print(f"  origin {pd.Timestamp(origin):%Y-%m-%d}  " + "   ".join(cells))
    refresh_total, retrain_total = sum(arms[0].seconds), sum(arms[1].seconds)
    share = refresh_total / retrain_total
    print(
        f"\ntotals over {len(arms[0].seconds)} weeks: refresh {refresh_total:.1f} s, retrain "
        f"{retrain_total:.1f} s, share {share:.1%} "
        f"[{'PASS' if share <= TARGET_TIME_SHARE else 'FAIL'} <= {TARGET_TIME_SHARE:.0%}]"
    )
    for level in ("sku,site", None):
        name = level or "all levels"
        ours, theirs = (pooled(published[a], actuals, level) for a in ("refresh", "retrain"))
        for lag in LAGS:
            r, t = float(ours.get(lag, np.nan)), float(theirs.get(lag, np.nan))
            gap = (r - t) / t if t else np.nan
            verdict = "PASS" if np.isfinite(gap) and gap <= TARGET_WAPE_GAP else "FAIL"
            if not np.isfinite(gap):
                verdict = "n/a (no actuals yet)"
            print(
                f"  {name:>10} lag {lag}: WAPE refresh {r:.4f} vs retrain {t:.4f} "
                f"({gap:+.1%}) [{verdict}, within +{TARGET_WAPE_GAP:.0%}]"
            )
    worst = max(ingest_seconds)
    print(
        f"  ingest per week (SQLite, this panel): median {np.median(ingest_seconds):.2f} s, "
        f"max {worst:.2f} s"
    )


def ingest_at_demo_scale(folder: Path, weeks: int) -> None:
    """A demo-sized week (~3,000 lines) into SQLite and PostgreSQL, after a first year."""
    history = generate_orders().orders  # make demo's history
    for column in ("order_date", "promised_date", *DATES):
        history[column] = pd.to_datetime(history[column])
    first_end = (
        (history["order_date"].min() + pd.Timedelta(days=364))
        .to_period("W-SUN")
        .end_time.normalize()
    )
    first = write_csv(snapshot(history, first_end), folder / "demo-first-year.csv")
    batches = []
    for week in range(1, weeks + 1):
        end = first_end + pd.Timedelta(weeks=week)
        batch = week_batch(history, end - pd.Timedelta(weeks=1), end)
        batches.append((len(batch), write_csv(batch, folder / f"demo-week-{week}.csv")))
    print(f"\ningest of a demo-sized week ({generate_orders.__name__} defaults):")
    for name, url, cleanup in _stores(folder):
        if url is None:
            print(f"  {name}: skipped ({cleanup})")
            continue
        store = OrderStore.open(url)
        try:
            ingest_source(store, first)
            seconds = []
            for lines, path in batches:
                started = time.perf_counter()
                ingest_source(store, path)
                seconds.append(time.perf_counter() - started)
                print(f"  {name}: {lines:,} lines in {seconds[-1]:.2f} s")
            verdict = "PASS" if max(seconds) <= TARGET_INGEST_SECONDS else "FAIL"
            print(
                f"  {name}: worst week {max(seconds):.2f} s "
                f"[{verdict} <= {TARGET_INGEST_SECONDS} s]"
            )
        finally:
            store.dispose()
            if callable(cleanup):
                cleanup()


def _stores(folder: Path) -> list[tuple[str, str | None, object]]:
    stores: list[tuple[str, str | None, object]] = [
        ("SQLite", f"sqlite:///{folder / 'demo-orders.db'}", None)
    ]
    schema = f"replay_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(POSTGRES)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        stores.append(("PostgreSQL", None, f"cannot reach {POSTGRES}: {str(exc).splitlines()[0]}"))
        return stores

    def drop() -> None:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    stores.append(("PostgreSQL", f"{POSTGRES}?options=-csearch_path%3D{schema}", drop))
    return stores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=12, help="Weeks fed after the first year")
    parser.add_argument("--sites", type=int, default=2, help="Sites of the replayed panel")
    parser.add_argument("--skus", type=int, default=40, help="SKUs of the replayed panel")
    parser.add_argument("--seed", type=int, default=11, help="Generator seed")
    parser.add_argument("--ingest-weeks", type=int, default=4, help="Demo-sized weeks to time")
    parser.add_argument("--skip-replay", action="store_true", help="Only time the ingest")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_replay:
            replay(args, Path(folder))
        ingest_at_demo_scale(Path(folder), args.ingest_weeks)


if __name__ == "__main__":
    main()
