"""The planning loop end to end, on SQLite and on the real PostgreSQL server.

ingest -> re-ingest (nothing changes) -> train -> ingest a week of new and updated lines
-> refresh -> the running API serves the refreshed forecast after a reload -> a week later
the accuracy command's figures equal a hand computation on the same rows.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from api.main import create_app
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from ordercast.settings import load_settings
from store.database import OrderStore
from store.orders import count_lines
from store.publications import read_publications, read_published_forecasts
from tests.api.conftest import live_server
from tests.mlflow_stores import empty_store
from tests.training.conftest import write_config

DATES = ("ship_date", "delivered_date")
ADMIN_KEY = "loop-admin-key-0123456789"


def snapshot(orders: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """The lines as the order system shows them at the end of ``end``."""
    seen = orders[orders["order_date"] <= end].copy()
    for column in DATES:
        seen[column] = seen[column].where(seen[column] <= end)
    return seen


def week_lines(orders: pd.DataFrame, before: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Lines ordered, shipped or delivered in the week: what the order system pushes."""
    touched = orders["order_date"].between(before, end, inclusive="right")
    for column in DATES:
        touched |= orders[column].between(before, end, inclusive="right")
    return snapshot(orders[touched], end)


def write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return str(path)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    orders = generate_orders(sites=2, skus=5, days=200, seed=9).orders
    for column in ("order_date", "promised_date", *DATES):
        orders[column] = pd.to_datetime(orders[column])
    return orders


