"""Accuracy of published forecasts against the actuals that arrived since: frames in, frames out.

A published forecast row is one target period of one series from one publication (a training
or a refresh): ``publication_id``, ``kind``, ``model_version``, ``origin``, ``level``,
``series_id`` (``<level>:<id>`` as :func:`forecasting.series.prefix_levels` writes it), ``ds``,
``lag`` (periods ahead of the origin), ``model``, ``mean``, ``q10``, ``q50``, ``q90``.
Actuals are the series the model learns from (:func:`series_actuals`): ``series_id``, ``ds``,
``y``. A row is scored once its target period is complete; until then it has no actual.

The metrics keep the definitions of :mod:`forecasting.demand.metrics`, pooled over a group:
WAPE = sum|y − mean| / sum|y|, bias = sum(mean − y) / sum|y| (positive = over-forecast),
coverage80 = share of actuals within [q10, q90], MASE = mean over rows of |y − mean| / scale.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting.errors import ConfigError, OrdercastError
from forecasting.series import (
    KEY_SEPARATOR,
    build_hierarchy,
    drop_partial_last_period,
    prefix_levels,
)

# What a group of scored rows can be split by; "model" is the model family and "site" the
# site parsed from the series id.
DIMENSIONS = ("level", "lag", "model", "site", "model_version", "origin")
NO_SITE = "(all)"  # the site of a series whose level has no site key (sku, total)
METRICS = ("wape", "bias", "mase", "coverage80")
EXPECTED = ("wape", "mase", "coverage80")  # what the backtest records per level and lag

# Drift defaults, chosen by reasoning rather than fitted to any history:
# - 4 periods is a month of weekly buckets, one planning cycle: one odd week (a holiday, a
#   one-off bulk order) is diluted to a quarter of the window, yet a real shift shows within
#   the cycle in which a planner would act on it.
# - a 25% margin sits above the spread of the backtest's own estimate (3 windows, whose WAPEs
#   commonly differ by 10-20% from one another), so a flag means more than backtest noise.
# - 64 rows: the relative standard error of a pooled WAPE over n rows is about cv / sqrt(n)
#   with cv (of the absolute errors) near 1; for a 25% excess to stand two standard errors
#   above the expectation, n >= (2 / 0.25)**2 = 64.
DRIFT_PERIODS = 4
DRIFT_MARGIN = 0.25
DRIFT_MIN_ROWS = 64

_PUBLISHED = ("level", "series_id", "ds", "lag", "model", "mean", "q10", "q90", "origin")


NOTHING_PUBLISHED = (
    "nothing has been published yet: `ordercast train demand` or `ordercast refresh` publish "
    "forecasts to the order store"
)


class NothingPublishedError(OrdercastError):
    """No published forecast to score (nothing published yet, or none since the date asked)."""


def check_by(by: Iterable[str]) -> list[str]:
    """The dimensions of ``by`` in order, without repeats; :class:`ConfigError` for an
    unknown one, naming the known ones."""
    names = [str(b).strip() for b in by if str(b).strip()]
    unknown = [b for b in names if b not in DIMENSIONS]
    if unknown:
        raise ConfigError(
            f"unknown accuracy dimension(s) {', '.join(repr(u) for u in unknown)}; "
            f"group by any of {', '.join(DIMENSIONS)} (e.g. level,lag)"
        )
    return list(dict.fromkeys(names))


def series_actuals(
    orders: pd.DataFrame,
    *,
    levels: Sequence[Sequence[str]],
    freq: str,
    date_col: str = "order_date",
    cutoff: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The actuals of every published series: the hierarchy series exactly as training builds
    them (``training.pipelines.demand.hierarchy_series``), without the period the orders end in
    when it is not complete.

    ``cutoff`` is the last date the orders cover; by default the last order date, as training
    takes it. Returns ``series_id`` (level-prefixed), ``ds``, ``y``, ``level``; no rows when
    there are no orders (nothing has happened yet, which is not an error here).
    """
    if orders.empty:
        return pd.DataFrame(
            {
                "series_id": pd.Series(dtype=object),
                "ds": pd.Series(dtype="datetime64[ns]"),
                "y": pd.Series(dtype=float),
                "level": pd.Series(dtype=object),
            }
        )
    last = pd.Timestamp(orders["order_date"].max()) if cutoff is None else pd.Timestamp(cutoff)
    series = build_hierarchy(
        orders, levels=[tuple(level) for level in levels], freq=freq, date_col=date_col
    )
    complete = prefix_levels(drop_partial_last_period(series, freq, last))
    return complete[["series_id", "ds", "y", "level"]].reset_index(drop=True)


