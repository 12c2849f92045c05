"""Drift flags: the last periods' WAPE at a lag against its backtest expectation."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.accuracy import current_lineage, drift_flags
from tests.accuracy.examples import WEEKS, actuals, expectations, published

# The window of the last 2 periods with actuals is w5, w6. At lag 2 it holds publication 1's
# rows for w5 and publication 2's for w6: (y, mean) = (10, 12), (6, 2), (14, 10), (0, 3).
LAG2_WAPE = (2 + 4 + 4 + 3) / (10 + 6 + 14 + 0)
# At lag 1 only publication 2's rows for w5: (10, 11), (6, 7).
LAG1_WAPE = (1 + 1) / (10 + 6)


def flags(**options: object) -> pd.DataFrame:
    settings: dict = {"lags": (1, 2, 4), "periods": 2, "margin": 0.25, "min_rows": 2}
    settings.update(options)
    return drift_flags(published(), actuals(), expectations(), **settings).set_index("lag")


def test_drift_is_raised_when_recent_wape_exceeds_expectation_by_the_margin() -> None:
    got = flags()
    assert got.loc[2, "observed_wape"] == pytest.approx(LAG2_WAPE)
    # both publications expected 0.2 at lag 2, so the weighted expectation is 0.2
    assert got.loc[2, "expected_wape"] == pytest.approx(0.2)
    assert got.loc[2, "threshold"] == pytest.approx(0.2 * 1.25)
    assert bool(got.loc[2, "drift"]) and got.loc[2, "status"] == "drift"
    assert (got.loc[2, "n"], got.loc[2, "periods"]) == (4, 2)
    assert (got.loc[2, "window_start"], got.loc[2, "window_end"]) == (WEEKS[4], WEEKS[5])


def test_no_drift_within_the_margin() -> None:
    got = flags()
    assert got.loc[1, "observed_wape"] == pytest.approx(LAG1_WAPE)
    assert got.loc[1, "expected_wape"] == pytest.approx(0.3)
    assert not got.loc[1, "drift"] and got.loc[1, "status"] == "ok"
    # a margin wide enough to take lag 2's excess in: no flag there either
    wide = flags(margin=LAG2_WAPE / 0.2 - 1 + 0.01)
    assert not wide["drift"].any()


def test_too_few_rows_never_flag() -> None:
    got = flags(min_rows=5)
    assert not got["drift"].any()
    assert got.loc[2, "status"] == "too few rows"
    assert got.loc[4, "n"] == 0 and got.loc[4, "status"] == "too few rows"


def test_a_missing_expectation_never_flags() -> None:
    got = drift_flags(
        published(), actuals(), expectations().iloc[:0], lags=(2,), periods=2, min_rows=1
    )
    assert got["status"].tolist() == ["no expectation"] and not got["drift"].any()


def test_a_longer_window_takes_earlier_targets_in() -> None:
    got = flags(periods=3)
    # w4 joins: publication 1's lag-1 rows (11, 10), (2, 3)
    assert got.loc[1, "observed_wape"] == pytest.approx((1 + 1 + 1 + 1) / (11 + 2 + 10 + 6))
    assert got.loc[1, "expected_wape"] == pytest.approx((0.1 * 13 + 0.3 * 16) / 29)


def test_drift_looks_only_at_the_newest_training_and_its_refreshes() -> None:
    rows = published()
    retrained = rows.assign(kind="train")  # publication 2 is a retrain, not a refresh
    assert set(current_lineage(rows)["publication_id"]) == {1, 2}
    assert set(current_lineage(retrained)["publication_id"]) == {2}
    assert current_lineage(rows.drop(columns="kind")).equals(rows.drop(columns="kind"))
