"""A yes/no attribute scores the same however it arrives: true/false from JSON or Parquet,
"True"/"False" text from a CSV. The CSV's text used to read as missing for a model trained
on booleans, so `ordercast risk score FILE.csv` and the API disagreed on the same lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.queries import answer_risk
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders


def test_boolean_attributes_score_the_same_as_text_and_as_booleans() -> None:
    orders = generate_orders(sites=2, skus=10, days=150, seed=4).orders
    assert orders["promotion"].dtype == bool
    as_of = orders["order_date"].max() - pd.Timedelta(days=10)
    model = AtRiskModel(delivery_time=False).fit(orders, as_of=as_of)
    as_text = orders.assign(promotion=orders["promotion"].map({True: "True", False: "False"}))

    scored = answer_risk(model, orders, as_of)
    from_text = answer_risk(model, as_text, as_of)
    assert scored["scored"].sum() > 10
    np.testing.assert_allclose(
        from_text["p_late"].astype(float), scored["p_late"].astype(float), equal_nan=True
    )
    # and the attribute matters to the model, so the comparison above could fail
    flipped = answer_risk(model, orders.assign(promotion=~orders["promotion"]), as_of)
    assert not np.allclose(
        flipped["p_late"].astype(float), scored["p_late"].astype(float), equal_nan=True
    )