def scored_rows(
    published: pd.DataFrame, actuals: pd.DataFrame, lags: Sequence[int] | None = None
) -> pd.DataFrame:
    """Published forecast rows whose target period has an actual, with what scoring needs.

    Joined on (``series_id``, ``ds``); rows at ``lags`` only when given. Adds ``y``,
    ``family`` (the model name before any "("), ``site`` (:data:`NO_SITE` for levels without
    a site), ``scale`` and ``scaled_error`` = |y − mean| / scale.

    ``scale`` is the series' mean absolute one-step change of its actuals up to and including
    the publication's origin (``naive_scale(train, m=1)`` of
    :mod:`forecasting.demand.metrics`): what the forecaster could have known, the same for
    every lag of one publication. It is NaN (and the row left out of MASE only) when the
    series has fewer than two actuals by the origin or never changed.
    """
    missing = [c for c in _PUBLISHED if c not in published.columns]
    if missing:
        raise ConfigError(
            f"published forecasts lack the column(s) {missing}; read them with "
            "store.publications.read_published_forecasts"
        )
    rows = published.copy()
    rows["ds"] = _as_datetime(rows["ds"])
    rows["origin"] = _as_datetime(rows["origin"])
    rows["lag"] = rows["lag"].astype(int)
    if lags is not None:
        rows = rows[rows["lag"].isin([int(lag) for lag in lags])]
    truth = actuals[["series_id", "ds", "y"]].copy()
    truth["ds"] = _as_datetime(truth["ds"])
    rows = rows.merge(truth, on=["series_id", "ds"], how="inner", validate="many_to_one")
    rows["family"] = rows["model"].astype(str).str.split("(", n=1).str[0].str.strip()
    rows["site"] = _sites(rows["level"], rows["series_id"])
    rows = _with_scale(rows, truth)
    rows["scaled_error"] = (rows["y"] - rows["mean"]).abs() / rows["scale"]
    return rows.reset_index(drop=True)


def summarize(scored: pd.DataFrame, by: Iterable[str] = ("lag",)) -> pd.DataFrame:
    """One row per group of ``by``: ``n`` (rows scored), ``wape``, ``bias``, ``mase`` and
    ``coverage80`` as the module docstring defines them; NaN where undefined (all actuals 0,
    no usable MASE scale, no interval)."""
    keys = _group_keys(_checked_against(by, scored))
    parts = _metric_parts(scored)
    sums = parts.groupby(keys, sort=True, dropna=False).agg(
        n=("abs_error", "size"),
        abs_error=("abs_error", "sum"),
        error=("error", "sum"),
        abs_y=("abs_y", "sum"),
        mase=("scaled_error", "mean"),
        inside=("inside", "mean"),
    )
    positive = sums["abs_y"] > 0
    out = pd.DataFrame(index=sums.index)
    out["n"] = sums["n"].astype(int)
    out["wape"] = (sums["abs_error"] / sums["abs_y"]).where(positive)
    out["bias"] = (sums["error"] / sums["abs_y"]).where(positive)
    out["mase"] = sums["mase"]
    out["coverage80"] = sums["inside"]
    return _ungroup(out, keys)


