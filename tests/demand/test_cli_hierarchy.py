"""`ordercast series --levels` then `ordercast forecast`: numbers that add up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecasting.synthetic import generate_orders
from ordercast.cli import main


@pytest.fixture(scope="module")
def hierarchy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hier")
    orders = folder / "orders.csv"
    generate_orders(sites=2, skus=4, days=200, seed=3).orders.to_csv(orders, index=False)
    series = folder / "series.csv"
    code = main(
        [
            "series",
            str(orders),
            "--levels",
            "sku,site;sku;site;total",
            "--freq",
            "W-SUN",
            "--out",
            str(series),
        ]
    )
    assert code == 0
    return series


def test_series_levels_write_a_prefixed_hierarchy(hierarchy_file: Path) -> None:
    frame = pd.read_csv(hierarchy_file)
    assert set(frame["level"]) == {"sku,site", "sku", "site", "total"}
    assert frame["series_id"].str.startswith(tuple(f"{lvl}:" for lvl in frame["level"])).all()
    per_level = frame.groupby("level")["series_id"].nunique()
    assert per_level.to_dict() == {"sku,site": 8, "sku": 4, "site": 2, "total": 1}


@pytest.mark.parametrize("method", ["auto", "bottom_up"])
def test_forecast_reconciles_a_hierarchy(hierarchy_file: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / "fc.csv"
    args = ["forecast", str(hierarchy_file), "--horizon", "4", "--out", str(out)]
    assert main([*args, "--reconcile", method, "--n-jobs", "1"]) == 0
    forecast = pd.read_csv(out)
    level = forecast["series_id"].str.split(":").str[0]
    bottom = forecast[level == "sku,site"].groupby("ds")["mean"].sum()
    total = forecast[level == "total"].set_index("ds")["mean"]
    np.testing.assert_allclose(bottom.to_numpy(), total.loc[bottom.index].to_numpy(), rtol=1e-9)


def test_reconcile_without_levels_is_a_clear_error(tmp_path: Path, capsys) -> None:
    flat = tmp_path / "flat.csv"
    ds = pd.date_range("2024-01-07", periods=30, freq="W-SUN")
    pd.DataFrame({"series_id": "a", "ds": ds, "y": np.arange(30.0)}).to_csv(flat, index=False)
    args = ["forecast", str(flat), "--horizon", "4", "--out", str(tmp_path / "x.csv")]
    assert main([*args, "--reconcile", "mint_shrink"]) == 2
    assert "needs several hierarchy levels" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
    assert main([*args, "--reconcile", "magic"]) == 2
    assert "--reconcile 'magic'" in capsys.readouterr().err
