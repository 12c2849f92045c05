"""How long a new order line takes from order to delivery: quantiles and P(delivered by d).

The at-risk model learnt p_late from the promises planners set, which were feasible for
their line, so it cannot say how long a line takes (#21). This model learns the days
from order to delivery themselves, from the lines ordered in the ``window_days`` before
the training date ``as_of``, and gives for a new line (its attributes as ordered: site,
shipment mode, country, vendor, product, quantity, value, weight ...) the
quantiles of those days at the levels :data:`LEVELS`, and by interpolation the
probability of delivery within any number of days, the curve a promise is quoted from.

Lines still open at ``as_of`` are right-censored: they took at least as long as they
have been open. Dropping them keeps only the fast lines of the recent orders and biases
every quantile down, most when deliveries are slow. Here:

* the quantile boosters (scikit-learn ``HistGradientBoostingRegressor`` with the
  quantile loss, one per level, on log(1 + days)) learn from the delivered lines,
  each weighted by the inverse probability that a line taking that long had been
  delivered by ``as_of`` (IPCW: ``1 / G(T)`` with ``G(s)`` the share of the training
  lines open for at least ``s`` days at ``as_of``; a line's censoring time is fixed by
  its order date, so ``G`` is known exactly). A slow delivered line stands in for the
  slow lines of its cohorts still open. Weights are capped at :data:`MAX_WEIGHT`.
* the boosters learn from lines ordered before the newest ``calibration_days``; the
  newest lines, which they never saw, shift each level (a conformal adjustment) so
  that the Kaplan-Meier coverage on them equals the level: the residual
  ``log(1 + days) - quantile`` of a delivered line is an event, that of an open line
  censored at its days open so far. An open line already past its quantile counts as
  missed; one not yet past it counts as far as it is known (where too many are open
  to reach a level, the least shift the data allow). So the quantiles follow
  the recent speed of delivery (SCMS: order to delivery p90 about 400 days in
  2011-2012, 266 from 2013-07).

Why not train on old cohorts only (nearly all delivered): the speed of delivery drifts
(SCMS got much faster), and the newest complete cohorts are a year old or more.

Per line the shifted quantiles are sorted, so they are non-decreasing in the level.
Pure: frames in, arrays out; no files, no global state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor

from forecasting.errors import ConfigError, DataContractError
from forecasting.risk.features import FeatureSpace, _as_numbers

logger = logging.getLogger(__name__)

LEVELS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
# A delivered line stands for at most this many lines (IPCW): beyond it, one slow line
# of an old cohort would outweigh the rest.
MAX_WEIGHT = 20.0
# Fewer delivered lines than this to learn from: no model (the at-risk curve quotes).
MIN_LINES = 50
# The boosters learn from at most this many lines (drawn at random): a large history
# (the demo's 250,000 lines) adds fitting time, not accuracy of a few quantiles.
MAX_LINES = 50_000
# Attributes a line has when ordered that are not categories for the boosters though
# FeatureSpace reads them as such (identifiers are already excluded by it).
NOT_FEATURES = {"order_date_imputed", "late", "quoted_lead_days"}


@dataclass(frozen=True)
class Durations:
    """Per line: ``days`` from order to delivery, or to ``as_of`` when still open
    (``delivered`` false: censored)."""

    days: np.ndarray
    delivered: np.ndarray


def durations(orders: pd.DataFrame, as_of: pd.Timestamp) -> Durations:
    """Order-to-delivery days of ``orders`` as known at ``as_of`` (a delivery on or after
    ``as_of`` is not known yet: the line is open, censored at ``as_of``)."""
    delivered_date = orders["delivered_date"]
    done = (delivered_date < as_of).to_numpy(bool)
    end = delivered_date.where(done, as_of)
    days = (end - orders["order_date"]).dt.days.to_numpy(float)
    return Durations(np.maximum(days, 0.0), done)


def km_quantiles(values: np.ndarray, event: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Kaplan-Meier quantiles of ``values`` (``event`` false: censored, the true value is
    larger): per level the smallest value where the estimated distribution reaches it.
    Where it never does (the lines beyond the last event are all censored) the quantile
    lies beyond the first of those censored values, which is returned: the least value
    the data allow."""
    if len(values) == 0:
        return np.full(len(levels), np.nan)
    # At a tie an event comes before a censoring (a censored line outlived that value).
    order = np.lexsort((~event.astype(bool), values))
    v, e = values[order], event[order].astype(float)
    at_risk = len(v) - np.arange(len(v))
    reached = 1 - np.cumprod(1 - e / at_risk)
    events = np.flatnonzero(e > 0)
    beyond = v[events[-1] + 1] if events.size and events[-1] + 1 < len(v) else v[0]
    out = np.full(len(levels), float(beyond))
    for i, level in enumerate(levels):
        hit = np.flatnonzero(reached >= level - 1e-12)
        if hit.size:
            out[i] = v[hit[0]]
    return out