def test_ingest_train_refresh_serve_and_score(
    history: pd.DataFrame,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", store_url)
    monkeypatch.setenv("ORDERCAST_API_KEYS", f"{ADMIN_KEY}:admin")
    uri = empty_store(tmp_path / "mlflow.db")
    config = write_config(tmp_path, uri)
    # Three Sundays before the end: the first part, the refresh week, the scoring week.
    last_sunday = history["order_date"].max().to_period("W-SUN").start_time - pd.Timedelta(days=1)
    first_end = last_sunday - pd.Timedelta(weeks=2)
    refresh_end = first_end + pd.Timedelta(weeks=1)
    first = write(snapshot(history, first_end), tmp_path / "first.csv")

    # Ingest, and the same file again: nothing changes, and it says so.
    assert main(["ingest", first, "--config", str(config)]) == 0
    store = OrderStore.open(store_url)
    try:
        lines_before = count_lines(store)
        assert main(["ingest", first, "--config", str(config)]) == 0
        assert "nothing changed" in capsys.readouterr().out
        assert count_lines(store) == lines_before

        # Train from the store (no --data), then a week of new and updated lines arrives.
        assert main(["train", "demand", "--config", str(config)]) == 0
        week = week_lines(history, first_end, refresh_end)
        updated = week["order_date"] <= first_end
        assert updated.any() and (~updated).any()
        capsys.readouterr()
        assert main(["ingest", write(week, tmp_path / "week1.csv"), "--config", str(config)]) == 0
        said = capsys.readouterr().out
        assert f"{int((~updated).sum())} new" in said.replace(",", "")
        assert f"{int(updated.sum())} updated" in said.replace(",", "")

        app = create_app(load_settings(config), kinds=("demand",), poll=False)
        with live_server(app) as base:
            headers = {"X-API-Key": ADMIN_KEY}
            request = {"sku": "SKU-00001", "site": "SITE-1", "horizon": 2}
            before = httpx.post(f"{base}/v1/forecasts/demand", json=request, headers=headers)
            assert before.status_code == 200, before.text
            # A planner adds 7 units to the week the refresh will forecast first (#18).
            adjusted_week = f"{refresh_end + pd.Timedelta(weeks=1):%Y-%m-%d}"
            change = {
                "sku": "SKU-00001",
                "site": "SITE-1",
                "start": adjusted_week,
                "kind": "add",
                "value": 7,
                "reason": "a customer's confirmed order",
                "reason_code": "customer commitment",
            }
            made = httpx.post(
                f"{base}/v1/forecasts/demand/adjustments", json=change, headers=headers
            )
            assert made.status_code == 201, made.text
            adjustment_id = made.json()["adjustment"]["id"]
            assert main(["refresh", "demand", "--config", str(config)]) == 0
            reload = httpx.post(f"{base}/v1/admin/reload", headers=headers, timeout=120)
            assert reload.status_code == 200, reload.text
            after = httpx.post(f"{base}/v1/forecasts/demand", json=request, headers=headers)
        assert after.status_code == 200, after.text
        served = after.json()
        assert served["model_version"] != before.json()["model_version"]
        assert served["points"][0]["ds"] > before.json()["points"][0]["ds"]
        # The adjustment outlived the refresh: re-applied to the refreshed forecast.
        first = served["points"][0]
        assert first["ds"] == adjusted_week and first["adjustments"] == [adjustment_id]
        assert first["mean"] == pytest.approx(first["statistical"] + 7, rel=1e-12)

        publications = read_publications(store)
        assert list(publications["kind"]) == ["train", "refresh"]
        refreshed = read_published_forecasts(
            store, publication_ids=[int(publications["id"].iloc[1])]
        )
        mine = refreshed[refreshed["series_id"] == "sku,site:SKU-00001|SITE-1"].sort_values("ds")
        np.testing.assert_allclose(  # published: the statistical forecast
            [p["statistical"] for p in served["points"]], mine["mean"].to_numpy()[:2], rtol=1e-9
        )
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        champion = client.get_model_version_by_alias("ordercast-demand", "champion")
        assert str(champion.version) == served["model_version"]

        # A week later the actuals of the refresh's first week are in: score them.
        scoring_end = refresh_end + pd.Timedelta(weeks=1)
        week2 = week_lines(history, refresh_end, scoring_end)
        assert main(["ingest", write(week2, tmp_path / "week2.csv"), "--config", str(config)]) == 0
        table = tmp_path / "accuracy.csv"
        code = main(["accuracy", "--by", "level,lag", "--out", str(table), "--config", str(config)])
        assert code == 0
        scored = pd.read_csv(table)
        figure = scored[(scored["level"] == "sku,site") & (scored["lag"] == 1)]
        published = read_published_forecasts(store)
        fva_table = tmp_path / "fva.csv"
        code = main(["accuracy", "--fva", "--out", str(fva_table), "--config", str(config)])
        assert code == 0
        fva = pd.read_csv(fva_table)
        with TestClient(create_app(load_settings(config), kinds=("demand",), poll=False)) as api:
            over_http = api.get("/v1/accuracy/fva", headers={"X-API-Key": ADMIN_KEY})
        assert over_http.status_code == 200, over_http.text
        assert over_http.json()["per_adjustment"][0]["fva"] == pytest.approx(fva["fva"].iloc[0])
    finally:
        store.dispose()

    # By hand: every sku,site forecast one week ahead whose week the store holds in full
    # (the store's orders reach its Sunday), against the quantities ordered that week.
    lag1 = published[(published["level"] == "sku,site") & (published["lag"] == 1)]
    known = history[history["order_date"] <= scoring_end]
    last_day = known["order_date"].max()
    weekly = (
        known.assign(ds=known["order_date"].dt.to_period("W-SUN").dt.end_time.dt.normalize())
        .groupby(["sku", "site", "ds"], observed=True)["quantity"]
        .sum()
    )
    errors, actuals = [], []
    for row in lag1.itertuples():
        if row.ds > last_day:
            continue
        sku, site = row.series_id.partition(":")[2].split("|")
        actual = float(weekly.get((sku, site, row.ds), 0.0))
        errors.append(abs(actual - row.mean))
        actuals.append(actual)
    assert len(errors) >= 10  # 5 SKUs x 2 sites, from the training's publication at least
    assert int(figure["n"].iloc[0]) == len(errors)
    assert float(figure["wape"].iloc[0]) == pytest.approx(sum(errors) / sum(actuals), rel=1e-12)

    # Forecast value added by hand: the refresh's statistical forecast of the adjusted week
    # against the same plus 7 units, both against what was ordered that week.
    week = pd.Timestamp(adjusted_week)
    actual = float(weekly.get(("SKU-00001", "SITE-1", week), 0.0))
    statistical = float(mine.loc[mine["ds"] == week, "mean"].iloc[0])
    (row,) = fva.to_dict("records")
    assert row["adjustment_id"] == adjustment_id and row["reason_code"] == "customer commitment"
    assert row["wape_statistical"] == pytest.approx(abs(statistical - actual) / actual)
    assert row["wape_adjusted"] == pytest.approx(abs(statistical + 7 - actual) / actual)
    assert bool(row["helped"]) == (abs(statistical + 7 - actual) < abs(statistical - actual))
