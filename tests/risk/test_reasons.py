"""Reasons: a group's track record is one factor, quoted by its most telling window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.risk.model import AtRiskModel
from forecasting.risk.reasons import _quoted, factors, phrase, record_of
from forecasting.synthetic import generate_orders


def test_a_groups_record_windows_form_one_factor() -> None:
    columns = [
        "lead_time_days",
        "site",
        "carrier_late_rate",
        "carrier_lines_365d",
        "site_open_units",
        "carrier_late_rate_90d",
        "site_late_rate",
    ]
    assert factors(columns) == [
        ["lead_time_days"],
        ["site"],
        ["carrier_late_rate", "carrier_lines_365d", "carrier_late_rate_90d"],
        ["site_open_units"],
        ["site_late_rate"],
    ]


def test_the_quoted_window_is_the_one_furthest_above_its_typical_rate() -> None:
    group = ["vendor_late_rate", "vendor_lines_365d", "vendor_late_rate_90d"]
    features = pd.DataFrame(
        {
            "vendor_late_rate": [0.30, 0.05, 0.10],
            "vendor_lines_365d": [50.0, 3.0, 40.0],
            "vendor_late_rate_90d": [0.12, 0.40, np.nan],
        }
    )
    typical = {"vendor_late_rate": 0.10, "vendor_lines_365d": 40.0, "vendor_late_rate_90d": 0.10}
    columns, values = _quoted(features, group, typical)
    # 0.30 is 3x the year's typical rate, 0.40 is 4x the 90 days'; neither rate is above
    # typical on the third line, whose record raises risk (if at all) through its volume.
    assert columns == ["vendor_late_rate", "vendor_late_rate_90d", "vendor_lines_365d"]
    assert values == [0.30, 0.40, 40.0]
    assert (
        phrase(columns[1], values[1], "Acme")
        == "vendor Acme late on 40% of lines in the last 90 days"
    )
    assert phrase("freight_cost_usd", 13740.2) == "freight cost usd 13,740"
    # A flag of our own data says its value in words, not "promotion 1".
    assert phrase("promotion", 1.0) == "on promotion"
    assert phrase("order_date_imputed", 1) == "order date not recorded (the export's estimate)"
    assert phrase("promotion", 0.0) == "not on promotion"


def test_no_line_gets_two_reasons_from_one_record() -> None:
    history = generate_orders(sites=2, skus=30, days=260, seed=8).orders
    as_of = history["order_date"].min() + pd.Timedelta(days=200)
    scored = (
        AtRiskModel(delivery_time=False, max_iter=60, n_models=1)
        .fit(history, as_of=as_of)
        .score_lines(history, as_of)
    )
    reasons = scored[["reason_1", "reason_2", "reason_3"]].to_numpy()
    # Not vacuous: many lines have reasons, track records among them.
    assert (reasons[:, 0] != "").mean() > 0.2
    assert sum(" late on " in r for r in reasons.ravel()) > 20
    whose = np.vectorize(lambda r: r.split(" late on ")[0].split(" delivered ")[0])(reasons)
    for row, who in zip(reasons, whose, strict=True):
        records = [
            w for r, w in zip(row, who, strict=True) if " late on " in r or " delivered " in r
        ]
        assert len(records) == len(set(records)), row
    assert record_of("carrier_late_rate_90d") == (
        "carrier",
        "{who} late on {v:.0%} of lines in the last 90 days",
    )
