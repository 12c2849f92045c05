"""Baselines the at-risk model is measured against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.risk.labels import labels_as_of


def lane_baseline(
    orders: pd.DataFrame, as_of: pd.Timestamp, lines: pd.DataFrame, tolerance_days: int = 0
) -> np.ndarray:
    """Per row of ``lines``, the late rate of its lane (site x region) as known at ``as_of``.

    Rates count the lines of ``orders`` labelled by ``as_of`` (late: delivered more than
    ``tolerance_days`` after the promise); a lane without labelled lines gets the overall
    rate. Region is left out when ``orders`` has none.
    """
    labels = labels_as_of(orders, as_of, tolerance_days)
    known = orders[labels.notna()].assign(label=labels[labels.notna()])
    keys = [c for c in ("site", "region") if c in orders.columns]
    rates = known.groupby(keys)["label"].mean()
    overall = float(known["label"].mean()) if len(known) else 0.0
    index = (
        pd.MultiIndex.from_frame(lines[keys].astype(object))
        if len(keys) > 1
        else pd.Index(lines[keys[0]])
    )
    return rates.reindex(index).fillna(overall).to_numpy(float)
