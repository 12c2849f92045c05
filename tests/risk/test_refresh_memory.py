"""A fitted at-risk model takes in the deliveries made since its training without retraining
(:meth:`AtRiskModel.with_history`): its track records move, its estimator does not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.risk.model import OUTPUT_COLUMNS, AtRiskModel
from forecasting.synthetic import generate_orders

LATE_CARRIER = "parcelco"


def as_known_at(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines as the store holds them at ``as_of``: ordered by then, later dates blank."""
    out = lines[lines["order_date"] <= as_of].copy()
    for column in ("delivered_date", "ship_date"):
        out[column] = out[column].where(out[column] < as_of)
    return out


@pytest.fixture(scope="module")
def setting() -> tuple[AtRiskModel, pd.DataFrame, pd.Timestamp]:
    """A model trained at T, and the store 35 days later: one carrier late on every line
    it delivered since T (a week after the promise)."""
    history = generate_orders(sites=2, skus=20, days=230, seed=5).orders
    trained_at = history["order_date"].min() + pd.Timedelta(days=190)
    # Calibrated on its training snapshots: this short, calm history's open books give a
    # nearly flat calibration (p_late 0.04 to 0.11 over every line), which would hide the
    # move under test here, the memory's, not the calibration's. Without a calibration slice
    # (the model's defaults) the carrier's open lines scored lower after the refresh (mean
    # 0.011 -> 0.007; its records are among the features the 40 trees split on).
    model = AtRiskModel(
        delivery_time=False,
        max_iter=40,
        n_models=1,
        calibrate_on="snapshots",
        calibration_share=0.2,
    ).fit(as_known_at(history, trained_at), as_of=trained_at)
    now = trained_at + pd.Timedelta(days=35)
    store = as_known_at(history, now)
    late = (
        (store["carrier"] == LATE_CARRIER)
        & (store["promised_date"] >= trained_at)
        & (store["promised_date"] < now - pd.Timedelta(days=8))
    )
    assert late.sum() > 30
    store.loc[late, "delivered_date"] = store.loc[late, "promised_date"] + pd.Timedelta(days=7)
    store.loc[late, "ship_date"] = store.loc[late, "delivered_date"] - pd.Timedelta(days=1)
    return model, store, now


def open_batch(store: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """What a planner sends: the lines still open ``now``, and only those."""
    return store[~(store["delivered_date"] < now)].reset_index(drop=True)


def test_refreshed_records_show_the_deliveries_since_training(setting) -> None:
    model, store, now = setting
    remembered = len(model.memory_)
    refreshed = model.with_history(store, now)

    assert len(refreshed.memory_) > remembered
    assert refreshed.memory_.as_of == now
    assert len(model.memory_) == remembered and model.memory_.as_of < now  # a copy

    batch = open_batch(store, now)
    ours = (batch["carrier"] == LATE_CARRIER).to_numpy()
    assert ours.sum() > 5
    before = model.feature_frame(batch, now)
    after = refreshed.feature_frame(batch, now)
    # The carrier's late deliveries of the last weeks are in its records now; the original
    # model, which remembers only its training history, still sees a punctual carrier
    # (about 4% late against 33% on this history).
    rate_before = before["carrier_late_rate_90d"][ours]
    rate_after = after["carrier_late_rate_90d"][ours]
    assert rate_after.min() > 3 * rate_before.max()
    assert (after["carrier_late_rate"][ours] > before["carrier_late_rate"][ours]).all()
    assert after["carrier_lines_365d"][ours].min() > before["carrier_lines_365d"][ours].max()


def test_refresh_keeps_the_fitted_estimator(setting) -> None:
    model, store, now = setting
    refreshed = model.with_history(store, now)
    for name in ("booster_", "model_", "delay_model_", "space_", "reference_", "features_"):
        assert getattr(refreshed, name) is getattr(model, name), name
    assert refreshed.trained_as_of_ == model.trained_as_of_
    assert refreshed.get_params() == model.get_params()
    # The same features give the same probabilities: the trees and calibration are unchanged.
    features = refreshed.feature_frame(open_batch(store, now), now)
    np.testing.assert_array_equal(
        refreshed.predict_proba_frame(features), model.predict_proba_frame(features)
    )


def test_a_refreshed_model_scores_a_batch(setting) -> None:
    model, store, now = setting
    refreshed = model.with_history(store, now)
    batch = open_batch(store, now)
    scored = refreshed.score_lines(batch, now)
    assert list(scored.columns) == OUTPUT_COLUMNS
    assert len(scored) == len(batch)
    assert scored["p_late"].between(0, 1).all()
    # The carrier now late on every recent line is riskier than before the refresh.
    ours = (batch["carrier"] == LATE_CARRIER).to_numpy()
    old = model.score_lines(batch, now)
    assert scored["p_late"][ours].mean() > old["p_late"][ours].mean()


def test_a_refresh_cannot_rewind_the_memory(setting) -> None:
    model, store, _ = setting
    with pytest.raises(ConfigError, match="before the model's training date"):
        model.with_history(store, model.trained_as_of_ - pd.Timedelta(days=1))
    with pytest.raises(ConfigError, match="call fit first"):
        AtRiskModel().with_history(store, model.trained_as_of_)
