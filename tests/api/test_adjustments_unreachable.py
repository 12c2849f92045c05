"""Forecasts never wait on the order store: when it cannot be reached, the demand endpoint
serves the statistical forecast and says that adjustments could not be read (#18)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.adjusted_demand import UNAVAILABLE
from api.main import create_app
from ordercast.settings import ApiSettings, DatabaseSettings, Settings
from tests.api.fakes import FakeLoader

# Nothing listens on port 1: the connection is refused at once.
CLOSED = "postgresql+psycopg://postgres@127.0.0.1:1/test"


def test_an_unreachable_order_store_serves_the_statistical_forecast_with_a_warning() -> None:
    settings = Settings(api=ApiSettings(), database=DatabaseSettings(url=CLOSED))
    app = create_app(settings, loader=FakeLoader(), poll=False)
    with TestClient(app) as client:
        for _ in range(3):
            answer = client.post(
                "/v1/forecasts/demand", json={"sku": "SKU-1", "site": "SITE-A", "horizon": 2}
            )
            assert answer.status_code == 200, answer.text
            assert UNAVAILABLE in answer.json()["warnings"]
            for point in answer.json()["points"]:
                assert point["mean"] == point["statistical"] and point["adjustments"] == []
        # one failed look, then a pause before the next: not a connection attempt a request
        assert app.state.adjustments.fresh(app.state.store.snapshot.models["demand"]) is not None
