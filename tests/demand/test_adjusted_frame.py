"""`ordercast forecast --adjusted` applies the planners' adjustments by the service's rules:
the same numbers as the served model with the same adjustments (#18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.demand.adjusted_frame import adjust_forecast_frame
from forecasting.demand.adjustments import apply_adjustments
from forecasting.errors import ConfigError
from forecasting.synthetic import generate_orders
from ordercast.cli import main
from store.adjustments import save_adjustment
from store.database import OrderStore
from tests.demand.test_adjustments import DATES, GRID, adj, make_model


def test_a_forecast_file_is_adjusted_as_the_service_adjusts_its_model() -> None:
    model = make_model()
    changes = [
        adj("s", level="site", series_id="S1", start=str(DATES[1].date()), kind="percent"),
        adj("b", series_id="B|S2", start=str(DATES[2].date()), kind="set", value=3.0),
    ]
    served = apply_adjustments(model, changes).model
    planned, orphaned = adjust_forecast_frame(model.to_frame(GRID), changes, GRID, "W-SUN")
    assert orphaned.empty
    expected = served.to_frame(GRID)
    np.testing.assert_array_equal(planned["mean"], expected["mean"])
    np.testing.assert_array_equal(planned["q90"], expected["q90"])
    np.testing.assert_array_equal(planned["statistical"], model.to_frame(GRID)["mean"])
    total = planned[planned["series_id"] == "total:__total__"]
    assert total["adjustments"].tolist() == ["", "s", "b", ""]


def test_a_flat_forecast_file_cannot_be_adjusted() -> None:
    flat = pd.DataFrame({"series_id": ["A"], "ds": [DATES[0]], "model": ["ets"], "mean": [1.0]})
    with pytest.raises(ConfigError, match="hierarchy"):
        adjust_forecast_frame(flat, [], GRID, "W-SUN")


def test_forecast_adjusted_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    monkeypatch.setenv("ORDERCAST_DATABASE_URL", url)
    orders = tmp_path / "orders.csv"
    generate_orders(sites=2, skus=3, days=120, seed=2).orders.to_csv(orders, index=False)
    series = tmp_path / "hierarchy.csv"
    assert main(["series", str(orders), "--levels", "sku,site;site;total", "--freq", "W",
                 "--out", str(series)]) == 0  # fmt: skip
    plain, planned = tmp_path / "plain.csv", tmp_path / "planned.csv"
    common = ["forecast", str(series), "-H", "3", "--models", "seasonal_naive,window_average"]
    assert main([*common, "--out", str(plain)]) == 0
    week = str(pd.read_csv(plain)["ds"].min())
    site = adj("cli", level="site", series_id="SITE-1", start=week, kind="add", value=30.0)
    store = OrderStore.open(url)
    try:
        save_adjustment(store, site, pd.DataFrame(columns=["ds", "statistical", "adjusted"]))
    finally:
        store.dispose()
    assert main([*common, "--adjusted", "--out", str(planned)]) == 0

    before = pd.read_csv(plain).set_index(["series_id", "ds"])
    after = pd.read_csv(planned).set_index(["series_id", "ds"])
    np.testing.assert_allclose(after["statistical"], before["mean"])
    moved = after["mean"] - after["statistical"]
    assert moved.loc[("site:SITE-1", week)] == pytest.approx(30.0)
    assert moved.loc[("total:__total__", week)] == pytest.approx(30.0)
    bottoms = [i for i in after.index if i[0].startswith("sku,site:") and i[1] == week]
    assert sum(moved.loc[i] for i in bottoms) == pytest.approx(30.0)
    assert (moved[[i for i in after.index if i[1] != week]].abs() < 1e-9).all()
