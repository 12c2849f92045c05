"""What the demand pipeline serves adds up across its hierarchy levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from forecasting.demand.auto import AutoForecaster
from forecasting.demand.config import GlobalModelConfig, ParallelConfig
from forecasting.demand.reconcile import reconcile
from forecasting.series import build_hierarchy, prefix_levels
from ordercast.settings import load_settings
from tests.training.conftest import write_config
from training.pipelines.demand import coherent_forecasts, fit, prepare, reconciled


def bottom_sums(forecasts, column: str):  # type: ignore[no-untyped-def]
    frame = forecasts.assign(level=forecasts["series_id"].str.split(":").str[0])
    bottom = frame[frame["level"] == "sku,site"].groupby("ds")[column].sum()
    total = frame[frame["level"] == "total"].set_index("ds")[column]
    return bottom, total


def test_levels_add_up_after_mint_and_did_not_before(history_file: Path, tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}"))
    assert settings.demand.reconcile == "mint_shrink"
    _, series, _ = prepare(settings, history_file, None, None)
    model = fit(settings, series)
    forecasts = coherent_forecasts(settings, model, series)
    assert forecasts.attrs["reconciliation"]["method"] == "mint_shrink"
    assert forecasts.attrs["reconciliation"]["weights"] in {"shrunk_covariance", "structural"}
    quantiles = [c for c in forecasts.columns if c.startswith("q")]
    assert (forecasts[["mean", *quantiles]].to_numpy() >= 0).all()  # demand: never negative
    for column in ("mean", "q50"):
        bottom, total = bottom_sums(forecasts, column)
        np.testing.assert_allclose(bottom.to_numpy(), total.loc[bottom.index].to_numpy(), rtol=1e-9)

    base = model.predict(settings.demand.horizon, settings.demand.quantiles)
    bottom, total = bottom_sums(base, "mean")
    assert not np.allclose(bottom.to_numpy(), total.loc[bottom.index].to_numpy(), rtol=1e-3)

    unreconciled = settings.model_copy(
        update={"demand": settings.demand.model_copy(update={"reconcile": "none"})}
    )
    assert "reconciliation" not in coherent_forecasts(unreconciled, model, series).attrs


def test_series_weighed_by_their_chance_move_only_by_that_share() -> None:
    # Twelve SKUs at one site, weekly and intermittent; six stopped selling 40 weeks ago.
    # The pooled backtest weighs the class by the chance each series still sells, and the
    # pipeline's reconciliation must hand those chances to MinT (reconcile(movable=...)).
    rng = np.random.default_rng(5)
    weeks = pd.date_range("2023-01-01", periods=120, freq="W-SUN")
    lines = []
    for k in range(12):
        sold = np.where(rng.random(120) < 0.3, rng.integers(1, 6, 120), 0)
        if k < 6:
            sold[-40:] = 0
        lines += [
            {"sku": f"SKU-{k}", "site": "S1", "order_date": day, "quantity": float(units)}
            for day, units in zip(weeks, sold, strict=True)
            if units
        ]
    orders = pd.DataFrame(lines)
    hierarchy = prefix_levels(
        build_hierarchy(orders, levels=[("sku", "site"), ("sku",), ()], freq="W-SUN")
    )
    model = AutoForecaster(
        horizon=8,
        freq="W-SUN",
        global_model=GlobalModelConfig(mode="off"),
        parallel=ParallelConfig(n_jobs=1),
    ).fit(hierarchy)
    alive = model.selection_.set_index("series_id")["alive"].dropna()
    assert (alive < 0.5).any()  # the stopped ones are weighed
    base = model.predict()
    served = reconciled(model, base, hierarchy, "mint_shrink")
    residuals = model.backtest_residuals()
    held = reconcile(
        base, hierarchy, "mint_shrink", residuals, nonnegative=True, movable=alive.to_dict()
    )
    plain = reconcile(base, hierarchy, "mint_shrink", residuals, nonnegative=True)
    np.testing.assert_allclose(served["mean"], held["mean"])
    assert not np.allclose(served["mean"], plain["mean"])
