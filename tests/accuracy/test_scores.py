"""Accuracy of published forecasts: figures computed by hand on two series, two publications."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecasting.accuracy import (
    NO_SITE,
    accuracy_table,
    check_by,
    expected_by,
    score_published,
    scored_rows,
    series_actuals,
)
from forecasting.demand.metrics import naive_scale
from forecasting.errors import ConfigError
from forecasting.series import TOTAL_ID
from tests.accuracy.examples import WEEKS, B, Y, actuals, expectations, published

# Scales: mean absolute one-step change of the actuals up to each publication's origin.
SCALE_A1, SCALE_A2 = (2 + 3) / 2, (2 + 3 + 2) / 3
SCALE_B1, SCALE_B2 = (4 + 4) / 2, (4 + 4 + 2) / 3


def by_lag() -> pd.DataFrame:
    return score_published(published(), actuals(), by=("lag",)).set_index("lag")


def test_lag_1_figures_match_a_hand_computation() -> None:
    got = by_lag().loc[1]
    # (y, mean): (11, 10), (2, 3), (10, 11), (6, 7)
    assert got["n"] == 4
    assert got["wape"] == pytest.approx((1 + 1 + 1 + 1) / (11 + 2 + 10 + 6))
    assert got["bias"] == pytest.approx((-1 + 1 + 1 + 1) / (11 + 2 + 10 + 6))
    assert got["mase"] == pytest.approx(
        (1 / SCALE_A1 + 1 / SCALE_B1 + 1 / SCALE_A2 + 1 / SCALE_B2) / 4
    )
    assert got["coverage80"] == pytest.approx(3 / 4)


def test_lag_2_figures_match_a_hand_computation() -> None:
    got = by_lag().loc[2]
    # (y, mean): (10, 12), (6, 2), (14, 10), (0, 3)
    assert got["n"] == 4
    assert got["wape"] == pytest.approx((2 + 4 + 4 + 3) / (10 + 6 + 14 + 0))
    assert got["bias"] == pytest.approx((2 - 4 - 4 + 3) / (10 + 6 + 14 + 0))
    assert got["mase"] == pytest.approx(
        (2 / SCALE_A1 + 4 / SCALE_B1 + 4 / SCALE_A2 + 3 / SCALE_B2) / 4
    )
    assert got["coverage80"] == pytest.approx(1 / 4)


def test_a_period_without_an_actual_is_not_scored() -> None:
    table = by_lag()
    assert 3 not in table.index  # the only lag-3 row targets w7, which is not complete
    assert int(table["n"].sum()) == 8


def test_groups_by_model_family_and_site() -> None:
    table = score_published(published(), actuals(), by=("model", "site"))
    assert table[["model", "site"]].values.tolist() == [["croston", "S2"], ["ets", "S1"]]
    ets = table.set_index("model").loc["ets"]
    assert ets["wape"] == pytest.approx((1 + 2 + 1 + 4) / (11 + 10 + 10 + 14))


def test_by_model_version_and_origin() -> None:
    table = score_published(published(), actuals(), by=("model_version", "origin"))
    assert table["model_version"].tolist() == ["1", "2"]
    assert table["origin"].tolist() == [WEEKS[2], WEEKS[3]]


def test_expected_is_weighted_like_the_pooled_observation() -> None:
    scored = scored_rows(published(), actuals())
    expected = expected_by(expectations(), scored, ("lag",)).set_index("lag")
    # lag 1: publication 1's rows have sum|y| 11 + 2, publication 2's 10 + 6
    assert expected.loc[1, "expected_wape"] == pytest.approx((0.1 * 13 + 0.3 * 16) / 29)
    assert expected.loc[1, "expected_mase"] == pytest.approx((0.5 * 2 + 0.7 * 2) / 4)
    assert expected.loc[1, "expected_coverage80"] == pytest.approx((0.8 * 2 + 0.9 * 2) / 4)
    table = accuracy_table(published(), actuals(), expectations(), by=("lag",))
    assert list(table.columns) == [
        "lag",
        "n",
        "wape",
        "expected_wape",
        "bias",
        "mase",
        "expected_mase",
        "coverage80",
        "expected_coverage80",
    ]
    assert table.set_index("lag").loc[2, "expected_wape"] == pytest.approx(0.2)


def test_a_publication_without_scored_rows_adds_no_expectation() -> None:
    only_two = published()[published()["publication_id"] == 2]
    scored = scored_rows(only_two, actuals())
    expected = expected_by(expectations(), scored, ()).iloc[0]
    assert expected["expected_wape"] == pytest.approx((0.3 * 16 + 0.2 * 14) / 30)


def test_no_expectation_is_nan_not_a_crash() -> None:
    table = accuracy_table(published(), actuals(), expectations().iloc[:0], by=("lag",))
    assert table["expected_wape"].isna().all()
    assert table["wape"].notna().all()


def test_constant_series_is_left_out_of_mase_only() -> None:
    flat = actuals()
    flat.loc[flat["series_id"] == B, "y"] = 5.0
    table = score_published(published(), flat, by=("lag",)).set_index("lag")
    # B never changed: no scale, so lag 1's MASE is A's rows alone; WAPE keeps B's rows
    assert table.loc[1, "mase"] == pytest.approx((1 / SCALE_A1 + 1 / SCALE_A2) / 2)
    assert table.loc[1, "wape"] == pytest.approx((1 + 2 + 1 + 2) / (11 + 5 + 10 + 5))


def test_all_zero_actuals_give_nan_not_a_crash() -> None:
    zero = actuals()
    zero.loc[zero["series_id"] == B, "y"] = 0.0
    table = score_published(published(), zero, by=("site",)).set_index("site")
    assert np.isnan(table.loc["S2", "wape"]) and np.isnan(table.loc["S2", "bias"])
    assert np.isnan(table.loc["S2", "mase"])
    assert table.loc["S2", "n"] == 4


def test_scale_is_the_naive_scale_of_the_history_up_to_the_origin() -> None:
    scored = scored_rows(published(), actuals())
    for (sid, origin), scale in scored.groupby(["series_id", "origin"])["scale"].first().items():
        history = np.array(Y[sid][: list(WEEKS).index(origin) + 1], dtype=float)
        assert scale == pytest.approx(naive_scale(history, m=1))


def test_sites_are_parsed_from_the_series_ids_of_levels_with_a_site() -> None:
    ids = {
        "sku,site": "sku,site:A|S1",
        "site,sku": "site,sku:S2|A",
        "site": "site:S3",
        "sku": "sku:A",
        "total": f"total:{TOTAL_ID}",
    }
    frame = pd.concat(
        [published().iloc[[0]].assign(level=level, series_id=sid) for level, sid in ids.items()]
    )
    truth = pd.DataFrame({"series_id": list(ids.values()), "ds": WEEKS[3], "y": 1.0})
    scored = scored_rows(frame, truth)
    assert dict(zip(scored["level"], scored["site"], strict=True)) == {
        "sku,site": "S1",
        "site,sku": "S2",
        "site": "S3",
        "sku": NO_SITE,
        "total": NO_SITE,
    }


def test_a_series_id_without_its_level_prefix_is_refused() -> None:
    frame = published().assign(series_id=lambda f: f["series_id"].str.partition(":")[2])
    truth = actuals().assign(series_id=lambda f: f["series_id"].str.partition(":")[2])
    with pytest.raises(ConfigError, match="does not start with its level 'sku,site:'"):
        scored_rows(frame, truth)


def test_unknown_dimension_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown accuracy dimension.*'sku'.*level, lag"):
        check_by(["lag", "sku"])
    assert check_by(["lag", " level", "lag"]) == ["lag", "level"]


def order_lines(last_day: str) -> pd.DataFrame:
    days = pd.date_range("2024-01-01", last_day, freq="D")
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(days))],
            "line_id": [f"l{i}" for i in range(len(days))],
            "sku": ["A", "B"] * (len(days) // 2) + ["A"] * (len(days) % 2),
            "site": "S1",
            "order_date": days,
            "quantity": 1.0,
        }
    )


def test_actuals_leave_out_the_period_the_orders_end_in_when_incomplete() -> None:
    levels = [["sku", "site"], ["site"], []]
    # 2024-01-24 is a Wednesday: the week ending 2024-01-28 has three days of orders.
    partial = series_actuals(order_lines("2024-01-24"), levels=levels, freq="W-SUN")
    assert partial["ds"].max() == pd.Timestamp("2024-01-21")
    complete = series_actuals(order_lines("2024-01-28"), levels=levels, freq="W-SUN")
    assert complete["ds"].max() == pd.Timestamp("2024-01-28")
    assert set(partial["series_id"]) == {
        "sku,site:A|S1",
        "sku,site:B|S1",
        "site:S1",
        f"total:{TOTAL_ID}",
    }


def test_actuals_are_the_series_training_learns_from() -> None:
    from ordercast.settings import DemandSettings, Settings
    from training.pipelines.demand import hierarchy_series

    orders = order_lines("2024-02-07")
    settings = Settings(demand=DemandSettings(levels=[["sku", "site"], ["sku"], []]))
    cutoff = pd.Timestamp(orders["order_date"].max())
    trained = hierarchy_series(settings, orders, cutoff)
    ours = series_actuals(orders, levels=settings.demand.levels, freq=settings.demand.freq)
    pd.testing.assert_frame_equal(ours, trained[["series_id", "ds", "y", "level"]])
