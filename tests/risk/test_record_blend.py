"""p_late blended with the line's route record (``record_weight``, #21)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.risk.model import BLEND_RECORDS, AtRiskModel
from forecasting.synthetic import generate_orders

AS_OF = pd.Timestamp("2024-04-01")


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_orders(sites=2, skus=6, days=120, seed=5).orders


def _model(**params: object) -> AtRiskModel:
    return AtRiskModel(delivery_time=False, max_iter=15, n_models=1, **params)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plain(orders: pd.DataFrame) -> AtRiskModel:
    return _model().fit(orders, as_of=AS_OF)


def test_the_blend_takes_its_share_of_p_late_from_the_lines_record(orders, plain) -> None:
    weight = 0.4
    blended = _model(record_weight=weight).fit(orders, as_of=AS_OF)
    # The demo history has no shipment mode: the lane's record (site x region) is blended.
    assert blended.record_column_ == "lane_late_rate" and plain.record_column_ is None
    features = blended.feature_frame(orders, AS_OF)
    record = features[blended.record_column_].to_numpy(float)
    assert np.isfinite(record).all() and record.std() > 0
    boosters = plain.predict_proba_frame(features)
    expected = (1 - weight) * boosters + weight * record
    np.testing.assert_allclose(blended.predict_proba_frame(features), expected, rtol=1e-12)
    # And as score_lines reports it (rounded to 4 places), for the lines still open.
    scored = blended.score_lines(orders, AS_OF, actions=False)
    open_lines = ~scored["risk_band"].isin(["overdue", "delivered"]).to_numpy()
    assert open_lines.sum() > 10
    np.testing.assert_allclose(
        scored["p_late"].to_numpy()[open_lines], expected[open_lines], atol=5e-5
    )


def test_the_reasons_weigh_the_blended_record(orders) -> None:
    # All of p_late from the record: the lane's record is the only thing that moves it,
    # so a line whose lane record is far above the typical one is told so first.
    model = _model(record_weight=1.0).fit(orders, as_of=AS_OF)
    features = model.feature_frame(orders, AS_OF)
    record = features[model.record_column_].to_numpy(float)
    scored = model.score_lines(orders, AS_OF, actions=False)
    open_lines = ~scored["risk_band"].isin(["overdue", "delivered"]).to_numpy()
    np.testing.assert_allclose(
        scored["p_late"].to_numpy()[open_lines], record[open_lines], atol=5e-5
    )
    typical = model.reference_[model.record_column_]
    above = open_lines & (record > typical + 0.02)
    assert above.any()
    first = scored.loc[above, "reason_1"]
    assert first.str.contains("late").all(), first.head().tolist()
    # Where no tree splits on the record, the blend still moves p_late, and says so.
    unsplit = copy.copy(model)
    unsplit.used_features_ = [c for c in model.used_features_ if not c.startswith("lane_")]
    again = unsplit.score_lines(orders, AS_OF, actions=False)
    pd.testing.assert_series_equal(again["p_late"], scored["p_late"])
    assert again.loc[above, "reason_1"].str.contains("late on").all()


def test_a_history_without_the_records_scores_from_the_boosters_and_says_so(orders) -> None:
    blended = _model(record_weight=0.5, records="none").fit(orders, as_of=AS_OF)
    assert blended.record_column_ is None
    assert any("record_weight 0.5 left unused" in note for note in blended.fit_notes_)
    assert not set(BLEND_RECORDS) & set(blended.features_)
    alone = _model(records="none").fit(orders, as_of=AS_OF)
    features = alone.feature_frame(orders, AS_OF)
    np.testing.assert_array_equal(
        blended.predict_proba_frame(features), alone.predict_proba_frame(features)
    )


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_weight_outside_0_to_1_is_refused(orders, weight: float) -> None:
    with pytest.raises(ConfigError, match="record_weight"):
        _model(record_weight=weight).fit(orders, as_of=AS_OF)