class DeliveryTimeModel(BaseEstimator):
    """Quantiles of the days from order to delivery of a new line (see the module).

    Parameters: ``levels`` (quantile levels), ``window_days`` (learn from the lines
    ordered in this many days before the training date), ``calibration_days`` (the
    newest lines, which the boosters do not see and the conformal shift is measured on;
    the newer half of a history spanning less than twice as long; 0: no shift),
    ``censored`` (``"weighted"``: IPCW as above; ``"dropped"``: open lines left out of
    the boosters and the shift, the biased way, kept for comparison), ``max_iter``,
    ``learning_rate``, ``max_leaf_nodes``, ``min_samples_leaf``, ``random_state``.

    The defaults were chosen on the SCMS development replay only (lines ordered 2011-07
    to 2013-06, ``benchmarks/promise.py --delivery-time-only --periods dev``; kept at 90%
    / 80%, bands 87-93% / 77-83%). ``calibration_days`` first, at window 730: 300 kept
    85.4% / 80.7% and quoted 1,169 of 1,875 lines within a year, against 365 days' 85.5% /
    84.4% and 884 (270: 82.9% / 78.5%; 315: 84.2% / 80.8%; 335: 85.0% / 82.9%). Then
    ``window_days`` at 300: 450 79.7% / 74.3%, 500 85.7% / 77.5%, 545 89.3% / 82.3%,
    590 92.1% / 81.9%, 630 90.2% / 82.8%, 680 85.7% / 82.3%, 730 85.4% / 80.7%. 545-630
    is in both bands; 590, its middle, was taken (545 quotes more lines but fails next
    door at 500). The boosters then learn from the lines ordered 300-590 days before the
    training date, and the older slow cohorts drop out of the window. Last, the
    boosters' ``max_iter`` 200 -> 100 at ``learning_rate`` 0.05 -> 0.1 (the same product):
    92.4% / 81.6% kept, 1,152 / 1,589 quoted, against 92.1% / 81.9% and 1,179 / 1,557,
    in two thirds of the replay's time (124 s against 186 s; 50 at 0.2: 91.9% / 82.3%,
    1,126 / 1,574 quoted, 92 s). The quantile loss refits every leaf's value by a weighted
    percentile at each iteration, in Python: most of an at-risk training's time went here.

    Learned state (after :meth:`fit`): ``numeric_``, ``categorical_`` (column ->
    categories), ``boosters_`` (one per level), ``shift_`` (per level, on log(1 + days)),
    ``trained_as_of_``, ``lines_`` (lines learnt from, delivered and open), ``notes_``.
    """

    def __init__(
        self,
        levels: tuple[float, ...] = LEVELS,
        window_days: int = 590,
        calibration_days: int = 300,
        censored: str = "weighted",
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        random_state: int = 0,
    ) -> None:
        self.levels = levels
        self.window_days = window_days
        self.calibration_days = calibration_days
        self.censored = censored
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, orders: pd.DataFrame, *, as_of: pd.Timestamp | str) -> DeliveryTimeModel:
        """Learn from the lines of ``orders`` ordered in the ``window_days`` before
        ``as_of``, their deliveries as known then; ``self``.

        Lines whose order date the source invented (``order_date_imputed``) are left out:
        their order-to-delivery days are not a fact. Raises :class:`ConfigError` for bad
        parameters, :class:`DataContractError` when fewer than :data:`MIN_LINES` delivered
        lines are left to learn from.
        """
        levels = np.asarray(self.levels, dtype=float)
        if len(levels) < 2 or not np.all((levels > 0) & (levels < 1)):
            raise ConfigError(f"levels {self.levels!r}: two or more, each strictly in (0, 1)")
        if np.any(np.diff(levels) <= 0):
            raise ConfigError(f"levels {self.levels!r}: list them increasing, no repeats")
        if self.censored not in ("weighted", "dropped"):
            raise ConfigError(f"censored '{self.censored}': use 'weighted' or 'dropped'")
        if not 0 <= self.calibration_days < self.window_days:
            raise ConfigError(
                f"calibration_days {self.calibration_days} must be 0 or more and under "
                f"window_days {self.window_days}"
            )
        as_of = pd.Timestamp(as_of).normalize()
        lines = _window(orders, as_of, self.window_days)
        self.notes_: list[str] = []
        d = durations(lines, as_of)
        ordered = lines["order_date"].to_numpy("datetime64[ns]")
        # The newest calibration_days, or the newer half of a shorter history's span.
        first = lines["order_date"].min() if len(lines) else as_of
        cut = max(as_of - pd.Timedelta(days=self.calibration_days), first + (as_of - first) / 2)
        cut = pd.Timestamp(cut).to_datetime64()
        older = ordered < cut if self.calibration_days > 0 else np.ones(len(lines), bool)
        # The censoring time of every line: the days from its order to as_of.
        open_for = (as_of.to_datetime64() - ordered).astype("timedelta64[D]").astype(float)
        weights = self._weights(d, open_for, older)
        learn = older & (weights > 0)
        if learn.sum() < MIN_LINES:
            raise DataContractError.from_message(
                f"as of {as_of:%Y-%m-%d} only {int(learn.sum())} lines ordered in the "
                f"{self.window_days} days before (and {self.calibration_days} days before "
                f"that date) were delivered, under {MIN_LINES}: too few to learn delivery "
                "times; train on a later date or a longer window"
            )
        self.trained_as_of_ = as_of
        self.lines_ = len(lines)
        self._columns(lines)
        features = self._frame(lines)
        rows = np.flatnonzero(learn)
        if len(rows) > MAX_LINES:
            rows = np.sort(
                np.random.default_rng(self.random_state).choice(rows, MAX_LINES, replace=False)
            )
        # A column with no value among the lines learnt from (an attribute a short history
        # barely fills) breaks scikit-learn's binning: left out, as the at-risk model does.
        empty = [c for c in features.columns if features[c].iloc[rows].isna().all()]
        if empty:
            self._leave_out(empty)
            features = features.drop(columns=empty)
        target = np.log1p(d.days[rows])
        leaf = min(self.min_samples_leaf, max(3, len(rows) // 40))
        self.boosters_ = [
            HistGradientBoostingRegressor(
                loss="quantile",
                quantile=float(level),
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=leaf,
                categorical_features="from_dtype",
                early_stopping=False,
                random_state=self.random_state,
            ).fit(features.iloc[rows], target, sample_weight=weights[rows])
            for level in levels
        ]
        self.shift_ = np.zeros(len(levels))
        recent = ~older
        if self.censored == "dropped":
            recent &= d.delivered
        if self.calibration_days > 0 and recent.sum() >= MIN_LINES:
            raw = self._raw(features.iloc[np.flatnonzero(recent)])
            seen = np.log1p(d.days[recent])
            for i, level in enumerate(levels):
                shift = km_quantiles(seen - raw[:, i], d.delivered[recent], np.array([level]))
                self.shift_[i] = shift[0]
        elif self.calibration_days > 0:
            self._note(
                f"{int(recent.sum())} lines in the newest {self.calibration_days} days, under "
                f"{MIN_LINES}: quantiles left unshifted"
            )
        return self

    def _weights(self, d: Durations, open_for: np.ndarray, older: np.ndarray) -> np.ndarray:
        """Per line, its weight for the boosters (0: not learnt from)."""
        if self.censored == "dropped":
            return d.delivered.astype(float)
        # G(s) among the boosters' lines: the share ordered at least s days before as_of.
        horizon = np.sort(open_for[older])
        share = 1 - np.searchsorted(horizon, d.days, side="right") / max(len(horizon), 1)
        return np.where(d.delivered, 1 / np.maximum(share, 1 / MAX_WEIGHT), 0.0)

    def _note(self, text: str) -> None:
        logger.info("delivery-time model: %s", text)
        self.notes_.append(text)

    def _columns(self, lines: pd.DataFrame) -> None:
        """The attributes learnt from: FeatureSpace's numeric and categorical columns (what
        a line has when ordered: no dates, ids or outcomes). Not the order month: within a
        window of a year or two it tells how long a line has been open, so the censoring
        weights, which assume the time open says nothing of the line's own speed, would
        not hold within a month (on a synthetic history without seasons the boosters
        found the newest months fast and the oldest slow, 3 points over the levels)."""
        space = FeatureSpace(lines)
        self.numeric_ = [c for c in space.numeric if c not in NOT_FEATURES]
        self.categorical_ = {c: v for c, v in space.categorical.items() if c not in NOT_FEATURES}

    def _leave_out(self, columns: list[str]) -> None:
        """Learn from every attribute but ``columns``."""
        self.numeric_ = [c for c in self.numeric_ if c not in columns]
        self.categorical_ = {c: v for c, v in self.categorical_.items() if c not in columns}

    def _frame(self, lines: pd.DataFrame) -> pd.DataFrame:
        """The boosters' features of ``lines``; a column the lines lack is missing, a
        category unseen in training is missing."""
        out = pd.DataFrame(index=range(len(lines)))
        for column in self.numeric_:
            values = lines[column] if column in lines.columns else pd.Series(np.nan, lines.index)
            # As the at-risk features read them: "True" from a CSV is 1, as true from JSON.
            out[column] = _as_numbers(values).to_numpy()
        for column, categories in self.categorical_.items():
            texts = (
                lines[column].astype(str).to_numpy()
                if column in lines.columns
                else np.full(len(lines), None, dtype=object)
            )
            out[column] = pd.Categorical(texts, categories=categories)
        return out

    def _raw(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([b.predict(features) for b in self.boosters_])

    def quantile_days(self, lines: pd.DataFrame) -> np.ndarray:
        """Per line (rows) and level (columns), days from order to delivery; non-decreasing
        in the level."""
        if not hasattr(self, "boosters_"):
            raise ConfigError("the delivery-time model is not fitted: call fit first")
        if lines.empty:
            return np.zeros((0, len(self.levels)))
        shifted = self._raw(self._frame(lines)) + self.shift_
        return np.expm1(np.maximum(np.sort(shifted, axis=1), 0.0))

    def p_delivered_within(self, lines: pd.DataFrame, days: np.ndarray) -> np.ndarray:
        """P(delivered within ``days[i, j]`` days of its order) of line ``i``: the levels
        interpolated on log(1 + days), 0 at 0 days, and the top level beyond the top
        quantile (the model says nothing past it). ``days``: one row per line."""
        days = np.asarray(days, dtype=float)
        quantiles = np.log1p(self.quantile_days(lines))
        levels = np.asarray(self.levels, dtype=float)
        out = np.empty(days.shape)
        x = np.log1p(np.maximum(days, 0.0))
        for i in range(len(quantiles)):
            # Equal quantiles (a flat step) would make interp ambiguous: nudge apart.
            q = np.maximum(quantiles[i], 1e-6) + np.arange(len(levels)) * 1e-9
            out[i] = np.interp(x[i], np.concatenate([[0.0], q]), np.concatenate([[0.0], levels]))
        return out


def fit_delivery_time(
    orders: pd.DataFrame, as_of: pd.Timestamp | str, random_state: int = 0
) -> DeliveryTimeModel | None:
    """A :class:`DeliveryTimeModel` fitted at ``as_of``, or None when the history is too
    short for one (the reason logged): a model with None quotes from the at-risk curve."""
    try:
        return DeliveryTimeModel(random_state=random_state).fit(orders, as_of=as_of)
    except DataContractError as error:
        logger.warning("no delivery-time model: %s", error)
        return None


def _window(orders: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """The lines with a real order date in the ``window_days`` before ``as_of``."""
    keep = (orders["order_date"] < as_of) & (
        orders["order_date"] >= as_of - pd.Timedelta(days=window_days)
    )
    if "order_date_imputed" in orders.columns:
        keep &= ~orders["order_date_imputed"].astype(bool)
    return orders[keep].reset_index(drop=True)
