"""Hierarchical reconciliation: coherence, the projection property, MinT's gain, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forecasting.demand import reconcile as reconcile_module
from forecasting.demand.reconcile import (
    ReconciliationWarning,
    reconcile,
    shrunk_covariance,
    summing_matrix,
)
from forecasting.errors import ConfigError
from forecasting.series import build_hierarchy

SKUS = ("a", "b", "c")
SITES = ("X", "Y")
HORIZON = 4


def make_orders(seed: int = 0, skus=SKUS, sites=SITES, days: int = 30) -> pd.DataFrame:
    """Order lines with every sku at every site at least once."""
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product([skus, sites], names=["sku", "site"]).to_frame(index=False)
    extra = 60
    frame = pd.DataFrame(
        {
            "sku": np.concatenate([grid["sku"], rng.choice(skus, extra)]),
            "site": np.concatenate([grid["site"], rng.choice(sites, extra)]),
        }
    )
    frame["order_date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        rng.integers(0, days, len(frame)), unit="D"
    )
    frame["quantity"] = rng.integers(1, 20, len(frame)).astype(float)
    return frame


@pytest.fixture(scope="module")
def hierarchy() -> pd.DataFrame:
    return build_hierarchy(make_orders())


def forecast_dates(hierarchy: pd.DataFrame, horizon: int = HORIZON) -> pd.DatetimeIndex:
    last = pd.Timestamp(hierarchy["ds"].max())
    return pd.date_range(last, periods=horizon + 1, freq="D")[1:]


def forecast_frame(all_ids: list[str], dates: pd.DatetimeIndex, mean: np.ndarray) -> pd.DataFrame:
    """A long forecast frame from an ``n_all x n_dates`` mean matrix, with ±5 intervals."""
    frame = pd.DataFrame(
        {
            "series_id": np.repeat(all_ids, len(dates)),
            "ds": np.tile(dates, len(all_ids)),
            "model": "test",
            "mean": mean.ravel(),
        }
    )
    frame["q10"] = frame["mean"] - 5.0
    frame["q50"] = frame["mean"]
    frame["q90"] = frame["mean"] + 5.0
    return frame


def grid_of(frame: pd.DataFrame, all_ids: list[str], column: str = "mean") -> np.ndarray:
    """The ``n_all x n_dates`` matrix of a forecast column, rows in ``all_ids`` order."""
    table = frame.pivot(index="series_id", columns="ds", values=column)
    return table.loc[all_ids].to_numpy(dtype=float)


def assert_coherent(frame: pd.DataFrame, hierarchy: pd.DataFrame, column: str = "mean") -> None:
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    values = grid_of(frame, all_ids, column)
    bottom = values[len(all_ids) - len(bottom_ids) :]
    scale = max(1.0, float(np.abs(values).max()))
    np.testing.assert_allclose(matrix @ bottom, values, rtol=1e-12, atol=1e-12 * scale)


def noisy_base(hierarchy: pd.DataFrame, seed: int = 1) -> tuple[pd.DataFrame, list[str]]:
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    rng = np.random.default_rng(seed)
    dates = forecast_dates(hierarchy)
    truth = matrix @ rng.uniform(5, 50, (len(bottom_ids), len(dates)))
    return forecast_frame(all_ids, dates, truth + rng.normal(0, 5, truth.shape)), all_ids


def residual_frame(all_ids: list[str], errors: np.ndarray) -> pd.DataFrame:
    """Long residuals from a ``dates x n_all`` matrix."""
    dates = pd.date_range("2023-01-01", periods=errors.shape[0], freq="D")
    return pd.DataFrame(
        {
            "series_id": np.tile(all_ids, len(dates)),
            "ds": np.repeat(dates, len(all_ids)),
            "residual": errors.ravel(),
        }
    )


def random_residuals(all_ids: list[str], periods: int = 40, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return residual_frame(all_ids, rng.normal(0, 3, (periods, len(all_ids))))


# -- summing matrix -------------------------------------------------------------------


def test_summing_matrix_sums_the_bottom_series_with_matching_keys(hierarchy) -> None:
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    assert isinstance(matrix, np.ndarray)
    assert bottom_ids == [f"{k}|{s}" for k in SKUS for s in SITES]
    assert all_ids[0] == "__total__"
    assert set(all_ids) == set(hierarchy["series_id"])
    rows = dict(zip(all_ids, matrix, strict=True))
    np.testing.assert_array_equal(rows["__total__"], np.ones(6))
    np.testing.assert_array_equal(rows["X"], [1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(rows["b"], [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(matrix[-6:], np.eye(6))
    # build_hierarchy's own history is coherent, so S must reproduce every upper series.
    y = grid_of(hierarchy.rename(columns={"y": "mean"}), all_ids)
    np.testing.assert_allclose(matrix @ y[-6:], y)


def test_summing_matrix_without_a_level_column_reads_the_filled_keys(hierarchy) -> None:
    with_level = summing_matrix(hierarchy)
    without = summing_matrix(hierarchy.drop(columns="level"))
    np.testing.assert_array_equal(with_level[0], without[0])
    assert with_level[1:] == without[1:]


def test_levels_that_tie_for_the_bottom_are_not_nested() -> None:
    hierarchy = build_hierarchy(make_orders(), levels=(("sku",), ("site",), ()))
    with pytest.raises(ConfigError, match="not nested"):
        summing_matrix(hierarchy)


def test_a_level_with_a_key_the_bottom_lacks_is_not_nested() -> None:
    orders = make_orders()
    orders["channel"] = np.where(np.arange(len(orders)) % 2, "web", "store")
    hierarchy = build_hierarchy(orders, levels=(("sku", "site"), ("channel",), ()))
    with pytest.raises(ConfigError, match=r"'channel'.*not nested"):
        summing_matrix(hierarchy)


def test_an_upper_series_without_bottom_series_is_not_nested(hierarchy) -> None:
    orphan = hierarchy[hierarchy["series_id"] == "X"].assign(series_id="Z", site="Z")
    with pytest.raises(ConfigError, match=r"\['Z'\].*no bottom series"):
        summing_matrix(pd.concat([hierarchy, orphan], ignore_index=True))


# -- coherence and the projection property ----------------------------------------------


@pytest.mark.parametrize("method", ["bottom_up", "ols", "mint_shrink"])
def test_reconciled_means_and_medians_add_up_at_every_level(hierarchy, method) -> None:
    base, all_ids = noisy_base(hierarchy)
    residuals = random_residuals(all_ids) if method == "mint_shrink" else None
    out = reconcile(base, hierarchy, method=method, residuals=residuals)
    assert_coherent(out, hierarchy)
    assert_coherent(out, hierarchy, "q50")
    # The base was not coherent, so reconciliation had to change something.
    assert not np.allclose(out["mean"], base["mean"])
    pd.testing.assert_frame_equal(
        out[["series_id", "ds", "model"]], base[["series_id", "ds", "model"]]
    )


def test_bottom_up_keeps_the_bottom_forecasts(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    out = reconcile(base, hierarchy, method="bottom_up")
    bottom = base["series_id"].str.contains("|", regex=False)
    np.testing.assert_array_equal(out.loc[bottom, "mean"], base.loc[bottom, "mean"])
    assert out.attrs["reconciliation"]["weights"] == "bottom_up"


@pytest.mark.parametrize("method", ["bottom_up", "ols", "mint_shrink"])
def test_coherent_forecasts_are_left_unchanged(hierarchy, method) -> None:
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    rng = np.random.default_rng(3)
    dates = forecast_dates(hierarchy)
    base = forecast_frame(all_ids, dates, matrix @ rng.uniform(0, 100, (len(bottom_ids), 4)))
    residuals = random_residuals(all_ids) if method == "mint_shrink" else None
    out = reconcile(base, hierarchy, method=method, residuals=residuals)
    for column in ("mean", "q10", "q50", "q90"):
        np.testing.assert_allclose(out[column], base[column], rtol=1e-10, atol=1e-9)


def test_structural_fallback_also_leaves_coherent_forecasts_unchanged(hierarchy) -> None:
    matrix, all_ids, _ = summing_matrix(hierarchy)
    base = forecast_frame(all_ids, forecast_dates(hierarchy), matrix @ np.ones((6, 4)))
    with pytest.warns(ReconciliationWarning, match="structural"):
        out = reconcile(base, hierarchy, method="mint_shrink")
    np.testing.assert_allclose(out["mean"], base["mean"], rtol=1e-12)


# -- the weights ----------------------------------------------------------------------


def textbook(matrix: np.ndarray, weights: np.ndarray, base: np.ndarray) -> np.ndarray:
    """S (S' W^-1 S)^-1 S' W^-1 y^, written out densely."""
    inverse = np.linalg.inv(weights)
    gram = matrix.T @ inverse @ matrix
    return matrix @ np.linalg.solve(gram, matrix.T @ inverse @ base)


def test_ols_and_mint_match_the_textbook_formula(hierarchy) -> None:
    matrix, all_ids, _ = summing_matrix(hierarchy)
    base, _ = noisy_base(hierarchy, seed=4)
    y_hat = grid_of(base, all_ids)
    ols = reconcile(base, hierarchy, method="ols")
    np.testing.assert_allclose(grid_of(ols, all_ids), textbook(matrix, np.eye(12), y_hat))

    rng = np.random.default_rng(5)
    errors = rng.normal(0, 1, (30, 12)) @ rng.normal(0, 1, (12, 12))
    mint = reconcile(base, hierarchy, residuals=residual_frame(all_ids, errors))
    covariance, shrinkage = shrunk_covariance(errors)
    info = mint.attrs["reconciliation"]
    assert info["weights"] == "shrunk_covariance"
    assert info["shrinkage"] == pytest.approx(shrinkage)
    assert info["residual_periods"] == 30
    np.testing.assert_allclose(grid_of(mint, all_ids), textbook(matrix, covariance, y_hat))


def test_shrinkage_intensity_is_small_for_strongly_correlated_residuals() -> None:
    rng = np.random.default_rng(6)
    common = rng.normal(0, 1, (200, 1))
    correlated = common + 0.1 * rng.normal(0, 1, (200, 5))
    independent = rng.normal(0, 1, (200, 5))
    _, low = shrunk_covariance(correlated)
    _, high = shrunk_covariance(independent)
    assert low < 0.05
    assert high > 0.5
    covariance, _ = shrunk_covariance(correlated)
    np.testing.assert_allclose(np.diag(covariance), np.mean(correlated**2, axis=0))


def test_mint_with_accurate_bottom_and_noisy_top_beats_the_base_top(hierarchy) -> None:
    """Accurate bottom forecasts should pull the noisy upper ones towards the truth."""
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    n_upper = len(all_ids) - len(bottom_ids)
    sd = np.concatenate([np.full(n_upper, 15.0), np.full(len(bottom_ids), 1.0)])
    rng = np.random.default_rng(7)
    dates = pd.date_range("2025-01-01", periods=200, freq="D")
    truth = matrix @ rng.uniform(20, 60, (len(bottom_ids), len(dates)))
    base = forecast_frame(all_ids, dates, truth + rng.normal(0, 1, truth.shape) * sd[:, None])
    residuals = residual_frame(all_ids, rng.normal(0, 1, (60, len(all_ids))) * sd)

    out = reconcile(base, hierarchy, method="mint_shrink", residuals=residuals)
    base_error = np.abs(grid_of(base, all_ids) - truth)
    mint_error = np.abs(grid_of(out, all_ids) - truth)
    assert mint_error[0].mean() < 0.5 * base_error[0].mean()  # the total
    assert mint_error[:n_upper].mean() < 0.5 * base_error[:n_upper].mean()
    assert mint_error[n_upper:].mean() < 1.1 * base_error[n_upper:].mean()
    # OLS trusts the noisy top as much as the bottom, so MinT should beat it.
    ols_error = np.abs(grid_of(reconcile(base, hierarchy, method="ols"), all_ids) - truth)
    assert mint_error.mean() < ols_error.mean()


@pytest.mark.parametrize("periods", [0, 5])
def test_too_few_residuals_fall_back_to_structural_weights(hierarchy, periods) -> None:
    base, all_ids = noisy_base(hierarchy)
    residuals = random_residuals(all_ids, periods=periods) if periods else None
    with pytest.warns(ReconciliationWarning, match="structural scaling"):
        out = reconcile(base, hierarchy, residuals=residuals)
    assert out.attrs["reconciliation"]["weights"] == "structural"
    assert_coherent(out, hierarchy)
    matrix, _, _ = summing_matrix(hierarchy)
    expected = textbook(matrix, np.diag(matrix.sum(axis=1)), grid_of(base, all_ids))
    np.testing.assert_allclose(grid_of(out, all_ids), expected)


def test_residuals_missing_for_a_series_fall_back_with_a_warning(hierarchy) -> None:
    base, all_ids = noisy_base(hierarchy)
    residuals = random_residuals(all_ids)
    with pytest.warns(ReconciliationWarning, match="no residuals"):
        out = reconcile(base, hierarchy, residuals=residuals[residuals["series_id"] != "X"])
    assert_coherent(out, hierarchy)


def test_enough_residuals_give_no_warning(hierarchy) -> None:
    base, all_ids = noisy_base(hierarchy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReconciliationWarning)
        reconcile(base, hierarchy, residuals=random_residuals(all_ids))


# -- quantiles ------------------------------------------------------------------------


def test_intervals_keep_their_width_and_move_with_the_mean(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    out = reconcile(base, hierarchy, method="ols")
    shift = out["mean"] - base["mean"]
    np.testing.assert_allclose(out["q10"], base["q10"] + shift)
    np.testing.assert_allclose(out["q90"], base["q90"] + shift)
    # q50 equal to the mean is reconciled to the same value as the mean.
    np.testing.assert_allclose(out["q50"], out["mean"])


@pytest.mark.parametrize("method", ["bottom_up", "ols", "mint_shrink"])
def test_quantiles_stay_ordered_when_the_median_moves_past_them(hierarchy, method) -> None:
    base, all_ids = noisy_base(hierarchy)
    rng = np.random.default_rng(8)
    # Skewed base medians far from the means and narrow intervals invite crossings.
    base["q50"] = base["mean"] + rng.normal(0, 20, len(base))
    base["q10"] = np.minimum(base["mean"], base["q50"]) - 0.5
    base["q90"] = np.maximum(base["mean"], base["q50"]) + 0.5
    residuals = random_residuals(all_ids) if method == "mint_shrink" else None
    out = reconcile(base, hierarchy, method=method, residuals=residuals)
    assert (out["q10"] <= out["q50"]).all()
    assert (out["q50"] <= out["q90"]).all()


def test_forecasts_without_intervals_keep_empty_quantiles(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    base.loc[base["series_id"] == "a|X", ["q10", "q50", "q90"]] = np.nan
    out = reconcile(base, hierarchy, method="ols")
    assert out.loc[base["series_id"] == "a|X", ["q10", "q50", "q90"]].isna().all().all()
    assert out["mean"].notna().all()
    assert_coherent(out, hierarchy)


def test_mean_only_forecasts_are_reconciled(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    out = reconcile(base[["series_id", "ds", "model", "mean"]], hierarchy, method="ols")
    assert list(out.columns) == ["series_id", "ds", "model", "mean"]
    assert_coherent(out, hierarchy)


# -- frames ---------------------------------------------------------------------------


def test_row_order_and_other_columns_are_kept(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    shuffled = base.sample(frac=1.0, random_state=0).assign(note="x")
    out = reconcile(shuffled, hierarchy, method="ols")
    assert list(out.index) == list(shuffled.index)
    assert (out["note"] == "x").all()
    expected = reconcile(base, hierarchy, method="ols").loc[shuffled.index]
    np.testing.assert_allclose(out["mean"], expected["mean"])


def test_several_models_are_reconciled_one_by_one(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    other = base.assign(model="other", mean=base["mean"] * 2)
    out = reconcile(pd.concat([base, other], ignore_index=True), hierarchy, method="ols")
    for model in ("test", "other"):
        assert_coherent(out[out["model"] == model], hierarchy)
    alone = reconcile(base, hierarchy, method="ols")
    np.testing.assert_allclose(out.loc[out["model"] == "test", "mean"], alone["mean"])


def test_base_forecasts_must_cover_the_hierarchy(hierarchy) -> None:
    base, _ = noisy_base(hierarchy)
    with pytest.raises(ConfigError, match="every hierarchy series"):
        reconcile(base[base["series_id"] != "X"], hierarchy, method="ols")
    stranger = base[base["series_id"] == "X"].assign(series_id="nowhere")
    with pytest.raises(ConfigError, match="not in the hierarchy"):
        reconcile(pd.concat([base, stranger]), hierarchy, method="ols")
    with pytest.raises(ConfigError, match="method"):
        reconcile(base, hierarchy, method="mint")  # type: ignore[arg-type]


# -- large hierarchies ----------------------------------------------------------------


def test_large_hierarchies_use_sparse_matrices_and_diagonal_weights() -> None:
    skus = [f"s{i:04d}" for i in range(1000)]
    sites = [f"w{i}" for i in range(5)]
    hierarchy = build_hierarchy(make_orders(seed=9, skus=skus, sites=sites, days=3))
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    assert sp.issparse(matrix)
    assert matrix.shape == (5000 + 1000 + 5 + 1, 5000)
    assert len(bottom_ids) == 5000

    rng = np.random.default_rng(10)
    dates = forecast_dates(hierarchy, horizon=2)
    truth = matrix @ rng.uniform(0, 10, (5000, 2))
    base = forecast_frame(all_ids, dates, truth + rng.normal(0, 1, truth.shape))
    residuals = random_residuals(all_ids, periods=12)
    out = reconcile(base, hierarchy, method="mint_shrink", residuals=residuals)
    assert out.attrs["reconciliation"]["weights"] == "residual_variance"
    values = grid_of(out, all_ids)
    np.testing.assert_allclose(matrix @ values[-5000:], values, rtol=1e-12, atol=1e-9)

    # The GLS projection's optimality condition, S' W^-1 (y~ - y^) = 0, checked sparsely
    # (a dense S'W^-1 S here would take 200 MB).
    squares = residuals.pivot(index="ds", columns="series_id", values="residual")[all_ids] ** 2
    weights = squares.mean().to_numpy()
    change = (values - grid_of(base, all_ids)) / weights[:, None]
    np.testing.assert_allclose(matrix.T @ change, 0.0, atol=1e-6)


def test_the_sparse_solver_agrees_with_the_dense_one(hierarchy, monkeypatch) -> None:
    base, all_ids = noisy_base(hierarchy)
    dense = reconcile(base, hierarchy, method="ols")
    monkeypatch.setattr(reconcile_module, "DENSE_LIMIT", 3)
    sparse = reconcile(base, hierarchy, method="ols")
    np.testing.assert_allclose(sparse["mean"], dense["mean"], rtol=1e-10)
    with pytest.warns(ReconciliationWarning):
        reconcile(base, hierarchy, residuals=random_residuals(all_ids, periods=3))


# -- property -------------------------------------------------------------------------

FIXED = build_hierarchy(make_orders(seed=11))
FIXED_S, FIXED_IDS, _ = summing_matrix(FIXED)
FIXED_RESIDUALS = random_residuals(FIXED_IDS, periods=25, seed=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    means=arrays(
        np.float64,
        (len(FIXED_IDS), 3),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    ),
    method=st.sampled_from(["bottom_up", "ols", "mint_shrink"]),
)
def test_any_base_forecasts_become_coherent(means: np.ndarray, method: str) -> None:
    base = forecast_frame(FIXED_IDS, forecast_dates(FIXED, horizon=3), means)
    out = reconcile(base, FIXED, method=method, residuals=FIXED_RESIDUALS)
    values = grid_of(out, FIXED_IDS)
    bottom = values[-6:]
    np.testing.assert_allclose(FIXED_S @ bottom, values, rtol=1e-9, atol=1e-9 * 1e6)
    assert (out["q10"] <= out["q50"]).all()
    assert (out["q50"] <= out["q90"]).all()


def test_nonnegative_reconciliation_zeroes_negative_bottoms_and_stays_coherent(hierarchy) -> None:
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    dates = forecast_dates(hierarchy)
    mean = np.full((len(all_ids), len(dates)), 1.0)
    mean[all_ids.index(next(i for i in all_ids if i not in bottom_ids))] = 0.0  # total says 0
    mean[all_ids.index(bottom_ids[0])] = 40.0  # one bottom series says a lot
    base = forecast_frame(all_ids, dates, mean)
    plain = reconcile(base, hierarchy, "ols")
    assert (plain["mean"] < 0).any()  # the projection alone goes negative here
    clipped = reconcile(base, hierarchy, "ols", nonnegative=True)
    assert (clipped["mean"] >= 0).all()
    assert (clipped[["q10", "q50", "q90"]].to_numpy() >= 0).all()
    pivot = clipped.pivot(index="series_id", columns="ds", values="mean").loc[all_ids]
    np.testing.assert_allclose(
        pivot.to_numpy(), np.asarray(matrix) @ pivot.loc[bottom_ids].to_numpy(), atol=1e-9
    )


# -- series that may move less ------------------------------------------------------------


@pytest.mark.parametrize("method", ["ols", "mint_shrink"])
def test_a_series_likely_ended_keeps_its_forecast_and_the_rest_take_the_gap(
    hierarchy, method
) -> None:
    # A bottom series forecast near zero (its model judged it 2% likely still ordered)
    # while its parents' forecasts still carry its past sales: without a factor it takes
    # a share of their excess; with one it stays near zero and its siblings take it.
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    dates = forecast_dates(hierarchy)
    bottom = np.full((len(bottom_ids), len(dates)), 10.0)
    ended = bottom_ids[0]
    bottom[0] = 0.05
    upper = (matrix @ bottom)[: len(all_ids) - len(bottom_ids)] + 6.0  # parents say more
    base = forecast_frame(all_ids, dates, np.vstack([upper, bottom]))
    residuals = random_residuals(all_ids, periods=60)
    plain = reconcile(base, hierarchy, method, residuals=residuals)
    held = reconcile(base, hierarchy, method, residuals=residuals, movable={ended: 0.02})

    def mean_of(frame: pd.DataFrame, sid: str) -> np.ndarray:
        return frame.loc[frame["series_id"] == sid, "mean"].to_numpy()

    assert (mean_of(plain, ended) > 0.05 + 0.5).all()  # lifted by its parents
    assert (np.abs(mean_of(held, ended) - 0.05) < 0.2 * (mean_of(plain, ended) - 0.05)).all()
    assert_coherent(held, hierarchy)
    others = list(bottom_ids[1:])
    lifted = sum(mean_of(held, sid) for sid in others) - sum(mean_of(plain, sid) for sid in others)
    assert (lifted > 0).all()  # the siblings took what it did not
    # A factor of 1, or a series the hierarchy does not hold, changes nothing.
    same = reconcile(
        base, hierarchy, method, residuals=residuals, movable={ended: 1.0, "nowhere": 0.1}
    )
    np.testing.assert_allclose(same["mean"], plain["mean"])


def test_movable_factors_scale_the_weights_as_the_textbook_formula_says(hierarchy) -> None:
    matrix, all_ids, bottom_ids = summing_matrix(hierarchy)
    base, _ = noisy_base(hierarchy, seed=7)
    factors = {bottom_ids[0]: 0.1, all_ids[0]: 0.5}
    held = reconcile(base, hierarchy, "ols", movable=factors)
    weights = np.diag([factors.get(sid, 1.0) for sid in all_ids])
    expected = textbook(matrix, weights, grid_of(base, all_ids))
    np.testing.assert_allclose(grid_of(held, all_ids), expected)


def test_bottom_up_ignores_movable_factors(hierarchy) -> None:
    base, _ = noisy_base(hierarchy, seed=6)
    _, _, bottom_ids = summing_matrix(hierarchy)
    plain = reconcile(base, hierarchy, "bottom_up")
    held = reconcile(base, hierarchy, "bottom_up", movable={bottom_ids[0]: 0.01})
    np.testing.assert_allclose(held["mean"], plain["mean"])
