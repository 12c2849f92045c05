"""What the demand pipeline serves adds up across its hierarchy levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ordercast.settings import load_settings
from tests.training.conftest import write_config
from training.pipelines.demand import coherent_forecasts, fit, prepare


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