def score_published(
    published: pd.DataFrame,
    actuals: pd.DataFrame,
    by: Iterable[str] = ("lag",),
    lags: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Observed accuracy of ``published`` against ``actuals``, one row per group of ``by``
    (any of :data:`DIMENSIONS`): :func:`scored_rows` then :func:`summarize`."""
    wanted = check_by(by)
    return summarize(scored_rows(published, actuals, lags), wanted)


def expected_by(
    expectations: pd.DataFrame, scored: pd.DataFrame, by: Iterable[str] = ("lag",)
) -> pd.DataFrame:
    """The backtest's expectation for each group of ``by``: ``expected_wape``,
    ``expected_mase``, ``expected_coverage80``.

    ``expectations`` holds one row per publication, level and lag (``publication_id``,
    ``level``, ``lag``, ``wape``, ``mase``, ``coverage80``); ``scored`` the rows of
    :func:`scored_rows`, so that only publications with scored rows in a group count.
    Within a group the (publication, level, lag) expectations are averaged with the weights
    that make them comparable with the observed figure: sum|y| for WAPE (a pooled WAPE is the
    sum|y|-weighted mean of its parts' WAPEs), the rows with a scale for MASE, the rows with an
    interval for coverage. NaN where no expectation applies.
    """
    keys = _group_keys(_checked_against(by, scored))
    cell = list(dict.fromkeys([*keys, "publication_id", "level", "lag"]))
    parts = _metric_parts(scored)
    weights = parts.groupby(cell, sort=True, dropna=False).agg(
        w_wape=("abs_y", "sum"),
        w_mase=("scaled_error", "count"),
        w_coverage80=("inside", "count"),
    )
    weights = weights.reset_index()
    expected = expectations[["publication_id", "level", "lag", *EXPECTED]].copy()
    expected["lag"] = expected["lag"].astype(int)
    cells = weights.merge(expected, on=["publication_id", "level", "lag"], how="left")
    columns = {}
    for metric in EXPECTED:
        usable = cells[metric].notna() & (cells[f"w_{metric}"] > 0)
        weight = cells[f"w_{metric}"].where(usable, 0.0)
        cells[f"wx_{metric}"] = (cells[metric] * weight).where(usable, 0.0)
        cells[f"wt_{metric}"] = weight
        columns[metric] = (f"wx_{metric}", f"wt_{metric}")
    grouped = cells.groupby(keys, sort=True, dropna=False)[
        [c for pair in columns.values() for c in pair]
    ].sum()
    out = pd.DataFrame(index=grouped.index)
    for metric, (num, den) in columns.items():
        out[f"expected_{metric}"] = (grouped[num] / grouped[den]).where(grouped[den] > 0)
    return _ungroup(out, keys)


def accuracy_table(
    published: pd.DataFrame,
    actuals: pd.DataFrame,
    expectations: pd.DataFrame,
    by: Iterable[str] = ("lag",),
    lags: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Observed next to expected, one row per group of ``by``: the columns of
    :func:`summarize` and of :func:`expected_by`. Empty when no row has an actual yet."""
    wanted = check_by(by)
    if published.empty:
        raise NothingPublishedError(NOTHING_PUBLISHED)
    scored = scored_rows(published, actuals, lags)
    observed = summarize(scored, wanted)
    expected = expected_by(expectations, scored, wanted)
    keys = [c for c in observed.columns if c in expected.columns]
    if keys:
        table = observed.merge(expected, on=keys, how="left")
    else:  # one group of everything: one row on each side
        table = pd.concat([observed, expected], axis=1)
    order = [*keys, "n", "wape", "expected_wape", "bias", "mase", "expected_mase"]
    return table[[*order, "coverage80", "expected_coverage80"]]


def drift_flags(
    published: pd.DataFrame,
    actuals: pd.DataFrame,
    expectations: pd.DataFrame,
    lags: Sequence[int] = (1, 2, 4, 8),
    periods: int = DRIFT_PERIODS,
    margin: float = DRIFT_MARGIN,
    min_rows: int = DRIFT_MIN_ROWS,
) -> pd.DataFrame:
    """Per lag, over every level together: is the recent WAPE worse than the backtest said?

    The window is the last ``periods`` target periods that have actuals. For each lag, the
    observed WAPE pools every published row at that lag targeting the window (all levels, all
    publications: each level sums to the same total, so each weighs the same); the expected
    WAPE is :func:`expected_by` over the same rows. ``drift`` is raised when
    ``observed > expected * (1 + margin)`` and at least ``min_rows`` rows were scored (fewer
    say little; see the module's constants for why the defaults are what they are).

    Returns one row per lag: ``lag``, ``n``, ``periods`` (target periods in the window that
    had a forecast at this lag), ``window_start``, ``window_end``, ``observed_wape``,
    ``expected_wape``, ``threshold``, ``drift`` (bool) and ``status``: ``drift``, ``ok``,
    ``too few rows`` or ``no expectation``.
    """
    if periods < 1:
        raise ConfigError(f"drift periods must be at least 1, not {periods}")
    if margin < 0:
        raise ConfigError(f"drift margin must be 0 or more, not {margin}")
    lags = [int(lag) for lag in lags]
    scored = scored_rows(published, actuals, lags)
    targets = np.sort(_as_datetime(actuals["ds"]).unique())
    window = pd.DatetimeIndex(targets[-periods:])
    recent = scored[scored["ds"].isin(window)]
    records = []
    for lag in lags:
        at_lag = recent[recent["lag"] == lag]
        n = len(at_lag)
        wape = exp = float("nan")
        if n:
            wape = float(summarize(at_lag, [])["wape"].to_numpy(float)[0])
            expected = expected_by(expectations, at_lag, [])
            exp = float(expected["expected_wape"].to_numpy(float)[0])
        threshold = exp * (1 + margin)
        if n < min_rows:
            status = "too few rows"
        elif not np.isfinite(exp):
            status = "no expectation"
        else:
            status = "drift" if wape > threshold else "ok"
        records.append(
            {
                "lag": lag,
                "n": n,
                "periods": int(at_lag["ds"].nunique()),
                "window_start": window.min() if len(window) else pd.NaT,
                "window_end": window.max() if len(window) else pd.NaT,
                "observed_wape": wape,
                "expected_wape": exp,
                "threshold": threshold,
                "drift": status == "drift",
                "status": status,
            }
        )
    return pd.DataFrame.from_records(records, columns=_DRIFT_COLUMNS)


def current_lineage(published: pd.DataFrame) -> pd.DataFrame:
    """The rows of the newest training's publication and of the refreshes after it.

    Drift asks whether the model now serving has fallen behind its backtest. Forecasts of
    the models a retrain replaced would keep the flag up for as many periods as the longest
    lag after every retrain (and a scheduler retraining on the flag would retrain again and
    again), so they are left out; until the new model's own forecasts meet actuals, there
    are too few rows to flag anything. Frames without ``kind`` and ``publication_id`` are
    returned whole.
    """
    if not {"kind", "publication_id"} <= set(published.columns) or published.empty:
        return published
    trainings = published.loc[published["kind"] == "train", "publication_id"]
    if trainings.empty:
        return published
    return published[published["publication_id"] >= trainings.max()]


def drift_window_start(actuals: pd.DataFrame, periods: int = DRIFT_PERIODS) -> pd.Timestamp | None:
    """The first target period :func:`drift_flags` looks at (None without actuals): a caller
    may read only the forecasts from there on."""
    targets = np.sort(_as_datetime(actuals["ds"]).unique())
    return pd.Timestamp(targets[-periods:][0]) if len(targets) else None


@dataclass(frozen=True)
class AccuracyReport:
    """What ``ordercast accuracy`` and ``GET /v1/accuracy`` show: the observed-vs-expected
    table (:func:`accuracy_table`), the drift flags (:func:`drift_flags`), how many
    published rows at the lags asked there were and how many of them had an actual, and how
    many published series match no series of the actuals at all (other levels or keys than
    the demand settings build, or ids spelt differently: their rows can never be scored)."""

    table: pd.DataFrame
    drift: pd.DataFrame
    published: int
    scored: int
    unmatched_series: int = 0

    @property
    def drifting_lags(self) -> list[int]:
        return [int(lag) for lag in self.drift.loc[self.drift["drift"], "lag"]]


def accuracy_report(
    published: pd.DataFrame,
    expectations: pd.DataFrame,
    actuals: pd.DataFrame,
    *,
    by: Iterable[str] = ("lag",),
    lags: Sequence[int] = (1, 2, 4, 8),
    periods: int = DRIFT_PERIODS,
    margin: float = DRIFT_MARGIN,
    min_rows: int = DRIFT_MIN_ROWS,
) -> AccuracyReport:
    """Score ``published`` against ``actuals`` (:func:`series_actuals`) at ``lags``: the table
    grouped by ``by`` and the drift flags.

    Raises :class:`NothingPublishedError` when ``published`` is empty and
    :class:`ConfigError` for an unknown ``by``. With no complete period yet, the table is
    empty and every lag has too few rows.
    """
    wanted = check_by(by)
    if published.empty:
        raise NothingPublishedError(NOTHING_PUBLISHED)
    lags = [int(lag) for lag in lags]
    return AccuracyReport(
        table=accuracy_table(published, actuals, expectations, wanted, lags),
        drift=drift_flags(
            current_lineage(published), actuals, expectations, lags, periods, margin, min_rows
        ),
        published=int(published["lag"].isin(lags).sum()),
        scored=len(scored_rows(published, actuals, lags)),
        unmatched_series=int(
            (~pd.Series(published["series_id"].unique()).isin(actuals["series_id"])).sum()
        )
        if len(actuals)
        else 0,
    )


_DRIFT_COLUMNS = [
    "lag",
    "n",
    "periods",
    "window_start",
    "window_end",
    "observed_wape",
    "expected_wape",
    "threshold",
    "drift",
    "status",
]


def _as_datetime(values: pd.Series) -> pd.Series:
    # One resolution on both sides of a join: a store may hand back dates, strings or
    # timestamps of another unit, which would otherwise match nothing.
    return pd.to_datetime(values).astype("datetime64[ns]")


def _sites(level: pd.Series, series_id: pd.Series) -> pd.Series:
    """The site key of each series id, or :data:`NO_SITE` for levels without one."""
    sites = pd.Series(NO_SITE, index=series_id.index, dtype=object)
    for name in pd.unique(level):
        mask = level == name
        prefix = f"{name}:"
        ids = series_id[mask].astype(str)
        wrong = ids[~ids.str.startswith(prefix)]
        if len(wrong):
            raise ConfigError(
                f"published series_id '{wrong.iloc[0]}' does not start with its level "
                f"'{prefix}'; forecasts must be published with level-prefixed ids "
                "(forecasting.series.prefix_levels)"
            )
        keys = [] if name == "total" else str(name).split(",")
        if "site" in keys:
            parts = ids.str.slice(len(prefix)).str.split(KEY_SEPARATOR, regex=False)
            sites[mask] = parts.str[keys.index("site")]
    return sites


def _with_scale(rows: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``scale``: the mean absolute one-step change of each series' actuals up
    to its row's origin (NaN with fewer than two actuals or no change)."""
    ordered = truth.sort_values(["series_id", "ds"]).reset_index(drop=True)
    step = ordered.groupby("series_id", sort=False)["y"].diff().abs()
    # Running mean of the changes so far: at each period, the scale as of that period.
    total = step.fillna(0.0).groupby(ordered["series_id"], sort=False).cumsum()
    count = step.notna().astype(int).groupby(ordered["series_id"], sort=False).cumsum()
    running = (total / count.where(count > 0)).where(lambda s: s > 0)
    scales = pd.DataFrame({"series_id": ordered["series_id"], "ds": ordered["ds"]})
    scales["scale"] = running
    origins = rows[["series_id", "origin"]].drop_duplicates().sort_values("origin")
    at_origin = pd.merge_asof(
        origins,
        scales.sort_values("ds"),
        left_on="origin",
        right_on="ds",
        by="series_id",
        direction="backward",
    )[["series_id", "origin", "scale"]]
    return rows.merge(at_origin, on=["series_id", "origin"], how="left")


def _metric_parts(scored: pd.DataFrame) -> pd.DataFrame:
    """Per-row pieces the pooled metrics sum; ``inside`` NaN where the interval is missing."""
    parts = scored.copy()
    parts[_ALL] = "all"
    parts["model"] = parts["family"]  # grouping by "model" means by model family
    parts["abs_error"] = (parts["y"] - parts["mean"]).abs()
    parts["error"] = parts["mean"] - parts["y"]
    parts["abs_y"] = parts["y"].abs()
    has_interval = parts["q10"].notna() & parts["q90"].notna()
    inside = (parts["y"] >= parts["q10"]) & (parts["y"] <= parts["q90"])
    parts["inside"] = inside.astype(float).where(has_interval)
    return parts


_ALL = "__all__"


def _checked_against(by: Iterable[str], scored: pd.DataFrame) -> list[str]:
    """``by`` checked, and each of its dimensions present in ``scored``."""
    wanted = check_by(by)
    absent = [b for b in wanted if b not in scored.columns and b != "model"]
    if absent:
        raise ConfigError(
            f"cannot group accuracy by {absent}: the published forecasts have no such column"
        )
    return wanted


def _group_keys(by: list[str]) -> list[str]:
    # An empty ``by`` means one group of everything; pandas needs a key to group on.
    return by or [_ALL]


def _ungroup(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.reset_index()
    return out.drop(columns=[_ALL]) if keys == [_ALL] else out
