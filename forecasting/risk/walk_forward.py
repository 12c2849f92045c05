"""Walk-forward evaluation of the at-risk model: retrain on a schedule, score as the service.

A service does not score two years of orders with records frozen on one day: deliveries
are ingested daily and the model is retrained on a schedule. This protocol mirrors that.
Retraining dates ``t_0 < t_1 < ...`` run from a start date (``t_0``) every month (the first
of each month) or every week, up to the last promised date whose outcome the data knows.
At each ``t_k`` a fresh model learns from the orders as known then (lines ordered before
``t_k``; a line delivered before it is labelled by its delivery, a line whose promise
passed undelivered is late). Every line promised in ``[t_k, t_{k+1})`` whose outcome the
data knows is scored once, on its scoring day ``s = max(order_date, t_k)``, by that model
with its track records and site load brought up to ``s`` (:meth:`AtRiskModel.with_history`:
deliveries known by ``s``, no retraining).

Nothing after ``s`` reaches a score: the model and the baselines are handed the order
lines as they stood on that day (:func:`known_at`: lines ordered by then, deliveries on
or after it emptied), not the whole file.

Two baselines are computed on the same lines by the same walk
(:mod:`forecasting.risk.baselines`): plain gradient boosting on the lines' static
attributes, retrained at each ``t_k``, and the lane's late rate over the 365 days before
``s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from forecasting.errors import ConfigError
from forecasting.risk.baselines import recent_lane_rate, static_booster
from forecasting.risk.choices import CADENCES, Cadence, Profile
from forecasting.risk.evaluate import risk_metrics
from forecasting.risk.labels import is_late, labels_as_of
from forecasting.risk.model import AtRiskModel

ModelFactory = Callable[[], AtRiskModel]
StaticFactory = Callable[[], HistGradientBoostingClassifier]
Progress = Callable[[int, int], None]

# The scored rows, in order; the two baselines' p_late and each window's base rate follow.
SCORED_COLUMNS = [
    "line_id",
    "scored_at",
    "trained_at",
    "p_late",
    "risk_band",
    "reason_1",
    "reason_2",
    "reason_3",
    "late",
    "base_rate",
    "p_late_static_booster",
    "p_late_lane_rate",
]
# Model name -> its p_late column, in the order the metrics table lists them: the two
# baselines, then all models, ours first.
BASELINES = {
    "static booster (retrained)": "p_late_static_booster",
    "lane late rate (365 days)": "p_late_lane_rate",
}
MODELS = {"ordercast": "p_late", **BASELINES}
# A baseline's rows scored again with what ordercast knows of a line delivered by its
# promise before its scoring day (on time for certain, band "delivered"): p_late 0. The
# baselines as the issue defines them give such lines their rate; these rows show how much
# of a gap that knowledge alone makes.
DELIVERIES_KNOWN = ", deliveries known"
# Dates the data records only once a line is delivered: unknown before that.
_DELIVERY_COLUMNS = ("delivered_date", "ship_date", "delivery_recorded_date", "late")
# The walk's settings for AtRiskModel where they differ from the model's own defaults,
# chosen on the SCMS development period only (walk forward monthly, 2011-07-01 to
# 2013-06-30, 2,326 lines). Also learning from the early deliveries of lines promised after
# the training date (complete_cohorts=False) scored better there in three paired runs (two
# seeds, then the model of e204872): ROC-AUC 0.585/0.544/0.544 against 0.567/0.539/0.532,
# Brier 0.102/0.108/0.108 against 0.107/0.110/0.111, ECE 0.038/0.082/0.078 against
# 0.048/0.090/0.092; a margin of the order of the seed's own. No lookahead snapshots,
# isotonic calibration and smaller trees (15 or 7 leaves) did not score better.
# Then (#21, same period, one run each, reasons skipped: same p_late) the line's own
# features and a calibration on the newest tenth of the training snapshots, which leaves
# the boosters the newest lines (calibrate_on="open_book" keeps the newest fifth out of
# them, lines open then included, and its Platt map came out nearly flat): ROC-AUC 0.544
# (these settings alone) -> 0.560 (raw categories, no records, no site load) -> 0.557 (and
# no clock) -> 0.659 (and calibrate_on="snapshots", calibration_share=0.1; Brier 0.1046
# against the base rate's 0.0983, ECE 0.062, top-10% precision 0.258). The same
# calibration with every feature: 0.652; without lookahead snapshots: 0.618 (Brier 0.0968,
# ECE 0.024). The static booster scored 0.724 on the same lines.
# Then (2026-12-03, same period, one run each, as benchmarks/risk_walk_forward.py --periods
# development --params '{...}' runs it): the calibration slice was what kept the model behind the
# static booster. The newest tenth of the snapshots held out for it is the newest tenth of what the
# boosters could learn from, and on SCMS the newest months say most about the next. With no slice
# (calibration_share=0: p_late is the boosters' own log-loss probability) ROC-AUC 0.659 -> 0.726,
# Brier 0.1046 -> 0.0930, ECE 0.062 -> 0.037, top-10% precision 0.258 -> 0.296. On top of that, each
# then (ROC-AUC / Brier / ECE / top 10%): no lookahead snapshots 0.729 / 0.0929 / 0.037 / 0.326; and
# the records of groups no value of which holds most lines (records="split") 0.735 / 0.0922 / 0.043
# / 0.343; or the site load instead 0.739 / 0.0930 / 0.048 / 0.322; or both 0.733 / 0.0915 / 0.039 /
# 0.318; both with the lookahead snapshots kept 0.737 / 0.0908 / 0.035 / 0.331, the best mean rank
# over the four (the differences among the last four are of the order of a seed's). Kept: that last
# one.
# Then (2026-12-03, same period, one run: benchmarks/risk_walk_forward.py --periods development)
# the route record (site x shipment mode, features.RECORD_GROUPS), the lane baseline's own grouping,
# which no record held: ROC-AUC 0.737 -> 0.737, Brier 0.0908 -> 0.0901, ECE 0.035 -> 0.032, top-10%
# precision 0.331 -> 0.356. Kept.
# Then the lines delivered by their promise before their scoring day (522 of the 2,326) score 0,
# as AtRiskModel.score_lines now says (a rule, not a setting): 0.812 / 0.0879 / 0.046 / 0.382
# (the open lines' p_late averages 0.092 against 0.142 of them late: the boosters, which see
# lines at their order and while open, do not know a line is still open a month before its
# promise). With the line's clock back (clock=True, the settings the delivered lines had made
# worse): 0.813 / 0.0880 / 0.045 / 0.391, within a seed's difference: left out.
# Then p_late blended with the route's record (record_weight, the share taken from it; one run
# each, --params '{"record_weight": w}', 2026-12-03), the weight with the lowest Brier (the
# proper score of the four) chosen before the later periods were run: 0.15: 0.819 / 0.0867 /
# 0.039 / 0.378; 0.25: 0.819 / 0.0862 / 0.035 / 0.378; 0.35: 0.819 / 0.0859 / 0.030 / 0.339;
# 0.5: 0.816 / 0.0860 / 0.023 / 0.331. Kept: 0.35.
# Then the boosters' p_late held non-decreasing in every track record's late rate
# (monotone_records; --params '{"monotone_records": true}', one run, 2026-12-03): 0.819 /
# 0.0859 / 0.030 / 0.339 -> 0.820 / 0.0856 / 0.025 / 0.339. Kept: a small gain, and a worse
# record never lowers a line's risk, which a planner reading the reasons expects.
WALK_FORWARD_PARAMS: dict[str, Any] = {
    "complete_cohorts": False,
    "raw_categories": True,
    "records": "split",
    "site_load": True,
    "clock": False,
    "calibrate_on": "snapshots",
    "calibration_share": 0.0,
    "record_weight": 0.35,
    "monotone_records": True,
}


# The at-risk model's two feature profiles, by name; the service trains the one its
# settings name (``risk.profile``), the walk the one it is given, so what a walk measured
# is what a service configured alike serves. "queue": the model's own features, for
# histories whose lateness follows each site's queue (the synthetic demo's): track
# records, site load and the line's clock. "line": the line's own attributes,
# :data:`WALK_FORWARD_PARAMS`, chosen on SCMS's development walk, where the day-level
# records moved every line's score together.
# The queue profile's settings, which the model's defaults now are too (named here so that the
# profile does not move if they do): no calibration slice either. Chosen on the demo generator's
# development points only (benchmarks/risk_open_book.py --settings none: 8 days before the
# demo's end, and the ends of seeds 1-5; 2026-12-03): open-book ECE with the then default
# open-book calibration -> without a slice, at end -
# 372/365/358/351/300/240/180/120 days 0.035/0.038/0.027/0.057/ 0.018/0.010/0.004/0.009 ->
# 0.033/0.034/0.021/0.057/0.017/0.004/0.009/0.006, at seeds 1-5's ends 0.115/0.048/0.037/0.062/0.004
# -> 0.036/0.022/0.021/0.033/0.014: mean 0.036 -> 0.024, the worst point 0.115 -> 0.057, ROC-AUC
# from 0.008 lower to 0.012 higher. A calibration fitted on recent weeks follows a peak as it builds
# and overshoots as it clears; the boosters' own probabilities, learnt from every snapshot,
# overshoot less.
QUEUE_PARAMS: dict[str, Any] = {"calibrate_on": "snapshots", "calibration_share": 0.0}
PROFILES: dict[str, dict[str, Any]] = {"queue": QUEUE_PARAMS, "line": WALK_FORWARD_PARAMS}


def walk_forward_model(
    tolerance_days: int = 0, bands: tuple[float, float] = (0.2, 0.5), profile: Profile = "line"
) -> AtRiskModel:
    """The at-risk model the walk retrains: :data:`PROFILES` ``profile`` (by default
    "line", :data:`WALK_FORWARD_PARAMS`)."""
    if profile not in PROFILES:
        raise ConfigError(f"at-risk profile '{profile}': use one of {', '.join(PROFILES)}")
    return AtRiskModel(tolerance_days=tolerance_days, bands=bands, **PROFILES[profile])


def retraining_dates(
    start: pd.Timestamp, end: pd.Timestamp, cadence: Cadence
) -> list[pd.Timestamp]:
    """``start``, then every first of the month (``monthly``) or every 7 days after
    ``start`` (``weekly``), up to and including ``end``."""
    if cadence not in CADENCES:
        raise ConfigError(f"walk-forward cadence '{cadence}' is not one of {', '.join(CADENCES)}")
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if cadence == "weekly":
        return list(pd.date_range(start, end, freq="7D"))
    firsts = pd.date_range(start, end, freq="MS")
    return [start, *(day for day in firsts if day > start)]


def known_at(orders: pd.DataFrame, moment: pd.Timestamp) -> pd.DataFrame:
    """The lines of ``orders`` ordered on or before ``moment``, as they stood that day.

    A delivery on or after ``moment`` had not happened: its dates (and the derived
    ``late``) are emptied. The index is kept, so rows still name the same lines.
    """
    view = orders[orders["order_date"] <= moment].copy()
    undelivered = ~(view["delivered_date"] < moment)
    for column in _DELIVERY_COLUMNS:
        if column in view.columns:
            view[column] = view[column].mask(undelivered)
    return view


def walk_forward(
    orders: pd.DataFrame,
    start: pd.Timestamp | str,
    cadence: Cadence = "monthly",
    *,
    until: pd.Timestamp | str | None = None,
    tolerance_days: int = 0,
    model_factory: ModelFactory | None = None,
    static_factory: StaticFactory | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Score every line promised from ``start`` (to ``until``, inclusive) as the walk would.

    ``orders``: the whole history with its deliveries (the order-line contract).
    ``model_factory`` makes each window's fresh model (default :func:`walk_forward_model`;
    its ``tolerance_days`` must be ``tolerance_days``; it is fitted without a delivery-time
    model, as the walk reads p_late alone), ``static_factory`` the static
    baseline's booster; ``progress(done, total)`` is called after each window.

    Returns one row per scored line (:data:`SCORED_COLUMNS`): its scoring day and model's
    training date, p_late, band and reasons as :meth:`AtRiskModel.score_lines` gives them,
    ``late`` (0/1, delivered after its promise + ``tolerance_days``), ``base_rate`` (the
    late share of the lines promised before the window's ``t_k``, as known then: what the
    Brier score is compared with) and both baselines' p_late.

    Raises :class:`ConfigError` for an unknown cadence, a model of another tolerance, or a
    start after the last promised date with a known outcome (or after ``until``).
    """
    make_model = model_factory or (lambda: walk_forward_model(tolerance_days))
    start = pd.Timestamp(start)
    outcome = is_late(orders, tolerance_days)
    known = outcome.notna()
    if not known.any():
        raise ConfigError("no line in the history has been delivered: nothing to evaluate")
    end = orders.loc[known, "promised_date"].max().normalize()
    if until is not None:
        end = min(end, pd.Timestamp(until).normalize())
    if start > end:
        raise ConfigError(
            f"split date {start:%Y-%m-%d} is after the last promised date with a known outcome "
            f"({end:%Y-%m-%d}{' or --until' if until is not None else ''}); choose an earlier one"
        )
    dates = retraining_dates(start, end, cadence)
    bounds = [*dates[1:], end + pd.Timedelta(days=1)]
    parts = []
    for k, (trained_at, next_at) in enumerate(zip(dates, bounds, strict=True)):
        window = (
            known & (orders["promised_date"] >= trained_at) & (orders["promised_date"] < next_at)
        )
        if window.any():
            lines = orders[window]
            parts.append(
                _window(
                    orders,
                    lines,
                    trained_at,
                    outcome[window],
                    tolerance_days,
                    make_model,
                    static_factory,
                )
            )
        if progress is not None:
            progress(k + 1, len(dates))
    if not parts:
        return pd.DataFrame(columns=SCORED_COLUMNS)
    return pd.concat(parts, ignore_index=True)[SCORED_COLUMNS]


