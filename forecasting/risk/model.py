"""The at-risk model: calibrated late-delivery probability, expected delay and reasons.

Gradient boosting (scikit-learn ``HistGradientBoostingClassifier``; categorical
attributes enter as their as-of track records, so no target encoding can leak), three
fits with different seeds averaged, is fitted on the older 80% of the training
snapshots; a calibration is fitted on the newest 20%, a later time slice the boosters
never saw. Platt (sigmoid) calibration is the default: it keeps the booster's ranking
intact, where isotonic calibration (available) flattens score ranges into ties and on
SCMS cost ranking quality (benchmarks/risk.py); the lane late-rate baseline it is
measured against is in :mod:`forecasting.risk.baselines`.

The estimator follows scikit-learn's shape (parameters stored as given, learned state
ending in ``_`` and set by ``fit``, ``clone`` works) with one documented deviation: the
labels are not a ``y`` but come from ``X``'s dates as known at ``as_of``, a required
keyword of ``fit``. Lines are scored by :meth:`AtRiskModel.score_lines` (scikit-learn's
``score`` returns one number).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.frozen import FrozenEstimator

from forecasting.errors import ConfigError, DataContractError
from forecasting.risk.actions import best_actions
from forecasting.risk.bands import check_bands, risk_band
from forecasting.risk.compiled_trees import CompiledBooster, compile_booster, same_encoding
from forecasting.risk.delivery_time import fit_delivery_time
from forecasting.risk.features import (
    RATE_SUFFIXES,
    FeatureSpace,
    open_book_snapshots,
    scoring_snapshots,
    training_snapshots,
)
from forecasting.risk.labels import delay_days
from forecasting.risk.line_features import RECORD_CHOICES, day_features, line_space
from forecasting.risk.memory import HistoryMemory
from forecasting.risk.overdue import overdue_delay
from forecasting.risk.reasons import (
    NOTHING_STANDS_OUT,
    days_in_words,
    explain,
    occluded_batch,
    phrase,
)
from forecasting.risk.seed_average import SeedAverage
from forecasting.risk.split_features import booster_order, split_features
from forecasting.risk.validation import check_orders
from forecasting.threads import prediction_threads

logger = logging.getLogger(__name__)
# Fewer training snapshots than this: simpler trees (chosen as a guard, not tuned: at the
# default 31 leaves of 20 lines a booster on a few hundred snapshots memorises them).
SMALL_HISTORY = 2000
# Open-book calibration snapshots kept at most (a long history's book, weekly, is large).
MAX_CALIBRATION_SNAPSHOTS = 100_000
# The record p_late is blended with (``record_weight``), the first the model has: the site's
# by shipment mode, else by region, else the site's own. Walked forward on SCMS the
# boosters gave open lines too little risk when lateness rose (development: mean p_late
# 0.092 against 0.142 late); the route's recent late rate follows such a rise at once.
BLEND_RECORDS = ("route_late_rate", "lane_late_rate", "site_late_rate")
OUTPUT_COLUMNS = [
    "order_id",
    "line_id",
    "promised_date",
    "p_late",
    "risk_band",
    "expected_delay_days",
    "delay_p50_days",
    "delay_p90_days",
    "reason_1",
    "reason_2",
    "reason_3",
    "action",
]


class AtRiskModel(BaseEstimator):
    """Late-delivery risk of open order lines.

    The defaults are the service's default profile ("queue",
    :data:`forecasting.risk.walk_forward.QUEUE_PARAMS`): no calibration slice, p_late is
    the boosters' own probability. (Until 2026-12-03 they held out an open-book
    calibration slice, which neither profile uses; on SCMS's frozen 2014 split that scored
    ROC-AUC 0.752 against the queue profile's 0.836.)

    Parameters: ``tolerance_days`` (late = delivered after promise + tolerance),
    ``bands`` (p_late thresholds for medium and high), ``max_iter`` / ``learning_rate``
    of the booster and its ``max_leaf_nodes`` / ``min_samples_leaf`` /
    ``l2_regularization``, ``calibration`` (``"sigmoid"`` or ``"isotonic"``),
    ``calibration_share`` (newest share of snapshots kept for calibration; 0, the default:
    none, the boosters learn from every snapshot and p_late is their own probability),
    ``calibrate_on`` (``"open_book"``: the calibration learns from the open book as it
    stood each week over that newest share, every line open then and not yet overdue,
    which is what the service scores; ``"snapshots"``: from the newest training snapshots
    themselves, one or a few per line; the default),
    ``complete_cohorts`` (train only on lines promised before the training date, all of
    whose outcomes are known, rather than also on the early deliveries among the lines
    promised later; on by default), ``lookahead_days`` (also learn from snapshots up to
    this many days before a line was ordered, as an evaluation scores lines ordered
    after its split), ``n_models`` (boosters averaged over seeds), ``max_fit_snapshots``
    (the boosters learn from at most this many training snapshots, drawn at random, once
    there are more; None: all), ``random_state``; and which features describe the line
    (:mod:`forecasting.risk.line_features`): ``raw_categories`` (every categorical
    attribute enters the boosters as a category, not only the site), ``records``
    (``"all"`` track records, ``"split"``: only those of groups no value of which holds
    most lines, ``"none"``), ``site_load`` (the site's load on the scoring day) and
    ``clock`` (the line's time left, age and days until ordered at the scoring moment);
    ``record_weight`` (the share of p_late taken from the line's route record, its late
    rate over the last 365 days as of the scoring moment, rather than from the boosters:
    :data:`BLEND_RECORDS` names the record; 0, the default: the boosters' alone),
    ``monotone_records`` (the boosters' p_late non-decreasing in every track record's late
    rate, the columns ending in :data:`RATE_SUFFIXES`: a worse record never lowers a
    line's risk; off by default, on in the "line" profile), ``delivery_time`` (also fit
    the delivery-time model promise dates are quoted from, ``delivery_time_``; off where
    only p_late is read, as in the training's evaluation window and the walk-forward: its
    quantile boosters cost about as much as the at-risk model's own).

    Learned state (after :meth:`fit`): ``space_`` (feature space), ``features_`` (the
    boosters' columns, categorical first), ``used_features_`` (the columns some tree
    splits on), ``booster_``, ``model_`` (calibrated), ``delay_model_``, ``mean_delay_``,
    ``reference_``, ``base_rate_``, ``trained_as_of_``, ``memory_`` (the settled lines
    remembered, brought up to date without retraining by :meth:`with_history`),
    ``record_column_`` (the record ``record_weight`` blends in; None: no blend).
    """

    # A model pickled before this parameter existed has no such attribute: it reads this
    # (for get_params and repr; it was fitted on every snapshot).
    max_fit_snapshots: int | None = None
    calibrate_on: str = "snapshots"
    raw_categories: bool = False
    records: str = "all"
    site_load: bool = True
    clock: bool = True
    record_weight: float = 0.0
    monotone_records: bool = False
    delivery_time: bool = True

    def __init__(
        self,
        tolerance_days: int = 0,
        bands: tuple[float, float] = (0.2, 0.5),
        max_iter: int = 100,
        learning_rate: float = 0.05,
        calibration_share: float = 0.0,
        random_state: int = 0,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        calibration: str = "sigmoid",
        complete_cohorts: bool = True,
        lookahead_days: int = 365,
        n_models: int = 3,
        # Chosen on the validation window before the gate's (benchmarks/risk_snapshots.py):
        # on the demo history (632,000 snapshots to fit) 300,000 scored as all of them did
        # (Brier 0.0113 against 0.0117), 150,000 worse (0.0140); histories with fewer
        # snapshots (SCMS, about 10,000 lines) are untouched.
        max_fit_snapshots: int | None = 300_000,
        calibrate_on: str = "snapshots",
        raw_categories: bool = False,
        records: str = "all",
        site_load: bool = True,
        clock: bool = True,
        record_weight: float = 0.0,
        monotone_records: bool = False,
        delivery_time: bool = True,
    ) -> None:
        self.tolerance_days = tolerance_days
        self.bands = bands
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.calibration_share = calibration_share
        self.random_state = random_state
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.complete_cohorts = complete_cohorts
        self.lookahead_days = lookahead_days
        self.n_models = n_models
        self.max_fit_snapshots = max_fit_snapshots
        self.calibrate_on = calibrate_on
        self.raw_categories = raw_categories
        self.records = records
        self.site_load = site_load
        self.clock = clock
        self.record_weight = record_weight
        self.monotone_records = monotone_records
        self.delivery_time = delivery_time

    def fit(
        self, X: pd.DataFrame, y: None = None, *, as_of: pd.Timestamp | str | None = None
    ) -> AtRiskModel:
        """Learn from the order lines ``X`` whose outcome was known at ``as_of``; ``self``.

        ``as_of`` is required, as a keyword. ``y`` must be None: the labels come from
        ``X``'s promised and delivered dates as known at ``as_of`` (so an old
        ``fit(orders, as_of)`` call, which passes the date as ``y``, is a clear error).
        """
        if y is not None or as_of is None:
            raise ConfigError(
                "AtRiskModel learns its labels from the order dates as known at as_of; "
                f"call fit(orders, as_of=...) without y (got y={y!r:.40}, as_of={as_of!r:.40})"
            )
        orders = X
        as_of = pd.Timestamp(as_of)
        check_bands(self.bands)
        if self.calibrate_on not in ("open_book", "snapshots"):
            raise ConfigError(f"calibrate_on '{self.calibrate_on}': use 'open_book' or 'snapshots'")
        if not 0.0 <= self.record_weight <= 1.0:
            raise ConfigError(f"record_weight {self.record_weight}: use a share from 0 to 1")
        if self.records not in RECORD_CHOICES:
            raise ConfigError(f"records '{self.records}': use one of {', '.join(RECORD_CHOICES)}")
        check_orders(orders, as_of)
        history = orders[orders["order_date"] < as_of]
        snaps = training_snapshots(
            history, as_of, self.tolerance_days, self.complete_cohorts, self.lookahead_days
        )
        if snaps["label"].nunique() < 2:
            raise DataContractError.from_message(
                f"as of {as_of:%Y-%m-%d} the history has {len(snaps)} labelled lines and not both "
                "late and on-time ones; train on a later date or a longer history"
            )
        self.base_rate_ = float(snaps["label"].to_numpy(int).mean())
        order = np.argsort(snaps["moment"].to_numpy(), kind="stable")
        cut = int(len(order) * (1 - self.calibration_share))
        fit_idx, cal_idx = order[:cut], order[cut:]
        self.fit_notes_: list[str] = []
        if self.calibrate_on == "open_book" and 0 < cut < len(order):
            snaps, fit_idx, cal_idx = self._open_book_calibration(history, as_of, snaps, order, cut)
        if len(np.unique(snaps["label"].to_numpy()[fit_idx])) < 2:
            # A short history: the older part alone has one outcome. Every labelled
            # snapshot trains the boosters; the probabilities stay uncalibrated.
            fit_idx, cal_idx = order, order[:0]
            self._note("too few late lines to keep a calibration slice: p_late is uncalibrated")
        fit_idx = _sample(fit_idx, self.max_fit_snapshots, self.random_state)
        snaps, (fit_idx, cal_idx) = _kept(snaps, fit_idx, cal_idx)
        self.space_ = line_space(
            FeatureSpace(history, self.tolerance_days), history, self.raw_categories, self.records
        )
        features = self.space_.frame(history, snaps, history)
        features = features.drop(columns=day_features(features, self.site_load, self.clock))
        # The boosters' own column order (categorical first): the same fits, and the order
        # split_features reads their trees in. A feature with no value in the lines the
        # boosters learn from (an attribute a short history barely fills) is left out.
        empty = features.iloc[fit_idx].isna().all()
        if empty.any():
            self._note(
                f"left out {int(empty.sum())} feature(s) with no value in the training lines: "
                + ", ".join(empty.index[empty])
            )
        self.features_ = booster_order(features.loc[:, ~empty])
        features = features[self.features_]
        self.record_column_ = self._record_column()
        labels = snaps["label"].to_numpy(int)
        leaves, leaf_size = self.max_leaf_nodes, self.min_samples_leaf
        if len(fit_idx) < SMALL_HISTORY:
            leaves, leaf_size = min(leaves, 8), min(leaf_size, max(3, len(fit_idx) // 40))
            self._note(
                f"small history ({len(fit_idx):,} training snapshots, under {SMALL_HISTORY:,}): "
                f"simpler trees ({leaves} leaves, at least {leaf_size} lines a leaf)"
            )
        booster = SeedAverage(
            HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=leaves,
                min_samples_leaf=leaf_size,
                l2_regularization=self.l2_regularization,
                categorical_features="from_dtype",
                monotonic_cst=self._monotonic(),
            ),
            n_models=self.n_models,
            random_state=self.random_state,
        ).fit(features.iloc[fit_idx], labels[fit_idx])
        self.booster_ = booster
        self.used_features_ = split_features(booster.estimators_, features)
        if len(np.unique(labels[cal_idx])) == 2:
            self.model_ = CalibratedClassifierCV(FrozenEstimator(booster), method=self.calibration)
            self.model_.fit(features.iloc[cal_idx], labels[cal_idx])
        else:
            self.model_ = booster
        self.reference_ = _reference_row(features.iloc[fit_idx])
        delays = delay_days(history.loc[snaps["row"]]).to_numpy()
        late_known = (labels == 1) & np.isfinite(delays)
        # The delay model learns from the late lines only: their own columns with values.
        self.delay_features_ = [
            c for c in self.features_ if features.loc[late_known, c].notna().any()
        ]
        self.delay_model_ = (
            HistGradientBoostingRegressor(
                max_iter=100, categorical_features="from_dtype", random_state=self.random_state
            ).fit(
                features.loc[late_known, self.delay_features_], np.clip(delays[late_known], 1, None)
            )
            if late_known.sum() > 20
            else None
        )
        self.mean_delay_ = float(np.nanmean(delays[late_known])) if late_known.any() else 1.0
        self.trained_as_of_ = as_of
        self.memory_ = HistoryMemory(history, as_of, self.space_.groups, self.tolerance_days)
        # How long a new line takes, which promises are quoted from (None: too short a history).
        self.delivery_time_ = (
            fit_delivery_time(orders, as_of, self.random_state) if self.delivery_time else None
        )
        return self

    def _monotonic(self) -> dict[str, int] | None:
        """With ``monotone_records``: the boosters' p_late may only rise with a track
        record's late rate (a worse record never lowers a line's risk)."""
        if not self.monotone_records:
            return None
        return {c: 1 for c in self.features_ if c.endswith(RATE_SUFFIXES)}

    def _open_book_calibration(
        self,
        history: pd.DataFrame,
        as_of: pd.Timestamp,
        snaps: pd.DataFrame,
        order: np.ndarray,
        cut: int,
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """The training snapshots with open-book calibration snapshots appended (weekly from
        the moment of the newest training share to ``as_of``), and the positions the
        boosters and the calibration learn from. A line in the calibration book leaves the
        boosters' part: calibrated on lines they learnt, the scores would look surer than
        they are."""
        start = pd.Timestamp(snaps["moment"].iloc[order[cut]])
        book = open_book_snapshots(
            history, as_of, start, self.tolerance_days, self.complete_cohorts
        )
        book = book.iloc[
            _sample(np.arange(len(book)), MAX_CALIBRATION_SNAPSHOTS, self.random_state)
        ]
        if book["label"].nunique() < 2:
            return snaps, order[:cut], order[cut:]
        fit_idx = order[:cut][~snaps["row"].iloc[order[:cut]].isin(book["row"]).to_numpy()]
        combined = pd.concat([snaps, book], ignore_index=True)
        return combined, fit_idx, np.arange(len(snaps), len(combined))

    def _record_column(self) -> str | None:
        """The feature ``record_weight`` blends in (:data:`BLEND_RECORDS`), None without a
        weight or when the model has none of those records (noted)."""
        if self.record_weight == 0:
            return None
        column = next((c for c in BLEND_RECORDS if c in self.features_), None)
        if column is None:
            self._note(
                f"record_weight {self.record_weight} left unused: the history has none of "
                f"the records it blends in ({', '.join(BLEND_RECORDS)})"
            )
        return column

    def _blended(self, p: np.ndarray, record: np.ndarray | None) -> np.ndarray:
        """``p`` with the ``record_weight`` share taken from ``record`` (the line's record,
        :attr:`record_column_`; a line without one keeps ``p``)."""
        if record is None:
            return p
        blended = (1 - self.record_weight) * p + self.record_weight * record
        return np.where(np.isnan(record), p, blended)

    def _record(self, features: pd.DataFrame) -> np.ndarray | None:
        """The blended record of each line of ``features`` (None: no blend)."""
        column = getattr(self, "record_column_", None)
        return None if column is None else features[column].to_numpy(float)

    def _note(self, text: str) -> None:
        """Say what a short history made the fit leave out (kept in ``fit_notes_``)."""
        logger.warning("at-risk model: %s", text)
        self.fit_notes_.append(text)

    def with_history(self, orders: pd.DataFrame, as_of: pd.Timestamp | str) -> AtRiskModel:
        """A copy of this fitted model that remembers ``orders`` as known at ``as_of``.

        ``orders`` is the whole history as it stands now (old and new lines, deliveries
        filled in since training), ``as_of`` a date on or after the training date
        (``trained_as_of_``); the model itself is unchanged. No retraining: the refresh
        between two trainings, at the cost of reading the history once (no snapshots, no
        boosting).

        Refreshed (rebuilt from ``orders``, as :meth:`fit` builds it): ``memory_``, the lines
        delivered before ``as_of`` and so every track record (vendor, lane, site, carrier
        ... late rates over the year, 90 days and all time), each site's open-work flows,
        and the daily released/shipped work from which the site load features (capacity
        estimate, arrival rates, backlog at the promised date) are computed when a batch
        is scored.

        Not refreshed, because they are part of the fitted estimator and change only with a
        training: the boosters and their calibration (``booster_``, ``model_``), the delay
        model, the risk bands, the feature space (``space_``: columns and the sites known as
        categories), ``reference_`` (the typical feature values the reasons are measured
        against, those of the training snapshots the boosters learned from),
        ``base_rate_``, ``mean_delay_`` and ``trained_as_of_``.

        Raises :class:`ConfigError` when the model is not fitted or ``as_of`` is before its
        training date (a refresh moves the memory forward, it does not rewind it).
        """
        if not hasattr(self, "space_"):
            raise ConfigError("with_history needs a fitted AtRiskModel: call fit first")
        as_of = pd.Timestamp(as_of)
        if as_of < self.trained_as_of_:
            raise ConfigError(
                f"as-of date {as_of:%Y-%m-%d} is before the model's training date "
                f"{self.trained_as_of_:%Y-%m-%d}; refresh with the history as it is now"
            )
        check_orders(orders, as_of)
        history = orders[orders["order_date"] < as_of]
        fresh = copy.copy(self)
        fresh.memory_ = HistoryMemory(history, as_of, self.space_.groups, self.tolerance_days)
        return fresh

    def __getstate__(self) -> dict[str, Any]:
        # The compiled boosters are rebuilt from the boosters on first use: not saved.
        state = dict(super().__getstate__())
        state.pop("_compiled_trees", None)
        return state

    def _compiled(self) -> _Compiled | None:
        """The boosters and the delay model compiled (:mod:`forecasting.risk.compiled_trees`),
        built on first use and kept; None when they cannot be (their own predict serves)."""
        kept = self.__dict__.get("_compiled_trees")
        if kept is not None and kept.matches(self):
            return kept if kept.usable else None
        compiled = _Compiled(self)
        self.__dict__["_compiled_trees"] = compiled
        return compiled if compiled.usable else None

    def predict_proba_frame(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated p_late of a feature frame.

        The boosters run once; the calibration maps their score (what
        ``CalibratedClassifierCV.predict_proba`` does, without running them a second
        time). Isotonic calibration maps whole score ranges to one probability; within
        such a plateau the boosters' score still ranks the lines, so it breaks the ties
        (moving p_late by at most 1e-6, far below anything calibration can resolve).
        """
        compiled = self._compiled()
        if compiled is None:
            raw = self.booster_.predict_proba(features[self.features_])[:, 1]
        else:
            encoded = compiled.boosters[0].encode(features)
            # SeedAverage.predict_proba's own mean, of the same probabilities.
            raw = np.mean([b.predict_proba(encoded) for b in compiled.boosters], axis=0)[:, 1]
        return self._blended(self._calibrated(raw), self._record(features))

    def occlusion_scores(
        self,
        features: pd.DataFrame,
        occlude: list[list[str]],
        encoded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """p_late of the lines of ``features`` and, per entry ``j`` of ``occlude`` (lists of
        columns), the calibrated score of every line by the first booster alone with those
        columns set to their typical values (``reference_``): shape ``(len(occlude), n)``.
        From these the reasons are measured.

        One booster answers for the occlusion: the seeds' boosters agree on what drives a
        line, and running all of them over every occluded copy tripled the cost of a
        request's reasons. A line whose occluded copy is the line itself (its values are
        the typical ones) is not scored again: its copy's score is the line's own. The
        copies that differ are scored in one call. ``encoded``: the boosters' encoding of
        ``features``, when the caller has it.
        """
        compiled = self._compiled()
        if compiled is None:
            return self._occlusion_scores_public(features, occlude)
        n = len(features)
        boosters = compiled.boosters
        if encoded is None:
            encoded = boosters[0].encode(features)
        position = {column: j for j, column in enumerate(boosters[0].columns)}
        blocks: list[tuple[int, np.ndarray, np.ndarray]] = []  # (entry, rows, their copies)
        for j, group in enumerate(occlude):
            names = [c for c in group if c in position]
            if not names:
                continue
            columns = [position[c] for c in names]
            typical = np.array([self._typical_code(compiled, features, c) for c in names])
            values = encoded[:, columns]
            same = (values == typical) | (np.isnan(values) & np.isnan(typical))
            rows = np.flatnonzero(~same.all(axis=1))
            copies = encoded[rows]
            copies[:, columns] = typical
            blocks.append((j, rows, copies))
        stacked = np.vstack([encoded, *(copies for _, _, copies in blocks)])
        first = boosters[0].predict_proba(stacked)[:, 1]
        others = [b.predict_proba(encoded)[:, 1] for b in boosters[1:]]
        raw = (first[:n] + np.sum(others, axis=0)) / len(boosters) if others else first[:n]
        scored = self._calibrated(first)
        by_one = np.tile(scored[:n], (len(occlude), 1))
        at = n
        for j, rows, copies in blocks:
            by_one[j, rows] = scored[at : at + len(copies)]
            at += len(copies)
        return self._blended_occlusion(features, occlude, self._calibrated(raw), by_one)

    def _typical_code(self, compiled: _Compiled, features: pd.DataFrame, column: str) -> float:
        """The encoded typical value of ``column`` as an occluded copy holds it (a category
        outside the frame's categories is missing, as a copy of the frame would have it)."""
        typical = self.reference_.get(column, np.nan)
        values = features[column]
        if column not in compiled.boosters[0].categorical:
            return float(typical)  # type: ignore[arg-type]  # a median: a number or NaN
        if isinstance(values.dtype, pd.CategoricalDtype) and typical not in values.cat.categories:
            return np.nan
        return compiled.boosters[0].code(column, typical)

    def _occlusion_scores_public(
        self, features: pd.DataFrame, occlude: list[list[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`occlusion_scores` through the boosters' own predict, every copy scored."""
        lines = len(features)
        batch = occluded_batch(features, self.features_, occlude, self.reference_)
        boosters = self.booster_.estimators_
        with prediction_threads(len(batch)):
            first = boosters[0].predict_proba(batch)[:, 1]
            others = [b.predict_proba(batch.iloc[:lines])[:, 1] for b in boosters[1:]]
        raw = (first[:lines] + np.sum(others, axis=0)) / len(boosters) if others else first[:lines]
        by_one = self._calibrated(first).reshape(len(occlude), lines)
        return self._blended_occlusion(features, occlude, self._calibrated(raw), by_one)

    def _blended_occlusion(
        self, features: pd.DataFrame, occlude: list[list[str]], p: np.ndarray, by_one: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``p`` and the occluded scores with the record blended in (:meth:`_blended`); the
        copies that occlude the blended record blend its typical value, so the reasons
        weigh the record's whole part in p_late."""
        column = getattr(self, "record_column_", None)
        if column is None:
            return p, by_one
        record = features[column].to_numpy(float)
        median = self.reference_.get(column, np.nan)  # a record's rate: a number or NaN
        typical = np.full(len(record), float(median))  # type: ignore[arg-type]
        rows = [
            self._blended(row, typical if column in group else record)
            for row, group in zip(by_one, occlude, strict=True)
        ]
        return self._blended(p, record), np.vstack(rows)

    def _delay_if_late(
        self, features: pd.DataFrame, encoded: np.ndarray | None = None
    ) -> np.ndarray:
        """Expected days late of each line if it is late (the delay model's, at least 1);
        ``encoded``: the boosters' encoding of ``features``, used when the delay model
        encodes alike."""
        if self.delay_model_ is None:
            return np.full(len(features), self.mean_delay_)
        compiled = self._compiled()
        columns = getattr(self, "delay_features_", self.features_)
        if compiled is not None and compiled.delay is not None:
            if encoded is None or not same_encoding([compiled.boosters[0], compiled.delay]):
                encoded = compiled.delay.encode(features)
            delay = compiled.delay.predict(encoded)
        else:
            with prediction_threads(len(features)):
                delay = self.delay_model_.predict(features[columns])
        return np.clip(delay, 1, None)

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        """The calibration's map of the boosters' score (see :meth:`predict_proba_frame`)."""
        if self.model_ is self.booster_:
            return raw
        calibrated = np.mean(
            [fitted.calibrators[0].predict(raw) for fitted in self.model_.calibrated_classifiers_],
            axis=0,
        )
        return np.clip(calibrated + 1e-6 * (raw - 0.5), 0.0, 1.0)

    def feature_frame(
        self, orders: pd.DataFrame, as_of: pd.Timestamp | str, *, batch_history: bool = True
    ) -> pd.DataFrame:
        """The features of the lines open at ``as_of``, in the row order of
        :meth:`score_lines` (``batch_history`` as there)."""
        as_of = pd.Timestamp(as_of)
        check_orders(orders, as_of, is_history=batch_history or self.memory_ is None)
        snaps = scoring_snapshots(orders, as_of)
        history, memory = self._history(orders, as_of, batch_history)
        return self.space_.frame(orders, snaps, history, memory)[self.features_]

    def _history(
        self, orders: pd.DataFrame, as_of: pd.Timestamp, batch_history: bool = True
    ) -> tuple[pd.DataFrame, HistoryMemory | None]:
        """The batch's own history before ``as_of`` and the remembered book it lacks.

        With ``batch_history`` a file of the whole history brings the lines since the
        memory's date, and its delivered lines the memory holds count once; the memory's
        open lines are the file's to bring (as they stand now: a line the memory saw
        open may have been delivered since, which only the file can say). Without it (the
        API) the batch brings nothing: every record and every site's load is the
        memory's, so a line's score does not depend on what else the request carries.
        """
        history = orders[orders["order_date"] < as_of]
        if self.memory_ is None:  # a model stripped of its memory scores the batch alone
            return history, None
        if not batch_history:
            return history.iloc[:0], self.memory_
        return history[self.memory_.unseen(history)], self.memory_.settled_view()

    def known_sites(self) -> frozenset[str] | None:
        """The sites the model's memory holds lines of, or None for a model without a
        memory (it scores each batch from the batch alone). A line at any other site has
        neither load nor track record: the boosters would score it as a quiet site."""
        memory = getattr(self, "memory_", None)  # an unfitted model has none yet
        return None if memory is None else memory.sites()

    def score_lines(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp | str,
        snapshots: pd.DataFrame | None = None,
        *,
        batch_history: bool = True,
        actions: bool = True,
    ) -> pd.DataFrame:
        """Risk of every line open at ``as_of`` (or of the given snapshots), with reasons.

        One row per line (``OUTPUT_COLUMNS``): p_late, its band, the expected delay in
        days and up to three reasons; every line has a first reason, or says that no
        single factor stands out. A line past its promise (plus tolerance) and still
        undelivered at its moment is late for certain: p_late 1, band "overdue", and
        how late instead (``delay_p50_days``, ``delay_p90_days``: total days late at
        delivery, :mod:`forecasting.risk.overdue`); these two are empty for other lines.
        One already delivered late before its moment (only snapshots a caller gives can
        hold one) is overdue by the days it was: those delays, not an estimate.
        A line already delivered by its promise (plus tolerance) before its moment is on
        time for certain: p_late 0, band "delivered" (the service reports such lines
        apart, :mod:`forecasting.risk.line_status`; a walk or an evaluation scores every
        line of its window, some delivered early, and the boosters, blind to a delivery,
        gave them the risk of an open line).
        ``batch_history``: see :meth:`_history` (False: scores from the memory alone).
        ``actions``: also say, for each high-band line, what would lower its risk
        (:mod:`forecasting.risk.actions`; empty when False: it rescores every such line
        a few times over).
        """
        as_of = pd.Timestamp(as_of)
        check_orders(orders, as_of, is_history=batch_history or self.memory_ is None)
        snaps = scoring_snapshots(orders, as_of) if snapshots is None else snapshots
        if snaps.empty:
            return pd.DataFrame(columns=OUTPUT_COLUMNS)
        history, memory = self._history(orders, as_of, batch_history)
        features = self.space_.frame(orders, snaps, history, memory)
        lines = orders.loc[snaps["row"].to_numpy()].reset_index(drop=True)
        compiled = self._compiled()
        encoded = compiled.boosters[0].encode(features) if compiled is not None else None
        p, reasons = explain(self, features, lines=lines, encoded=encoded)
        delay_if_late = self._delay_if_late(features, encoded)
        n = len(p)
        # The columns as arrays, the overdue lines' filled in place, framed once (setting
        # rows of a frame column by column cost more than scoring a small request).
        out: dict[str, np.ndarray] = {
            "order_id": lines["order_id"].to_numpy(),
            "line_id": lines["line_id"].to_numpy(),
            "promised_date": lines["promised_date"].to_numpy(),
            "p_late": np.round(p, 4),
            "risk_band": risk_band(p, self.bands).astype(object),
            "expected_delay_days": np.round(p * delay_if_late, 2),
            "delay_p50_days": np.full(n, np.nan),
            "delay_p90_days": np.full(n, np.nan),
        }
        for k, said in enumerate(reasons[:3]):
            out[f"reason_{k + 1}"] = _objects(said)
        moments = pd.to_datetime(snaps["moment"]).dt.normalize().reset_index(drop=True)
        due = lines["promised_date"] + pd.Timedelta(days=self.tolerance_days)
        # check_orders made sure of the column; NaT (open) compares False.
        delivered = lines["delivered_date"]
        done = (delivered < moments).to_numpy(bool)
        on_time = done & (delivered <= due).to_numpy(bool)
        overdue = (due < moments).to_numpy() & ~on_time
        # What would lower the risk, for the lines a planner acts on (the high band; an
        # overdue line is late whatever changes now, a delivered one is done).
        high = (risk_band(p, self.bands) == "high") & ~overdue & ~on_time & actions
        out["action"] = best_actions(self, lines, moments, high, (history, memory))
        # An overdue line already delivered (late) before its moment: how late is known,
        # not estimated (a walk or an evaluation; the service scores open lines).
        if (overdue & ~done).any():
            self._overdue(out, lines, moments, overdue & ~done, memory)
        if (overdue & done).any():
            _delivered_late(out, lines.loc[overdue & done], np.flatnonzero(overdue & done))
        if on_time.any():
            _delivered(out, delivered[on_time], np.flatnonzero(on_time))
        return pd.DataFrame(out)

    def _overdue(
        self,
        out: dict[str, np.ndarray],
        lines: pd.DataFrame,
        moments: pd.Series,
        overdue: np.ndarray,
        memory: HistoryMemory | None,
    ) -> None:
        """Fill the rows of overdue lines in ``out``'s columns: late for certain, and how
        late."""
        days_late = (moments - lines["promised_date"]).dt.days.to_numpy(float)[overdue]
        delays = getattr(memory, "delays", None)
        if delays is None:  # a model saved before the memory kept delays
            delays = pd.DataFrame({"site": [], "delay_days": []})
        elif isinstance(memory, HistoryMemory):
            delays = memory.delay_pools()  # sorted once per memory, not per request
        sites = lines.loc[overdue, "site"].astype(str)
        delay = overdue_delay(delays, sites, days_late)
        rows = np.flatnonzero(overdue)
        out["p_late"][rows] = 1.0
        out["risk_band"][rows] = "overdue"
        out["expected_delay_days"][rows] = np.round(delay.mean, 2)
        out["delay_p50_days"][rows] = np.round(delay.p50, 1)
        out["delay_p90_days"][rows] = np.round(delay.p90, 1)
        model_reason = out["reason_1"][rows]
        passed = [phrase("time_left_days", -d) for d in days_late]
        history = [
            f"late lines {'from ' + site if site else 'of every site'} already {days_late[k]:.0f}+ "
            f"days late were delivered a median of {delay.p50[k]:.0f} days late "
            f"({delay.lines[k]:,} lines)"
            if delay.lines[k]
            else "no late delivery on record to say how late"
            for k, site in enumerate(delay.site)
        ]
        out["reason_1"][rows] = _objects(passed)
        out["reason_2"][rows] = _objects(history)
        out["reason_3"][rows] = _objects(
            [
                "" if r == NOTHING_STANDS_OUT or "promised date passed" in str(r) else r
                for r in model_reason
            ]
        )


def _delivered(out: dict[str, np.ndarray], dates: pd.Series, rows: np.ndarray) -> None:
    """Fill the rows of lines delivered by their promise in ``out``'s columns: on time for
    certain, no delay, the delivery as the reason."""
    out["p_late"][rows] = 0.0
    out["risk_band"][rows] = "delivered"
    out["expected_delay_days"][rows] = 0.0
    _only_reason(out, rows, [f"delivered on {d:%Y-%m-%d}, by its promise" for d in dates])


def _delivered_late(out: dict[str, np.ndarray], lines: pd.DataFrame, rows: np.ndarray) -> None:
    """Fill the rows of overdue lines already delivered in ``out``'s columns: late for
    certain, by the days they were."""
    days = (lines["delivered_date"] - lines["promised_date"]).dt.days.to_numpy(float)
    out["p_late"][rows] = 1.0
    out["risk_band"][rows] = "overdue"
    out["expected_delay_days"][rows] = days
    out["delay_p50_days"][rows] = days
    out["delay_p90_days"][rows] = days
    said = [
        f"delivered on {d:%Y-%m-%d}, {days_in_words(n)} after its promise"
        for d, n in zip(lines["delivered_date"], days.tolist(), strict=True)
    ]
    _only_reason(out, rows, said)


def _only_reason(out: dict[str, np.ndarray], rows: np.ndarray, said: list[str]) -> None:
    """``said`` as the first reason of ``rows``, the other two empty (an outcome known)."""
    out["reason_1"][rows] = _objects(said)
    out["reason_2"][rows] = ""
    out["reason_3"][rows] = ""


def _objects(values: list[str]) -> np.ndarray:
    """A list of texts as a numpy object array (one text an element, whatever its length)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class _Compiled:
    """A fitted model's boosters and delay model compiled for prediction, with the
    estimators they were compiled from (a refit replaces those, and so these)."""

    def __init__(self, model: AtRiskModel) -> None:
        self.booster = model.booster_
        self.delay_model = model.delay_model_
        self.columns = list(model.features_)
        self.delay_columns = list(getattr(model, "delay_features_", model.features_))
        boosters = [compile_booster(b) for b in getattr(model.booster_, "estimators_", [])]
        self.boosters: list[CompiledBooster] = [b for b in boosters if b is not None]
        self.delay = compile_booster(model.delay_model_) if model.delay_model_ else None
        # One encoding serves every booster, in the model's feature order.
        self.usable = (
            bool(self.boosters)
            and len(self.boosters) == len(boosters)
            and same_encoding(self.boosters)
            and sorted(self.boosters[0].columns) == sorted(self.columns)
            and (model.delay_model_ is None or self.delay is not None)
        )

    def matches(self, model: AtRiskModel) -> bool:
        return self.booster is model.booster_ and self.delay_model is model.delay_model_


def _sample(rows: np.ndarray, most: int | None, random_state: int) -> np.ndarray:
    """At most ``most`` of ``rows``, drawn at random, in their given order."""
    if most is None or len(rows) <= most:
        return rows
    keep = np.random.default_rng(random_state).choice(len(rows), most, replace=False)
    return rows[np.sort(keep)]


def _kept(snaps: pd.DataFrame, *parts: np.ndarray) -> tuple[pd.DataFrame, tuple[np.ndarray, ...]]:
    """The snapshots some part keeps, in their original order, and each part's positions
    among them (the features are computed for those snapshots only)."""
    keep = np.zeros(len(snaps), dtype=bool)
    for part in parts:
        keep[part] = True
    rows = np.flatnonzero(keep)
    position = np.full(len(snaps), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return snaps.iloc[rows].reset_index(drop=True), tuple(position[part] for part in parts)


def _reference_row(features: pd.DataFrame) -> dict[str, object]:
    """A typical value per feature (median, or the most common category)."""
    reference: dict[str, object] = {}
    for column in features.columns:
        values = features[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            mode = values.mode(dropna=True)
            reference[column] = mode.iloc[0] if len(mode) else np.nan
        else:
            reference[column] = float(values.median()) if values.notna().any() else np.nan
    return reference
