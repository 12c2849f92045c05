"""The small-request path of the at-risk scorer gives the general path's numbers exactly.

A request scored from the model's memory alone reads its lines' records and site load from
per-day tables of every group (FeatureSpace._remembered), and the boosters predict from one
encoding of the frame (forecasting.risk.compiled_trees) with only the occluded copies that
differ from the line scored. Each shortcut is checked here against the path it replaces,
value for value, not within a tolerance.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from forecasting.queries import answer_risk
from forecasting.risk.features import scoring_snapshots
from forecasting.risk.memory import as_known_at
from forecasting.risk.model import OUTPUT_COLUMNS, AtRiskModel
from forecasting.risk.reasons import factors
from forecasting.synthetic import generate_orders
from forecasting.threads import PARALLEL_MIN_ROWS

# Every score column of an answer: all but the line's identity and the (opt-in) action.
SCORE = [c for c in OUTPUT_COLUMNS if c not in ("order_id", "line_id", "promised_date", "action")]


@pytest.fixture(scope="module")
def book() -> tuple[AtRiskModel, pd.DataFrame, pd.Timestamp]:
    history = generate_orders(sites=2, skus=30, days=260, seed=5).orders
    as_of = history["order_date"].min() + pd.Timedelta(days=220)
    model = AtRiskModel(delivery_time=False, max_iter=40, n_models=2).fit(history, as_of=as_of)
    model = pickle.loads(pickle.dumps(model))  # as a service holds it
    known = as_known_at(history, as_of)
    return model, known[known["delivered_date"].isna()].reset_index(drop=True), as_of


def odd_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Lines a caller may send: an unknown site and customer, missing attributes."""
    odd = lines.head(6).copy()
    odd["line_id"] = [f"ODD-{i}" for i in range(len(odd))]
    odd["site"] = odd["site"].astype(object)
    odd.loc[odd.index[0], "site"] = "SITE-NEW"
    odd["customer"] = odd["customer"].astype(object)
    odd.loc[odd.index[1], "customer"] = "nobody-seen"
    odd.loc[odd.index[2], "customer"] = np.nan
    odd.loc[odd.index[3], "weight_kg"] = np.nan
    return pd.concat([lines.astype({"site": object, "customer": object}), odd], ignore_index=True)


def test_day_tables_give_the_counted_features(book) -> None:
    model, lines, as_of = book
    lines = odd_lines(lines)
    # Several days in one call (a replay), including days the memory never saw.
    moments = [as_of, as_of - pd.Timedelta(days=9), as_of + pd.Timedelta(days=3)]
    snaps = pd.DataFrame(
        {
            "row": np.tile(lines.index, len(moments)),
            "moment": np.repeat(moments, len(lines)),
        }
    )
    empty = lines.iloc[:0]
    fast = model.space_.frame(lines, snaps, empty, model.memory_)
    counted = model.space_.frame(lines, snaps, empty, model.memory_, day_tables=False)
    pd.testing.assert_frame_equal(fast, counted, check_exact=True)
    assert fast["site_open_units"].gt(0).any() and fast["customer_late_rate"].notna().any()


def test_compiled_boosters_predict_as_the_boosters(book) -> None:
    model, lines, as_of = book
    lines = odd_lines(lines)
    features = model.feature_frame(lines, as_of, batch_history=False)
    assert model._compiled() is not None  # the demo-shaped model compiles
    public = model._calibrated(model.booster_.predict_proba(features[model.features_])[:, 1])
    np.testing.assert_array_equal(model.predict_proba_frame(features), public)
    delay = model.delay_model_.predict(features[model.delay_features_])
    np.testing.assert_array_equal(model._delay_if_late(features), np.clip(delay, 1, None))


def test_a_large_batch_cut_into_blocks_per_core_sums_as_one_thread(book) -> None:
    model, lines, as_of = book
    features = model.feature_frame(odd_lines(lines), as_of, batch_history=False)
    booster = model._compiled().boosters[0]
    encoded = booster.encode(features)
    # Rows enough for three blocks (a 1,000-line request's occluded copies are ~21,000).
    repeats = 3 * PARALLEL_MIN_ROWS // len(encoded) + 1
    tall = np.ascontiguousarray(np.tile(encoded, (repeats, 1)))
    one = booster.raw(tall, cores=1)
    np.testing.assert_array_equal(booster.raw(tall, cores=3), one)
    public = booster.estimator._raw_predict(features[booster.estimator.feature_names_in_])
    np.testing.assert_array_equal(one[: len(encoded)], public)


def test_occlusion_scores_only_the_copies_that_differ_and_says_the_same(book) -> None:
    model, lines, as_of = book
    features = model.feature_frame(odd_lines(lines), as_of, batch_history=False)
    # Some lines at the typical value of a factor: their copy is the line itself.
    features.loc[features.index[:5], "lead_time_days"] = model.reference_["lead_time_days"]
    occlude = [[], *factors(model.used_features_)]
    p, by_one = model.occlusion_scores(features, occlude)
    p_all, by_one_all = model._occlusion_scores_public(features, occlude)
    np.testing.assert_array_equal(p, p_all)
    np.testing.assert_array_equal(by_one, by_one_all)


def test_a_batch_scores_as_its_lines_one_by_one(book) -> None:
    model, lines, as_of = book
    lines = odd_lines(lines)
    last = len(lines) - 1  # the odd lines are the last ones
    rows = {*range(0, len(lines), max(1, len(lines) // 25)), last, last - 1, last - 2}
    sample = lines.iloc[sorted(rows)]
    together = answer_risk(model, sample, as_of, batch_history=False).set_index("line_id")
    for k in range(len(sample)):
        alone = answer_risk(model, sample.iloc[[k]], as_of, batch_history=False)
        line_id = sample["line_id"].iloc[k]
        pd.testing.assert_frame_equal(
            alone.set_index("line_id").loc[[line_id], SCORE], together.loc[[line_id], SCORE]
        )


def test_the_fast_path_scores_as_the_model_did_without_it(book) -> None:
    """score_lines with every shortcut against the same lines through the public predict
    and the counted features (a model whose boosters cannot be compiled takes that path)."""
    model, lines, as_of = book
    lines = odd_lines(lines)
    fast = model.score_lines(lines, as_of, batch_history=False)
    slow = pickle.loads(pickle.dumps(model))
    slow.__dict__["_compiled_trees"] = _Refused(slow)  # the public predict serves
    frame = slow.space_.frame  # a copy's (unpickled): the model's own is untouched
    slow.space_.frame = lambda *a, **k: frame(*a, **{**k, "day_tables": False})
    pd.testing.assert_frame_equal(slow.score_lines(lines, as_of, batch_history=False), fast)
    # A pickled model keeps no compiled trees; they are rebuilt on use.
    assert "_compiled_trees" not in pickle.loads(pickle.dumps(model)).__dict__
    assert len(scoring_snapshots(lines, as_of)) == len(fast)


class _Refused:
    """A compiled entry that matches the model but is not usable."""

    usable = False

    def __init__(self, model: AtRiskModel) -> None:
        self.booster, self.delay_model = model.booster_, model.delay_model_

    def matches(self, model: AtRiskModel) -> bool:
        return self.booster is model.booster_ and self.delay_model is model.delay_model_
