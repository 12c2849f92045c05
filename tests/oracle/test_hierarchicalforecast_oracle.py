"""Oracle test: MinT with shrinkage (forecasting.demand.reconcile) against
HierarchicalForecast's ``MinTrace(method="mint_shrink")``.

Both compute ``y~ = S P y^`` with ``W`` the residual covariance shrunk towards its diagonal
by the Schäfer-Strimmer intensity. Two documented differences, neither of which moves
the answer on the residuals used here:

* HierarchicalForecast centres the residuals on their means and scales the covariance by
  n / (n - 1); ordercast takes moments about zero, as R's ``hts`` does (a biased series
  keeps its bias in its weight). On residuals with mean zero per series the intensity is
  the same and ``W`` differs by the factor n / (n - 1) alone, which the projection ignores.
* HierarchicalForecast adds a ridge of 2e-8 to the diagonal: negligible at these variances.

So the reconciled forecasts must agree to 1e-6 relative.
Skipped when HierarchicalForecast (the ``bench`` extra) is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

methods = pytest.importorskip(
    "hierarchicalforecast.methods",
    reason="HierarchicalForecast is the oracle here: install the bench extra "
    "(pip install -e '.[bench]')",
)

from forecasting.demand.reconcile import (  # noqa: E402  (after the skip on purpose)
    reconcile,
    shrunk_covariance,
)

SKUS, SITES = ("A", "B", "C"), ("s1", "s2")
DATES = pd.date_range("2025-01-05", periods=40, freq="W-SUN")
FUTURE = pd.date_range(DATES[-1], periods=5, freq="W-SUN")[1:]


def series_table() -> pd.DataFrame:
    """Every series of a sku x site hierarchy: uppers (total, sku, site) first, then bottom."""
    rows = [("total", None, None)]
    rows += [("sku", s, None) for s in SKUS] + [("site", None, t) for t in SITES]
    rows += [("sku,site", s, t) for s in SKUS for t in SITES]
    table = pd.DataFrame(rows, columns=["level", "sku", "site"])
    table["series_id"] = [
        "total" if lv == "total" else "|".join(v for v in (s, t) if v)
        for lv, s, t in table.itertuples(index=False)
    ]
    return table


def summing(table: pd.DataFrame) -> np.ndarray:
    """S by hand: a row per series, a column per bottom series (in table order)."""
    bottom = table[table["level"] == "sku,site"]
    matrix = np.zeros((len(table), len(bottom)))
    for i, (_, s, t) in enumerate(table[["level", "sku", "site"]].itertuples(index=False)):
        for j, (bs, bt) in enumerate(bottom[["sku", "site"]].itertuples(index=False)):
            matrix[i, j] = (s is None or s == bs) and (t is None or t == bt)
    return matrix


@pytest.mark.parametrize(("dates", "series"), [(40, 11), (200, 11), (12, 3)])
def test_shrunk_covariance_matches_hierarchicalforecasts(dates: int, series: int) -> None:
    """The covariance itself, on centred residuals: the same intensity, and the same matrix
    but for the unbiased n / (n - 1) and the peer's 2e-8 ridge on the diagonal."""
    from hierarchicalforecast.utils import _shrunk_covariance_schaferstrimmer_no_nans as peer

    rng = np.random.default_rng(dates)
    x = rng.normal(0, 1, (dates, series)) + rng.normal(0, 1, (dates, 1))
    x -= x.mean(axis=0)
    ours, shrinkage = shrunk_covariance(x)
    assert 0 < shrinkage < 1
    expected = peer(x.T, 0.0) * (dates - 1) / dates
    np.testing.assert_allclose(ours, expected, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mint_shrink_matches_hierarchicalforecast(seed: int) -> None:
    rng = np.random.default_rng(seed)
    table = series_table()
    s_matrix = summing(table)
    n_all, n_bottom = s_matrix.shape
    # Bottom errors with a shared component (so the covariance is far from diagonal), summed
    # up the hierarchy plus each upper series' own error; centred per series (see above).
    shared = rng.normal(0, 1, (len(DATES), 1))
    bottom = 2 * rng.normal(0, 1, (len(DATES), n_bottom)) + 1.5 * shared
    errors = bottom @ s_matrix.T + rng.normal(0, 1, (len(DATES), n_all))
    # Centred, but for 1e-5: HierarchicalForecast refuses residuals that sum to 0 (its guard
    # against overfitted models); an offset that small moves the intensity by ~1e-7.
    errors -= errors.mean(axis=0) - 1e-5
    # Incoherent base forecasts: the bottom level plus noise at every level.
    level = rng.uniform(20, 40, n_bottom)
    y_hat = (s_matrix @ level)[:, None] + rng.normal(0, 4, (n_all, len(FUTURE)))

    ids = table["series_id"].to_numpy()
    hierarchy = pd.concat(
        [table.assign(ds=d, y=np.nan) for d in DATES], ignore_index=True
    )  # reconcile reads only the structure (series, level, keys) from it
    residuals = pd.DataFrame(
        {
            "series_id": np.tile(ids, len(DATES)),
            "ds": np.repeat(DATES, n_all),
            "residual": errors.reshape(-1),
        }
    )
    base = pd.DataFrame(
        {
            "series_id": np.repeat(ids, len(FUTURE)),
            "ds": np.tile(FUTURE, n_all),
            "model": "ets",
            "mean": y_hat.reshape(-1),
        }
    )
    ours = reconcile(base, hierarchy, "mint_shrink", residuals=residuals)
    assert ours.attrs["reconciliation"]["weights"] == "shrunk_covariance"
    ours_wide = ours.pivot(index="series_id", columns="ds", values="mean").loc[ids].to_numpy()

    peer = methods.MinTrace(method="mint_shrink").fit_predict(
        S=s_matrix,
        y_hat=y_hat,
        y_insample=errors.T,
        y_hat_insample=np.zeros_like(errors.T),
    )["mean"]
    np.testing.assert_allclose(ours_wide, peer, rtol=1e-6, atol=1e-6)
    # Not a trivial agreement: reconciliation moved the base forecasts.
    assert np.abs(peer - y_hat).max() > 1.0


def test_biased_residuals_are_where_the_two_part() -> None:
    """ordercast keeps a series' bias in its weight (moments about zero, as ``hts``);
    HierarchicalForecast centres it away. With a biased upper series the answers differ."""
    rng = np.random.default_rng(4)
    table = series_table()
    s_matrix = summing(table)
    n_all, n_bottom = s_matrix.shape
    errors = rng.normal(0, 1, (len(DATES), n_all)) + np.where(np.arange(n_all) == 0, 8.0, 0.0)
    y_hat = (s_matrix @ rng.uniform(20, 40, n_bottom))[:, None] + rng.normal(0, 4, (n_all, 1))
    ids = table["series_id"].to_numpy()
    hierarchy = pd.concat([table.assign(ds=d, y=np.nan) for d in DATES], ignore_index=True)
    residuals = pd.DataFrame(
        {
            "series_id": np.tile(ids, len(DATES)),
            "ds": np.repeat(DATES, n_all),
            "residual": errors.reshape(-1),
        }
    )
    base = pd.DataFrame({"series_id": ids, "ds": FUTURE[0], "model": "ets", "mean": y_hat[:, 0]})
    ours = reconcile(base, hierarchy, "mint_shrink", residuals=residuals)
    ours_total = float(ours.set_index("series_id").loc["total", "mean"])
    peer = methods.MinTrace(method="mint_shrink").fit_predict(
        S=s_matrix, y_hat=y_hat, y_insample=errors.T, y_hat_insample=np.zeros_like(errors.T)
    )["mean"]
    # The biased total weighs less for us (its second moment is large), so we stay closer
    # to the bottom sum than the peer, which sees only its spread.
    bottom_sum = float(y_hat[n_all - n_bottom :, 0].sum())
    assert abs(ours_total - bottom_sum) < abs(float(peer[0, 0]) - bottom_sum)