def _window(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    trained_at: pd.Timestamp,
    late: pd.Series,
    tolerance_days: int,
    make_model: ModelFactory,
    static_factory: StaticFactory | None,
) -> pd.DataFrame:
    """The lines of one window scored by ours (trained at ``trained_at``) and the baselines."""
    seen = known_at(orders, trained_at)
    model = make_model()
    if model.tolerance_days != tolerance_days:
        raise ConfigError(
            f"the walk labels with a tolerance of {tolerance_days} days, its model with "
            f"{model.tolerance_days}: make the model with the walk's tolerance"
        )
    # The walk scores p_late only: no delivery-time model (promise quotes) to fit.
    model.set_params(delivery_time=False).fit(seen, as_of=trained_at)
    labels = labels_as_of(seen, trained_at, tolerance_days)
    settled = labels[(seen["promised_date"] < trained_at) & labels.notna()]
    base_rate = float(settled.mean()) if len(settled) else float(model.base_rate_)
    static_p = static_booster(seen, trained_at, lines, tolerance_days, static_factory)
    scoring_day = lines["order_date"].where(lines["order_date"] > trained_at, trained_at)
    parts = []
    for day in sorted(scoring_day.unique()):
        day = pd.Timestamp(day)
        rows = lines.index[(scoring_day == day).to_numpy()]
        view = known_at(orders, day)
        fresh = model.with_history(view, day)
        scored = fresh.score_lines(
            view, day, snapshots=pd.DataFrame({"row": rows, "moment": day}), batch_history=False
        )
        scored["row"] = rows
        scored["scored_at"] = day
        scored["p_late_lane_rate"] = recent_lane_rate(view, orders.loc[rows], day, tolerance_days)
        parts.append(scored)
    out = pd.concat(parts, ignore_index=True).set_index("row").loc[lines.index]
    out["trained_at"] = trained_at
    out["late"] = late.loc[lines.index].astype(int).to_numpy()
    out["base_rate"] = round(base_rate, 4)
    out["p_late_static_booster"] = np.round(static_p, 4)
    out["p_late_lane_rate"] = out["p_late_lane_rate"].round(4)
    return out.reset_index(drop=True)


def walk_forward_metrics(scored: pd.DataFrame) -> pd.DataFrame:
    """ROC-AUC, PR-AUC, Brier, ECE and top-10% precision of ours and both baselines.

    One row per model (:data:`MODELS`) over the rows of :func:`walk_forward`, then each
    baseline again with the lines ours found delivered on time at 0
    (:data:`DELIVERIES_KNOWN`). Brier's reference (``brier_base_rate``) predicts, for each
    line, its window's training base rate (``base_rate``: the late share known at that
    window's retraining date), the constant forecast a service retrained on the same
    schedule would have made.
    """
    y = scored["late"].to_numpy(int)
    base = scored["base_rate"].to_numpy(float)
    rows = [
        {"model": name, **risk_metrics(y, scored[column].to_numpy(float), base)}
        for name, column in MODELS.items()
    ]
    delivered = (scored["risk_band"] == "delivered").to_numpy(bool)
    rows += [
        {
            "model": name + DELIVERIES_KNOWN,
            **risk_metrics(y, np.where(delivered, 0.0, scored[column].to_numpy(float)), base),
        }
        for name, column in BASELINES.items()
    ]
    return pd.DataFrame(rows)
