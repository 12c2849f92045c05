"""The at-risk model's line-level feature space (#21): raw categories, which records stay."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.errors import ConfigError
from forecasting.risk.features import FeatureSpace
from forecasting.risk.line_features import CLOCK, SITE_LOAD, day_features, line_space, shared_groups
from forecasting.risk.model import AtRiskModel
from forecasting.synthetic import generate_orders


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_orders(sites=2, skus=6, days=120, seed=5).orders


def _history(modes: list[str], vendors: list[str]) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=len(modes), freq="D")
    return pd.DataFrame(
        {
            "order_date": days,
            "promised_date": days + pd.Timedelta(days=10),
            "delivered_date": days + pd.Timedelta(days=9),
            "site": ["S1"] * len(modes),
            "shipment_mode": modes,
            "vendor": vendors,
            "quantity": 1.0,
        }
    )


def test_a_group_most_lines_share_is_shared_and_one_split_evenly_is_not() -> None:
    # Air on 6 of 10 lines (60% > half): every line's mode record moves with Air's.
    # Vendors split 4/3/3: no vendor holds half the lines.
    history = _history(["Air"] * 6 + ["Sea"] * 4, ["A"] * 4 + ["B"] * 3 + ["C"] * 3)
    groups = {"mode": ("shipment_mode",), "vendor": ("vendor",), "site": ("site",)}
    assert shared_groups(history, groups) == ["mode", "site"]
    # Exactly half is not more than half: the record is kept.
    even = _history(["Air"] * 5 + ["Sea"] * 5, list("ABCDEFGHIJ"))
    assert shared_groups(even, groups) == ["site"]


def test_line_space_keeps_the_records_asked_for_and_every_category_raw() -> None:
    history = _history(["Air"] * 6 + ["Sea"] * 4, ["A"] * 4 + ["B"] * 3 + ["C"] * 3)
    full = FeatureSpace(history)
    assert set(full.native) == set()  # one site: not a category at all
    split = line_space(FeatureSpace(history), history, raw_categories=True, records="split")
    assert set(split.groups) == {"vendor"}
    assert set(split.native) == {"shipment_mode", "vendor"}
    assert line_space(FeatureSpace(history), history, False, "none").groups == {}
    kept = line_space(FeatureSpace(history), history, False, "all")
    assert kept.groups == full.groups and kept.native == full.native


def test_a_model_without_day_level_features_scores_from_the_lines_own_columns(orders) -> None:
    as_of = pd.Timestamp("2024-04-01")
    model = AtRiskModel(
        delivery_time=False,
        max_iter=15,
        n_models=1,
        raw_categories=True,
        records="none",
        site_load=False,
        clock=False,
    ).fit(orders, as_of=as_of)
    assert not any(c.endswith(("_late_rate", "_lines_365d")) for c in model.features_)
    assert not (set(SITE_LOAD) | set(CLOCK)) & set(model.features_)
    assert "lead_time_days" in model.features_  # quoted at order: the line's own
    assert "sku" not in model.features_  # an identifier never enters, raw or not
    categorical = set(model.space_.categorical)
    assert categorical and categorical <= set(model.features_)
    scored = model.score_lines(orders, as_of)
    assert scored["p_late"].between(0, 1).all() and len(scored) > 0


def test_an_unknown_records_choice_is_refused(orders) -> None:
    with pytest.raises(ConfigError, match="records"):
        AtRiskModel(records="some").fit(orders, as_of="2024-04-01")


def test_day_features_name_what_is_left_out_and_only_columns_there_are() -> None:
    frame = pd.DataFrame(columns=["time_left_days", "site_utilization", "quantity"])
    assert day_features(frame, site_load=True, clock=True) == []
    assert day_features(frame, site_load=False, clock=True) == ["site_utilization"]
    assert day_features(frame, site_load=False, clock=False) == [
        "site_utilization",
        "time_left_days",
    ]


def test_the_route_record_tells_how_late_a_site_is_by_shipment_mode() -> None:
    # Late exactly on S1 by Air and S2 by Sea: each site and each mode is late on half
    # its lines, so only the site x mode record tells the two routes of a site apart.
    sites, modes = ["S1", "S1", "S2", "S2"] * 10, ["Air", "Sea", "Air", "Sea"] * 10
    late = [(s, m) in {("S1", "Air"), ("S2", "Sea")} for s, m in zip(sites, modes, strict=True)]
    days = pd.date_range("2024-01-01", periods=len(sites), freq="D")
    history = pd.DataFrame(
        {
            "order_id": [f"O{i}" for i in range(len(sites))],
            "line_id": [f"L{i}" for i in range(len(sites))],
            "order_date": days,
            "promised_date": days + pd.Timedelta(days=10),
            "delivered_date": days + pd.to_timedelta([12 if x else 9 for x in late], unit="D"),
            "site": sites,
            "shipment_mode": modes,
            "quantity": 1.0,
        }
    )
    space = FeatureSpace(history)
    assert space.groups["route"] == ("site", "shipment_mode")
    moment = pd.Timestamp("2024-03-15")
    features = space.frame(
        history, pd.DataFrame({"row": [0, 1], "moment": moment}), history, day_tables=False
    )
    s1_air, s1_sea = features.iloc[0], features.iloc[1]
    assert s1_air["site_late_rate"] == pytest.approx(s1_sea["site_late_rate"])
    # Shrunk towards the prior (10 of 10 late reads 0.7), far apart all the same.
    assert s1_air["route_late_rate"] > 0.6 > 0.1 > s1_sea["route_late_rate"]
