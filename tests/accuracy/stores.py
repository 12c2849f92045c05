"""A SQLite order store holding the example: its orders and its two publications."""

from __future__ import annotations

from pathlib import Path

import yaml

from store.database import OrderStore
from store.ingest import ingest_records
from store.publications import publish_forecasts
from tests.accuracy.examples import WEEKS, expectations, order_records, published

FORECAST_COLUMNS = ["level", "series_id", "ds", "lag", "model", "mean", "q10", "q50", "q90"]


def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'orders.db'}"


def fill(url: str, *, orders: bool = True, publications: bool = True) -> None:
    """Ingest the example's orders and publish its two publications at ``url``."""
    store = OrderStore.open(url)
    try:
        if orders:
            ingest_records(store, order_records(), source="test")
        if publications:
            forecasts, expected = published(), expectations()
            for pub, origin in ((1, WEEKS[2]), (2, WEEKS[3])):
                publish_forecasts(
                    store,
                    kind="train" if pub == 1 else "refresh",
                    model_name="ordercast-demand",
                    model_version=str(pub),
                    parent_version=None if pub == 1 else "1",
                    origin=origin,
                    freq="W-SUN",
                    forecasts=forecasts.loc[forecasts["publication_id"] == pub, FORECAST_COLUMNS],
                    expectations=expected.loc[
                        expected["publication_id"] == pub,
                        ["level", "lag", "wape", "mase", "coverage80"],
                    ],
                )
    finally:
        store.dispose()


def config(tmp_path: Path, url: str, **accuracy: object) -> Path:
    """A config naming the store, one level (sku, site) and weekly periods, as the example."""
    values: dict[str, object] = {
        "database": {"url": url},
        "demand": {"freq": "W-SUN", "levels": [["sku", "site"]]},
        "accuracy": {"lags": [1, 2, 3], **accuracy},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path
