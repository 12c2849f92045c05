"""Benchmark: are promise dates quoted at 90% (80%) on time kept 90% (80%) of the time? (#21)

A walk-forward replay on SCMS. At each monthly retraining date ``t`` from a start date,
the at-risk model is fitted on what was known then (``AtRiskModel().fit(orders,
as_of=t)``); every line ordered in the month (with a recorded order date: the export
invents one for lines from the RDC, 140 days before their promise) is quoted at its order
date by :func:`forecasting.risk.promise.quote_promise`, the model's memory refreshed with
the deliveries known that day (``model.with_history(orders, order_day)``). Each line's
curve gives its quotes at 90% and 80%; a quote is kept when the line was delivered by
the quoted date (tolerance 0, as the labels). The quoted dates are compared with the
dates the history promised: median days earlier (-) or later (+), and the on-time rate
each would have had on the same lines.

Settings are chosen on the development period (lines ordered 2011-07-01 to 2013-06-30):
whether the curve needs a calibration, and the calibration itself, an isotonic map from
the model's P(on time) to the observed rate of "delivered by d", fitted on every (line,
candidate date d) of the development replay. The test period (2013-07-01 on) is
reported once, raw and with that map. Targets: 87-93% kept at 90%, 77-83% at 80%.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/promise.py [--cache /tmp/work/promise-replay]

Measured (2026-12-02, monthly retraining, lines with a recorded order date, quotes within
366 days; dev 1,875 lines, test 1,607; about 20 minutes at load 6-8 on 2 cores):

    period  curve                 target  quoted  kept   verdict  days vs hist  hist kept
    dev     at-risk raw           90%     1,078    5.3%  FAIL     -119          86.7%
    dev     calibrated in-sample  90%     1,101   91.8%  PASS     +186          86.6%
    dev     lane quantile (peer)  90%       721   85.0%  FAIL     +100          82.5%
    dev     at-risk raw           80%     1,871    0.7%  FAIL     -149          88.0%
    dev     calibrated in-sample  80%     1,875   80.7%  PASS      +96          88.1%
    dev     lane quantile (peer)  80%     1,324   72.5%  FAIL      +66          86.3%
    test    at-risk raw           90%     1,328   27.4%  FAIL      -87          90.8%
    test    at-risk calibrated    90%     1,221   97.3%  FAIL     +203          93.3%
    test    lane quantile (peer)  90%     1,198   91.6%  PASS      +78          91.9%
    test    at-risk raw           80%     1,603   16.3%  FAIL     -116          88.0%
    test    at-risk calibrated    80%     1,607   89.8%  FAIL     +105          87.9%
    test    lane quantile (peer)  80%     1,510   84.4%  FAIL      +47          88.2%
    dev*    rolling 365d          90%       698   91.8%  PASS     +147          84.2%
    dev*    rolling 365d          80%       907   81.6%  PASS      +83          83.4%
    test    rolling 365d          90%       928   95.8%  FAIL     +165          95.0%
    test    rolling 365d          80%     1,508   87.4%  FAIL      +96          88.7%

    (dev*: the 957 lines ordered 2012-07 to 2013-06, which have a year of replay before
    them; the window, 365 days against 730, was chosen on them.)

What it says: the at-risk model's P(on time if promised d) hardly moves with d (January
2012: 0.83 a day after ordering, 0.89 a year after, while 0% and 68% of the lines were
delivered by then). It learnt p_late from the promises planners set, which were feasible
for their line; it does not know how long a line takes. The calibration on days ahead
(coefficients -12.18, 1.25, 1.75, 0.08, -0.12) reaches the targets on the development
period it was fitted on, but only by quoting months later than the history promised, and
on the faster test period (order to delivery p90 266 days against 400) it is too cautious
(97% and 90% kept); refitted monthly on the last year's quotes whose dates had passed, it
still lags the change (96% and 87%). Quotes a customer can use need a model of the time to delivery.

Delivery time (forecasting.risk.delivery_time, fitted by AtRiskModel.fit as
``delivery_time_`` and quoted from by quote_promise), measured 2026-12-02 with the cached
at-risk replays (``--cache``; the delivery-time curves refit 50 times, about 4 minutes):

    period  curve          target  quoted  kept   verdict  days vs hist  hist kept
    dev     delivery time  90%        884  85.5%  FAIL     +142          89.3%
    dev     delivery time  80%      1,342  84.4%  FAIL     +106          89.0%
    test    delivery time  90%      1,311  93.5%  FAIL     +123          89.8%
    test    delivery time  80%      1,427  87.2%  FAIL      +63          89.0%

Its settings were chosen on the development replay only (kept at 90% / 80%): window 730
days and the newest 365 for the conformal shift (85.5 / 84.4) against 730/180 (77.3 /
68.9), 1095/365 (83.6 / 82.9) and 1095/545 (79.3 / 82.9). Measured with an earlier
feature set that had the order month (removed since: within the window it tells how
long a line has been open and breaks the censoring weights): weighted 91.5 / 83.6, open
lines dropped instead 72.3 / 61.1. The test period was read once. It quotes more lines within 366
days than the lane peer (1,311 against 1,198 at 90%) but misses the bands: over-cautious
on the faster test period (the newest year it calibrates on lags the speed-up, as the
rolling calibration did), and on the development period under at 90% among the lines it
can quote within a year (the SCMS cohorts of 2010-2011 had a tail of lines delivered
after years, which the newest year cannot show).

Re-run 2026-12-03 at 0793cd7 (``--cache`` empty, so the replays ran afresh: dev 265 s, test
353 s, curves 104 s and 113 s, beside one other process on 2 cores): the delivery-time rows
the same to the line (dev 85.5% / 84.4%, test 93.5% / 87.2%, FAIL). quote_promise now quotes
from the delivery-time curve, so the "at-risk raw" rows are that curve too, and the two
calibrations of the first table sit on it: in-sample on dev 90.5% / 81.0%, applied to the
test replay 39.8% / 26.8% (the map fitted to the old at-risk curve's scale no longer fits);
rolling 365 days 81.5% / 78.4% (dev*) and 85.5% / 79.6% (test): no setting passes at 90% in
both periods.

Re-run 2026-12-03 at the commit adding two columns (the same settings; ``--cache`` empty;
dev replay 495 s, test 551 s beside a test run): a 90% interval for the kept share from
resampling whole orders (an order's lines ship together and are kept or missed together,
so 884 lines are far fewer independent draws) and the kept share per order (each order
counted once). The delivery-time rows are the same to the line:

    period  target  quoted  kept   verdict  90% by order   per order
    dev     90%        884  85.5%  FAIL     77.9%-92.6%    92.2%
    dev     80%      1,342  84.4%  FAIL     79.0%-89.5%    87.3%
    test    90%      1,311  93.5%  FAIL     91.6%-94.9%    90.9%
    test    80%      1,427  87.2%  FAIL     84.7%-89.6%    83.8%

On dev both bands lie inside the interval: the 90% shortfall is mostly two orders
(SCMS-215370 and SCMS-215410, 64 lines ordered 2012-02-13 and promised, and delivered, 23
months later at the customer's schedule: a quote of the earliest date cannot be kept by a
line the customer wants two years on); without them 92.2% were kept. On test the quotes are
too cautious beyond the sampling error at 80% (the interval's low end 84.7% is over 83%) and
just over at 90%: the conformal shift measured on the newest year lags the speed-up.
The "quote_promise" rows are the delivery-time curve (quote_promise quotes from it).

2026-12-03, evening: the delivery-time model's ``calibration_days`` (the newest lines the
conformal shift is measured on) re-chosen on the development replay with today's feature
set, 365 -> 300, before the test period was read. ``--delivery-time-only`` (no at-risk
replays: the curve quote_promise quotes from and the lane peer, about 5 minutes a setting
and period on 2 cores):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/promise.py --delivery-time-only \
        --periods dev --calibration-days 300,365
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/promise.py --delivery-time-only --periods test

    period  curve               target  quoted  kept   verdict  90% by order   per order
    dev     delivery time 300d  90%      1,169  85.4%  FAIL     78.8%-91.1%    90.4%
    dev     delivery time 300d  80%      1,550  80.7%  PASS     75.7%-85.0%    83.7%
    dev     delivery time 365d  90%        884  85.5%  FAIL     77.9%-92.6%    92.2%
    dev     delivery time 365d  80%      1,342  84.4%  FAIL     79.0%-89.5%    87.3%
    test    delivery time 300d  90%      1,155  93.6%  FAIL     91.7%-95.1%    90.5%
    test    delivery time 300d  80%      1,413  88.6%  FAIL     86.1%-90.8%    84.8%

Also tried on dev (a harness of the same functions): 270 days 82.9% / 78.5%, 315 84.2% /
80.8%, 335 85.0% / 82.9%; the shift's Kaplan-Meier weighted by recency (half-life 90 or
180 days) 86.6% / 85.4% and 86.3% / 85.1%, more cautious, dropped. 300 keeps the 90%
figure, brings 80% into the band and quotes 285 more dev lines within a year. On the
test period it did not help: 93.6% / 88.6% against 365 days' 93.5% / 87.2% (1,155 and
1,413 lines quoted against 1,311 and 1,427). The test period is faster than the year the
shift is measured on, whatever that year's length within 270-365 days.

Then, the same evening, ``window_days`` (the lines learnt from) with the shift on 300 days,
on dev only (the harness, the same functions): 450 79.7% / 74.3%, 500 85.7% / 77.5%, 545
89.3% / 82.3%, 590 92.1% / 81.9%, 630 90.2% / 82.8%, 680 85.7% / 82.3%, 730 85.4% / 80.7%.
545-630 is in both bands; 590, its middle, was taken (the tie-break fixed beforehand, more
lines quoted, would have taken 545, next to the failing 500). The test period read once:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/promise.py --delivery-time-only

    period  curve                         target  quoted  kept   verdict  90% by order   per order
    dev     delivery time 590/300d        90%      1,179  92.1%  PASS     89.6%-94.4%    92.4%
    dev     delivery time 590/300d        80%      1,557  81.9%  PASS     77.2%-86.0%    84.3%
    test    delivery time 590/300d        90%      1,227  94.3%  FAIL     92.6%-95.8%    91.3%
    test    delivery time 590/300d        80%      1,484  86.3%  FAIL     83.6%-88.7%    83.4%
    test    lane quantile (peer)          90%      1,198  91.6%  PASS     89.1%-93.7%    88.0%
    test    lane quantile (peer)          80%      1,510  84.4%  FAIL     81.3%-87.0%    79.4%

("590/300d": the window learnt from and the shift's days; the runs before it printed the
shift's days alone). Both bands on dev now; on test
still too cautious, 1.3 points over at 90% and 3.3 at 80%, against 0.5 and 4.2 with the
settings before today; lines quoted within a year 1,227 / 1,484 against 1,311 / 1,427
(fewer at 90%, more at 80%). Per order the test quotes are within half a point of both
bands' tops (91.3% and 83.4%).

2026-12-03, later: the boosters' ``max_iter`` 200 -> 100 at ``learning_rate`` 0.05 -> 0.1
(the same product), for speed: their quantile loss refits every leaf by a weighted
percentile in Python, most of an at-risk training's time. Chosen on dev alone
(``--delivery-time-only --periods dev --delivery-time-params '{"max_iter": 100,
"learning_rate": 0.1}'``, and 50 at 0.2 beside it), then the test period read once with the
new defaults (``--periods test``):

    period  curve                         target  quoted  kept   verdict  90% by order   per order
    dev     200 at 0.05 (before)          90%      1,179  92.1%  PASS     89.6%-94.4%    92.4%
    dev     200 at 0.05 (before)          80%      1,557  81.9%  PASS     77.2%-86.0%    84.3%
    dev     100 at 0.1 (taken)            90%      1,152  92.4%  PASS     89.9%-94.6%    92.9%
    dev     100 at 0.1 (taken)            80%      1,589  81.6%  PASS     76.8%-85.9%    83.9%
    dev     50 at 0.2                     90%      1,126  91.9%  PASS     89.3%-94.3%    92.3%
    dev     50 at 0.2                     80%      1,574  82.3%  PASS     77.6%-86.2%    84.7%
    test    100 at 0.1                    90%      1,296  93.8%  FAIL     92.0%-95.2%    90.5%
    test    100 at 0.1                    80%      1,500  85.6%  FAIL     82.4%-88.2%    82.5%

Dev replay 186 s before, 124 s taken, 92 s at 50 (the same minutes, one process); the
test replay 153 s. 50 at 0.2 quoted fewer dev lines at 90% and was not taken. On test the
quotes stay over both bands (0.8 and 2.6 points), closer than before (1.3 and 3.3), with
more lines quoted (1,296 / 1,500 against 1,227 / 1,484).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from forecasting.loaders import load_orders
from forecasting.risk.delivery_time import DeliveryTimeModel
from forecasting.risk.model import AtRiskModel
from forecasting.risk.promise import MAX_DAYS, CurveCalibration, quote_promise

REPO = Path(__file__).resolve().parent.parent
SCMS = REPO.parent / "shared" / "data" / "scms-delivery-history.csv.gz"
MAPPING = REPO / "configs" / "mappings" / "scms.yaml"
DEV = ("2011-07-01", "2013-07-01")
BANDS = {0.9: (0.87, 0.93), 0.8: (0.77, 0.83)}
# What the replays keep of each quoted line (and its retraining date, ``trained``).
QUOTED_COLUMNS = ["line_id", "order_id", "order_date", "promised_date", "delivered_date"]
OUTCOMES = ("promised_date", "delivered_date", "ship_date", "delivery_recorded_date", "late")


@dataclass
class Replay:
    """Per quoted line: its id, order date, history's promise, delivery, retraining date
    and the quote a lane's delivery times would give (``lane_q80``, ``lane_q90``: days),
    and its curves (P(on time) for promise dates 1..max_days days after ordering): raw,
    and through the calibration when the replay had one."""

    lines: pd.DataFrame
    curves: np.ndarray
    calibrated: np.ndarray | None = None


def replay(
    orders: pd.DataFrame,
    start: str,
    end: pd.Timestamp,
    max_days: int,
    calibration: CurveCalibration | None = None,
) -> Replay:
    """Walk forward monthly from ``start`` to ``end`` (exclusive)."""
    kept: list[pd.DataFrame] = []
    curves: list[np.ndarray] = []
    calibrated: list[np.ndarray] = []
    for t, month in quoted_lines(orders, start, end).groupby("trained"):
        started = time.perf_counter()
        model = AtRiskModel(random_state=0).fit(orders, as_of=t)
        fitted = time.perf_counter() - started
        for day, lines in month.groupby("order_date"):
            refreshed = model.with_history(orders, day)
            new = lines.drop(columns=list(OUTCOMES), errors="ignore")
            for out, mapping in ((curves, None), (calibrated, calibration)):
                if out is calibrated and calibration is None:
                    continue
                quotes = quote_promise(refreshed, new, 0.9, max_days=max_days, calibration=mapping)
                out.append(quotes.curve["p_on_time"].to_numpy(float).reshape(len(lines), -1))
            kept.append(lines[[*QUOTED_COLUMNS, "trained"]])
        print(
            f"  {t:%Y-%m}: {len(month):4d} lines, fit {fitted:5.1f} s, "
            f"all {time.perf_counter() - started:5.1f} s",
            flush=True,
        )
    return Replay(
        pd.concat(kept, ignore_index=True),
        np.vstack(curves),
        np.vstack(calibrated) if calibrated else None,
    )


def delivery_time_curves(
    orders: pd.DataFrame, lines: pd.DataFrame, max_days: int, **params: object
) -> np.ndarray:
    """P(delivered within k days of ordering), k = 1..max_days, of each replayed line from
    the delivery-time model fitted at its retraining date (``trained``) on the orders as
    known then: the curve quote_promise quotes from for a model carrying that model (its
    candidate d = order date + k; the curve rounded to 4 decimals as there)."""
    out = np.zeros((len(lines), max_days))
    full = orders.set_index("line_id")
    steps = np.arange(1, max_days + 1, dtype=float)
    for t, rows in lines.groupby("trained").groups.items():
        model = DeliveryTimeModel(**params).fit(orders, as_of=pd.Timestamp(t))  # type: ignore[arg-type]
        position = lines.index.get_indexer(rows)
        new = full.loc[lines.loc[rows, "line_id"]].reset_index()
        new = new.drop(columns=list(OUTCOMES), errors="ignore")
        days = np.broadcast_to(steps, (len(new), max_days))
        out[position] = np.round(model.p_delivered_within(new, days), 4)
    return out


def quoted_lines(orders: pd.DataFrame, start: str, stop: pd.Timestamp) -> pd.DataFrame:
    """The lines the replays quote: those with a recorded order date, ordered from ``start``
    to ``stop``, each with its retraining date ``trained`` (its month's first day)."""
    real = orders[~orders["order_date_imputed"].astype(bool)]
    lines = real[(real["order_date"] >= start) & (real["order_date"] < stop)]
    return lines.assign(trained=lines["order_date"].dt.to_period("M").dt.to_timestamp())


def delivery_time_only(
    orders: pd.DataFrame,
    periods: dict[str, tuple[str, pd.Timestamp]],
    max_days: int,
    calibration_days: list[int],
    params: dict[str, object] | None = None,
) -> list[dict[str, object]]:
    """The delivery-time curve (for each ``calibration_days``; ``params``: the model's other
    settings, its defaults when None) and the lane peer on each period's lines: the rows
    quote_promise's own curve gives, in minutes rather than the at-risk replays' quarter
    of an hour."""
    rows = []
    # The curve's name carries both settings: the window learnt from and the shift's days.
    label = f"delivery time {DeliveryTimeModel(**(params or {})).window_days}"
    for name, (start, stop) in periods.items():
        lines = quoted_lines(orders, start, stop)[[*QUOTED_COLUMNS, "trained"]]
        lines = lines.reset_index(drop=True)
        scored = pd.concat([lines, lane_quotes(orders, lines)], axis=1)
        for days in calibration_days:
            started = time.perf_counter()
            curves = delivery_time_curves(
                orders, lines, max_days, **(params or {}), calibration_days=days
            )
            print(f"{name}: calibration_days {days}: {time.perf_counter() - started:.0f} s")
            for target in BANDS:
                dates = quoted_dates(lines, curves, target)
                rows.append(
                    {"period": name, "curve": f"{label}/{days}d", **check(lines, dates, target)}
                )
        for target in BANDS:
            rows.append(
                {
                    "period": name,
                    "curve": "lane quantile",
                    **check(scored, lane_dates(scored, target), target),
                }
            )
    return rows


def lane_quotes(orders: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """The peer: for each line, the 80th and 90th percentile of the days from order to
    delivery of its lane (site x shipment mode; all lines when the lane has fewer than 20)
    over the lines ordered in the year before its order day, as known that day: a line not
    delivered by then counts as still open (Kaplan-Meier), not as missing, or the slow
    lines would drop out. ``lane_q80``, ``lane_q90`` in days (inf: not reached)."""
    real = orders[~orders["order_date_imputed"].astype(bool)]
    lane_of = real["site"].astype(str) + "/" + real["shipment_mode"].astype(str)
    out = pd.DataFrame(np.inf, index=lines.index, columns=["lane_q80", "lane_q90"])
    full = orders.set_index("line_id").loc[lines["line_id"]]
    mine = (full["site"].astype(str) + "/" + full["shipment_mode"].astype(str)).to_numpy()
    for day, rows in lines.groupby("order_date").groups.items():
        window = real[
            (real["order_date"] < day) & (real["order_date"] >= day - pd.Timedelta(days=365))
        ]
        done = (window["delivered_date"] < day).to_numpy()
        end = window["delivered_date"].where(done, day)
        duration = (end - window["order_date"]).dt.days.to_numpy(float)
        lanes = lane_of.loc[window.index].to_numpy()
        for row in rows:
            position = lines.index.get_loc(row)
            same = lanes == mine[position]
            use = same if same.sum() >= 20 else np.ones(len(lanes), dtype=bool)
            out.loc[row] = km_quantiles(duration[use], done[use], (0.8, 0.9))
    return out


def km_quantiles(duration: np.ndarray, event: np.ndarray, levels: tuple[float, ...]) -> list[float]:
    """Kaplan-Meier quantiles of ``duration`` (``event`` false: still open, censored)."""
    if len(duration) == 0:
        return [np.inf] * len(levels)
    order = np.argsort(duration, kind="stable")
    d, e = duration[order], event[order].astype(float)
    at_risk = len(d) - np.arange(len(d))
    done = 1 - np.cumprod(1 - e / at_risk)
    out = []
    for level in levels:
        hit = np.flatnonzero(done >= level)
        out.append(float(d[hit[0]]) if hit.size else np.inf)
    return out


def quoted_dates(lines: pd.DataFrame, curves: np.ndarray, target: float) -> np.ndarray:
    """Per line, the first date whose probability on its curve (a row of ``curves``, day 1
    after ordering first) reaches ``target`` (NaT: none within the curve)."""
    reached = curves >= target
    first = reached.argmax(axis=1)
    dates = lines["order_date"].to_numpy("datetime64[ns]") + (first + 1).astype("timedelta64[D]")
    return np.where(reached.any(axis=1), dates, np.datetime64("NaT"))


def check(replayed: pd.DataFrame, dates: np.ndarray, target: float) -> dict[str, object]:
    """How often the quoted ``dates`` (NaT: no quote) of the ``replayed`` lines at ``target``
    were kept, against the history's promises on the same lines; with the kept share per
    order (each order counted once) and a 90% interval for the kept share from resampling
    whole orders."""
    quoted = ~np.isnat(dates)
    lines = replayed[quoted]
    delivered = lines["delivered_date"].to_numpy("datetime64[ns]")
    promised = lines["promised_date"].to_numpy("datetime64[ns]")
    hit = delivered <= dates[quoted]
    kept = float(np.mean(hit)) if quoted.any() else float("nan")
    low, high = BANDS[target]
    shift = (dates[quoted] - promised).astype("timedelta64[D]").astype(float)
    by_order = pd.Series(hit).groupby(lines["order_id"].to_numpy()).agg(["size", "sum"])
    interval = order_interval(by_order["size"].to_numpy(), by_order["sum"].to_numpy())
    return {
        "target": target,
        "lines": len(replayed),
        "quoted": int(quoted.sum()),
        "kept": kept,
        "verdict": "PASS" if low <= kept <= high else "FAIL",
        "kept_low": interval[0],
        "kept_high": interval[1],
        "order_kept": float((by_order["sum"] / by_order["size"]).mean())
        if len(by_order)
        else float("nan"),
        "median_days_vs_history": float(np.median(shift)) if quoted.any() else float("nan"),
        "history_kept": float(np.mean(delivered <= promised)) if quoted.any() else float("nan"),
    }


def order_interval(
    lines: np.ndarray, kept: np.ndarray, draws: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """5th and 95th percentile of the kept share over ``draws`` resamples of whole orders
    (``lines`` quoted and ``kept`` of each order): an order's lines share a shipment and
    are kept or missed together, so the lines are not independent draws."""
    if len(lines) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(lines), (draws, len(lines)))
    shares = kept[pick].sum(axis=1) / lines[pick].sum(axis=1)
    low, high = np.quantile(shares, [0.05, 0.95])
    return float(low), float(high)


def lane_dates(lines: pd.DataFrame, target: float) -> np.ndarray:
    days = np.ceil(lines[f"lane_q{round(target * 100)}"].to_numpy(float))
    order = lines["order_date"].to_numpy("datetime64[ns]")
    finite = np.isfinite(days)
    ahead = np.where(finite, np.maximum(days, 1), 0).astype("timedelta64[D]")
    return np.where(finite, order + ahead, np.datetime64("NaT"))


def fit_calibration(run: Replay) -> CurveCalibration:
    """The logistic map from (P(on time if promised d), days ahead of d) to whether the
    line was delivered by d, over every line and candidate date of the replay."""
    curves = run.curves
    days = np.broadcast_to(np.arange(1, curves.shape[1] + 1), curves.shape)
    took = (run.lines["delivered_date"] - run.lines["order_date"]).dt.days.to_numpy(float)
    by_d = (took[:, None] <= days).ravel()
    terms = CurveCalibration.terms(curves.ravel(), days.ravel())
    fit = LogisticRegression(C=1e4, max_iter=1000).fit(terms, by_d)
    return CurveCalibration(
        (float(fit.intercept_[0]), *(float(c) for c in fit.coef_[0]))  # type: ignore[arg-type]
    )


def rolling_calibrated(runs: list[Replay], months: pd.DatetimeIndex, window: int) -> Replay:
    """The lines quoted in ``months``, their curves through a calibration refitted at each
    retraining date ``t`` on the quotes of the ``window`` days before it, from the (line,
    candidate date) pairs whose date had passed by ``t`` (so every outcome was known then,
    none censored). At most 400,000 pairs a fit, drawn at random."""
    lines = pd.concat([run.lines for run in runs], ignore_index=True)
    curves = np.vstack([run.curves for run in runs])
    days = np.arange(1, curves.shape[1] + 1)
    ordered = lines["order_date"].to_numpy("datetime64[D]")
    took = (lines["delivered_date"] - lines["order_date"]).dt.days.to_numpy(float)
    trained = lines["trained"].to_numpy("datetime64[D]")
    rng = np.random.default_rng(0)
    keep = np.isin(trained, months.to_numpy("datetime64[D]"))
    mapped = np.full(curves.shape, np.nan)
    for t in months.to_numpy("datetime64[D]"):
        recent = np.flatnonzero((ordered < t) & (ordered >= t - np.timedelta64(window, "D")))
        passed = (ordered[recent, None] + days[None, :].astype("timedelta64[D]")) < t
        line, day = np.nonzero(passed)
        if len(line) > 400_000:
            pick = rng.choice(len(line), 400_000, replace=False)
            line, day = line[pick], day[pick]
        terms = CurveCalibration.terms(curves[recent[line], day], days[day])
        fit = LogisticRegression(C=1e4, max_iter=1000).fit(terms, took[recent[line]] <= days[day])
        calibration = CurveCalibration(
            (float(fit.intercept_[0]), *(float(c) for c in fit.coef_[0]))  # type: ignore[arg-type]
        )
        rows = np.flatnonzero(trained == t)
        ahead = np.broadcast_to(days, (len(rows), len(days)))
        mapped[rows] = np.maximum.accumulate(calibration(curves[rows], ahead), axis=1)
    return Replay(lines[keep].reset_index(drop=True), np.round(mapped[keep], 4))


def table(rows: list[dict[str, object]]) -> str:
    head = (
        f"{'period':<28}{'curve':<22}{'target':>7}{'lines':>7}{'quoted':>7}{'kept':>7}"
        f"{'band':>12}{'':>6}{'90% by order':>14}{'per order':>10}{'days vs hist':>13}"
        f"{'hist kept':>10}"
    )
    out = [head, "-" * len(head)]
    for r in rows:
        low, high = BANDS[float(r["target"])]  # type: ignore[arg-type]
        interval = f"{r['kept_low']:.1%}-{r['kept_high']:.1%}"
        out.append(
            f"{r['period']!s:<28}{r['curve']!s:<22}{r['target']:>7.0%}{r['lines']:>7}"
            f"{r['quoted']:>7}{r['kept']:>7.1%}{f'{low:.0%}-{high:.0%}':>12}"
            f"{r['verdict']!s:>6}{interval:>14}"
            f"{r['order_kept']:>10.1%}{r['median_days_vs_history']:>+13.0f}{r['history_kept']:>10.1%}"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SCMS)
    parser.add_argument("--max-days", type=int, default=MAX_DAYS)
    parser.add_argument(
        "--cache", type=Path, help="Keep the replays in this folder and reuse them."
    )
    parser.add_argument("--calibration-out", type=Path, help="Write the chosen map here (JSON).")
    parser.add_argument("--rolling-window", type=int, default=365)
    parser.add_argument("--rolling-from", default="2012-07-01")
    parser.add_argument(
        "--delivery-time-only",
        action="store_true",
        help="Only the delivery-time curve (the one quote_promise quotes from) and the lane "
        "peer: no at-risk replays or calibrations (minutes, not a quarter of an hour).",
    )
    parser.add_argument(
        "--calibration-days",
        default=str(DeliveryTimeModel().calibration_days),
        help="With --delivery-time-only: the delivery-time model's calibration_days, "
        "comma-separated to compare several (default: the model's).",
    )
    parser.add_argument(
        "--delivery-time-params",
        type=json.loads,
        default={},
        help="With --delivery-time-only: the delivery-time model's other settings as JSON, "
        'e.g. \'{"max_iter": 100, "learning_rate": 0.1}\' (default: the model\'s).',
    )
    parser.add_argument(
        "--periods",
        default="dev,test",
        help="With --delivery-time-only: dev, test or both (comma-separated); choose on dev.",
    )
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"{args.data} not found: the benchmark needs the SCMS history")
    warnings.filterwarnings("ignore", category=UserWarning)
    orders = load_orders(args.data, MAPPING)
    end = orders["order_date"].max() + pd.Timedelta(days=1)
    periods = {
        f"dev {DEV[0]}..{DEV[1]}": (DEV[0], pd.Timestamp(DEV[1])),
        f"test {DEV[1]}..{end:%Y-%m-%d}": (DEV[1], end),
    }
    if args.delivery_time_only:
        wanted = {p.strip() for p in args.periods.split(",")}
        if not wanted <= {"dev", "test"}:
            raise SystemExit(f"--periods {args.periods}: use dev, test or dev,test")
        chosen = {k: v for k, v in periods.items() if k.split()[0] in wanted}
        days = [int(d) for d in args.calibration_days.split(",")]
        rows = delivery_time_only(orders, chosen, args.max_days, days, args.delivery_time_params)
        print(table(rows))
        return
    runs: dict[str, Replay] = {}
    calibration: CurveCalibration | None = None
    for name, (start, stop) in periods.items():
        # The development replay chooses the calibration; the test replay uses it.
        cached = None if args.cache is None else args.cache / f"replay-{start}"
        if cached is not None and cached.with_suffix(".npz").exists():
            data = np.load(cached.with_suffix(".npz"))
            lines = pd.read_parquet(cached.with_suffix(".parquet"))
            runs[name] = Replay(lines, data["raw"], data.get("calibrated"))
            print(f"{name}: replay read from {cached}.*")
        else:
            print(f"{name}: walk-forward replay, monthly retraining", flush=True)
            started = time.perf_counter()
            runs[name] = replay(orders, start, stop, args.max_days, calibration)
            print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                runs[name].lines.to_parquet(cached.with_suffix(".parquet"))
                arrays = {"raw": runs[name].curves}
                if runs[name].calibrated is not None:
                    arrays["calibrated"] = runs[name].calibrated
                np.savez(cached.with_suffix(".npz"), **arrays)  # type: ignore[arg-type]
        if calibration is None:
            calibration = fit_calibration(runs[name])
            print(f"calibration chosen on {name}: coef {np.round(calibration.coef, 4).tolist()}")
            if args.calibration_out is not None:
                args.calibration_out.write_text(
                    json.dumps({"coef": calibration.coef, "chosen_on": name})
                )
    # The delivery-time model as AtRiskModel.fit fits it (delivery_time_), refitted at each
    # retraining date of the replays: the curve quote_promise quotes from.
    timing: dict[str, np.ndarray] = {}
    for name, run in runs.items():
        started = time.perf_counter()
        timing[name] = delivery_time_curves(orders, run.lines, run.curves.shape[1])
        print(f"{name}: delivery-time curves {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    for name, run in runs.items():
        mine = run.lines.drop(columns=["lane_q80", "lane_q90"], errors="ignore")
        run.lines = pd.concat([mine, lane_quotes(orders, mine)], axis=1)
        curves = {"quote_promise": run.curves}
        if run.calibrated is not None:
            curves["quote_promise + map"] = run.calibrated
        elif calibration is not None:  # the replay that chose it: in-sample, for reference
            days = np.broadcast_to(np.arange(1, run.curves.shape[1] + 1), run.curves.shape)
            mapped = np.maximum.accumulate(calibration(run.curves, days), axis=1)
            curves["calibrated in-sample"] = np.round(mapped, 4)
        for target in BANDS:
            for curve_name, curve in curves.items():
                dates = quoted_dates(run.lines, curve, target)
                rows.append(
                    {"period": name, "curve": curve_name, **check(run.lines, dates, target)}
                )
            lane = check(run.lines, lane_dates(run.lines, target), target)
            rows.append({"period": name, "curve": "lane quantile", **lane})
            timed = check(run.lines, quoted_dates(run.lines, timing[name], target), target)
            rows.append({"period": name, "curve": "delivery time", **timed})
    # Refitted monthly on the last year's quotes; the window was chosen on the development
    # months that have a year of replay before them (365 days kept 91.8% and 81.6%, 730
    # days 96.7% and 86.5%).
    dev_run, test_run = runs.values()
    windows = {
        f"dev {args.rolling_from}..{DEV[1]}": pd.date_range(
            args.rolling_from, pd.Timestamp(DEV[1]) - pd.Timedelta(days=1), freq="MS"
        ),
        f"test {DEV[1]}..{end:%Y-%m-%d}": pd.date_range(DEV[1], end, freq="MS"),
    }
    for name, months in windows.items():
        months = months[months.isin(pd.concat([dev_run.lines, test_run.lines])["trained"])]
        rolled = rolling_calibrated([dev_run, test_run], months, args.rolling_window)
        rolled.lines = rolled.lines.drop(columns=["lane_q80", "lane_q90"], errors="ignore")
        for target in BANDS:
            dates = quoted_dates(rolled.lines, rolled.curves, target)
            label = f"rolling {args.rolling_window}d"
            rows.append({"period": name, "curve": label, **check(rolled.lines, dates, target)})
    print()
    print(table(rows))
    print(
        "\nkept: share of quoted lines delivered by the quoted date; days vs hist: median "
        "quoted minus promised date; hist kept: share delivered by the history's promise "
        "(same lines). Calibration (logistic in logit p and log days ahead) chosen on the "
        "development replay, applied in the test replay; lane quantile: the peer, the "
        "80th/90th percentile of order-to-delivery days of the site x shipment mode over "
        "the year before each order; delivery time: the delivery-time model "
        "(forecasting.risk.delivery_time, AtRiskModel.delivery_time_) refitted at each "
        "retraining date, P(delivered within d - order date)."
    )


if __name__ == "__main__":
    main()
