"""``monotone_records``: a worse track record never lowers a line's p_late."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.risk.features import RATE_SUFFIXES
from forecasting.risk.model import AtRiskModel
from forecasting.risk.walk_forward import walk_forward_model
from forecasting.synthetic import generate_orders


@pytest.fixture(scope="module")
def history() -> tuple[pd.DataFrame, pd.Timestamp]:
    orders = generate_orders(sites=2, skus=20, days=230, seed=5).orders
    return orders, orders["order_date"].min() + pd.Timedelta(days=190)


def _largest_drop(model: AtRiskModel, orders: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """The largest fall of any open line's p_late when one late rate of its records rises
    by 0.3 (the others held), over every late-rate column (0: none fell)."""
    book = orders[(orders["order_date"] <= as_of) & ~(orders["delivered_date"] < as_of)]
    features = model.feature_frame(book, as_of)
    p_late = model.predict_proba_frame(features)
    rates = [c for c in model.features_ if c.endswith(RATE_SUFFIXES)]
    assert len(rates) > 10
    drop = 0.0
    for column in rates:
        worse = features.copy()
        worse[column] = worse[column] + 0.3  # a missing record stays missing
        drop = max(drop, float(np.max(p_late - model.predict_proba_frame(worse))))
    return drop


def test_a_worse_record_never_lowers_p_late(history) -> None:
    orders, as_of = history
    model = AtRiskModel(delivery_time=False, max_iter=40, n_models=1, monotone_records=True).fit(
        orders, as_of=as_of
    )
    assert _largest_drop(model, orders, as_of) <= 1e-12


def test_without_the_constraint_some_line_falls(history) -> None:
    # What the constraint prevents: the unconstrained trees of this history lower some
    # line's risk when its record worsens (by 0.11 at most).
    orders, as_of = history
    model = AtRiskModel(delivery_time=False, max_iter=40, n_models=1).fit(orders, as_of=as_of)
    assert _largest_drop(model, orders, as_of) > 0.01


def test_the_line_profile_holds_records_monotone(history) -> None:
    orders, as_of = history
    model = walk_forward_model(profile="line").set_params(max_iter=40, n_models=1)
    model.fit(orders, as_of=as_of)
    assert _largest_drop(model, orders, as_of) <= 1e-12
