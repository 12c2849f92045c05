"""A fitted capacity forecaster starts its outlook from the open orders in the store now
(:meth:`CapacityForecaster.with_backlog`), keeping its capacity estimate."""

from __future__ import annotations

import pandas as pd
import pytest

from forecasting.capacity import CapacityForecaster
from forecasting.errors import ConfigError
from forecasting.synthetic import generate_orders

SITE = "SITE-1"
EXTRA_UNITS = 40.0 * 50  # the rush order below: 40 lines of 50 units


def as_known_at(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The lines as the store holds them at ``as_of``: ordered by then, later dates blank."""
    out = lines[lines["order_date"] <= as_of].copy()
    for column in ("delivered_date", "ship_date"):
        out[column] = out[column].where(out[column] <= as_of)
    return out


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return generate_orders(sites=2, skus=10, days=150, seed=3).orders


@pytest.fixture(scope="module")
def fitted(history: pd.DataFrame) -> CapacityForecaster:
    trained_at = history["order_date"].max() - pd.Timedelta(days=21)
    return CapacityForecaster(n_paths=100, arrivals="bootstrap").fit(
        as_known_at(history, trained_at), trained_at
    )


def with_rush_order(store: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    """``store`` plus an order of 40 lines at SITE, placed ``now`` and not shipped yet."""
    template = store[store["site"] == SITE].iloc[[0] * 40].reset_index(drop=True)
    rush = template.assign(
        order_id="RUSH",
        line_id=[f"RUSH-{i}" for i in range(40)],
        order_date=now,
        promised_date=now + pd.Timedelta(days=3),
        ship_date=pd.NaT,
        delivered_date=pd.NaT,
        quantity=50.0,
    )
    return pd.concat([store, rush], ignore_index=True)


def test_the_outlook_starts_from_the_open_orders_now(fitted, history) -> None:
    now = fitted.as_of_ + pd.Timedelta(days=14)
    store = as_known_at(history, now)
    plain = fitted.with_backlog(store, now)
    rushed = fitted.with_backlog(with_rush_order(store, now), now)

    # The rush order is work waiting at SITE now, all of it; the other site is as it was.
    assert rushed.backlog_[SITE] == pytest.approx(plain.backlog_[SITE] + EXTRA_UNITS)
    other = next(s for s in fitted.sites_ if s != SITE)
    assert rushed.backlog_[other] == pytest.approx(plain.backlog_[other])

    outlook, before = rushed.predict(7), plain.predict(7)
    assert outlook["ds"].min() == now + pd.Timedelta(days=1)
    first = outlook[(outlook["site"] == SITE) & (outlook["ds"] == outlook["ds"].min())]
    base = before[(before["site"] == SITE) & (before["ds"] == before["ds"].min())]
    assert float(first["available_p50"].iloc[0]) > float(base["available_p50"].iloc[0])
    assert (
        outlook.loc[outlook["site"] == SITE, "backlog_p50"].sum()
        > before.loc[before["site"] == SITE, "backlog_p50"].sum()
    )


def test_the_capacity_estimate_stays_and_the_original_is_untouched(fitted, history) -> None:
    trained_at, backlog = fitted.as_of_, dict(fitted.backlog_)
    now = trained_at + pd.Timedelta(days=14)
    fresh = fitted.with_backlog(as_known_at(history, now))
    assert fresh.as_of_ == as_known_at(history, now)["order_date"].max() == now
    assert fresh.estimate_ is fitted.estimate_
    assert fresh.sites_ == fitted.sites_
    assert fresh.get_params() == fitted.get_params()
    # The recent arrivals are the last weeks before the new date.
    assert fresh.arrivals_.keys() == fitted.arrivals_.keys()
    assert any(
        fresh.arrivals_[key].shape != fitted.arrivals_[key].shape
        or (fresh.arrivals_[key] != fitted.arrivals_[key]).any()
        for key in fitted.arrivals_
    )
    assert fitted.as_of_ == trained_at and fitted.backlog_ == backlog
    assert fitted.predict(3)["ds"].min() == trained_at + pd.Timedelta(days=1)


def test_the_forecast_arrivals_are_forecast_again_from_the_new_date(history) -> None:
    trained_at = history["order_date"].max() - pd.Timedelta(days=21)
    model = CapacityForecaster(n_paths=50, max_horizon=14).fit(
        as_known_at(history, trained_at), trained_at
    )
    now = trained_at + pd.Timedelta(days=14)
    fresh = model.with_backlog(as_known_at(history, now), now)
    # Refreshed, not selected again: each site keeps the arrival model its fit chose.
    assert fresh.arrival_model_ is not None and model.arrival_model_ is not None
    assert fresh.arrival_model_ is not model.arrival_model_
    pd.testing.assert_series_equal(
        fresh.arrival_model_.selection_["model"], model.arrival_model_.selection_["model"]
    )
    assert fresh.arrival_forecast_ is not None
    assert fresh.arrival_forecast_["ds"].min() == now + pd.Timedelta(days=1)
    outlook = fresh.predict(14)
    # Every day of the outlook has new work coming, none falls off the old forecast's end.
    assert (outlook["available_p90"] > 0).all()


def test_an_outlook_cannot_start_before_the_fit(fitted, history) -> None:
    with pytest.raises(ConfigError, match="before the forecaster's"):
        fitted.with_backlog(history, fitted.as_of_ - pd.Timedelta(days=1))
    with pytest.raises(ConfigError, match="call fit first"):
        CapacityForecaster().with_backlog(history)
