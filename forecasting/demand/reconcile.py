"""Make forecasts at several aggregation levels add up (hierarchical reconciliation).

Why: a planner who forecasts SKU x site, SKU, site and the total separately gets four
sets of numbers that disagree — the site forecasts do not sum to the total, so a
capacity plan built on one level contradicts a purchase plan built on another. And
each level knows something the others do not: totals are smooth and easy to forecast,
bottom series are noisy but carry the mix. Reconciliation maps the base forecasts of
every series onto the nearest *coherent* set (one where every upper series is exactly
the sum of its bottom series), so both problems go away and, with a good weighting,
accuracy usually improves at every level.

All methods are linear projections ``y~ = S G y^``: ``S`` (``n_all x n_bottom``) sums
bottom series into every series, ``G`` turns all base forecasts into bottom forecasts.

* ``bottom_up``: ``G`` selects the bottom series; upper forecasts are ignored.
* ``ols``: ``G = (S'S)^-1 S'`` — every series equally trusted.
* ``mint_shrink``: ``G = (S'W^-1 S)^-1 S'W^-1`` with ``W`` the covariance of the
  one-step forecast errors, estimated from residuals and shrunk towards its diagonal
  (Wickramasuriya, Athanasopoulos & Hyndman 2019, "Optimal forecast reconciliation for
  hierarchical and grouped time series through trace minimization", JASA; shrinkage
  intensity of Schäfer & Strimmer 2005, as in R's ``hts``/``fable``). Without enough
  residuals it falls back to WLS with structural scaling (each series' variance
  proportional to its number of bottom series) and warns.

The generalised-least-squares projection is computed in its constraint form,
``y~ = y^ - W U (U'WU)^-1 U'y^`` with ``U' = [I, -C]`` the aggregation constraints
(``S = [C; I]``). It is algebraically the same projection as the ``S'W^-1 S`` form, but
its system has one row per *upper* series and is sparse (two upper series interact only
when they share bottom series), whereas ``S'W^-1 S`` is ``n_bottom`` square and dense as
soon as there is a total level: 5,000 bottom series would need a 200 MB matrix and a
dense factorisation. It also needs no inverse of ``W``, so a singular residual
covariance (fewer dates than series) does no harm. The reconciled frame is always
rebuilt as ``S @ bottom``, so coherence is exact whatever the solver's accuracy.

Memory: the full shrunk covariance (``n_all`` squared) is used only up to
``DENSE_LIMIT`` series; above that ``mint_shrink`` uses the residual variances alone
(a diagonal ``W``, i.e. shrinkage intensity 1) and the systems are solved sparsely.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg

from forecasting.errors import ConfigError
from forecasting.quantiles import quantile_columns

Method = Literal["bottom_up", "mint_shrink", "ols"]
METHODS: tuple[Method, ...] = ("bottom_up", "mint_shrink", "ols")

# A dense n x n float matrix at this size is 32 MB; above it everything stays sparse.
DENSE_LIMIT = 2000
# With fewer dates the shrinkage intensity and even the variances are mostly noise, and
# structural weights (which need no data) are the safer choice.
MIN_RESIDUAL_PERIODS = 10

_CORE_COLUMNS = ("series_id", "ds", "y", "level")


class ReconciliationWarning(UserWarning):
    """Reconciliation used a weaker weighting than the one asked for."""


@dataclass(frozen=True)
class _Structure:
    """The hierarchy as aggregation matrix ``C``: ``C[i, j] = 1`` when upper i sums bottom j."""

    upper_ids: list[str]
    bottom_ids: list[str]
    aggregation: sp.csr_matrix

    @property
    def all_ids(self) -> list[str]:
        return [*self.upper_ids, *self.bottom_ids]

    def summing(self) -> sp.csr_matrix:
        n_bottom = len(self.bottom_ids)
        return sp.vstack([self.aggregation, sp.identity(n_bottom, format="csr")], format="csr")


def summing_matrix(
    hierarchy: pd.DataFrame,
) -> tuple[np.ndarray | sp.csr_matrix, list[str], list[str]]:
    """The summing matrix ``S`` of a hierarchy frame, with its row and column series ids.

    ``hierarchy`` is the long frame of :func:`forecasting.series.build_hierarchy`
    (``series_id, ds, y, level`` plus key columns that are empty above their level).
    The bottom level is the one with the most keys; an upper series sums every bottom
    series that has the same values in the upper series' keys (the total, with no
    keys, sums them all). Without a ``level`` column a series' keys are its non-empty
    key columns.

    Returns ``(S, all_ids, bottom_ids)``: ``S[i, j] = 1`` when series ``all_ids[i]``
    includes bottom series ``bottom_ids[j]``. Rows are upper series (fewest keys first)
    then the bottom series in ``bottom_ids`` order, so the last rows are the identity.
    ``S`` is a dense array up to ``DENSE_LIMIT`` series, else a sparse CSR matrix.

    Raises :class:`ConfigError` when the levels are not nested: two levels tie for the
    most keys, a level has a key the bottom level lacks, or an upper series has no
    bottom series under it.
    """
    structure = _structure(hierarchy)
    summing = structure.summing()
    matrix = summing.toarray() if len(structure.all_ids) <= DENSE_LIMIT else summing
    return matrix, structure.all_ids, structure.bottom_ids


def _series_keys(hierarchy: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """One row per series with its level name, and the key columns of each level."""
    if "series_id" not in hierarchy.columns:
        raise ConfigError("the hierarchy frame needs a 'series_id' column")
    first = hierarchy.drop_duplicates("series_id").reset_index(drop=True)
    key_columns = [c for c in hierarchy.columns if c not in _CORE_COLUMNS]
    if "level" in first.columns:
        levels: dict[str, list[str]] = {}
        for name in first["level"].astype(str).unique():
            keys = [] if name == "total" else [k.strip() for k in name.split(",")]
            missing = [k for k in keys if k not in hierarchy.columns]
            if missing:
                raise ConfigError(
                    f"hierarchy level '{name}' names key column(s) {missing} that the frame "
                    f"does not have; columns: {', '.join(map(str, hierarchy.columns))}"
                )
            levels[name] = keys
        first["level"] = first["level"].astype(str)
    else:
        # No level names: a series' keys are the key columns it has values in.
        filled = first[key_columns].notna().to_numpy()
        names = [",".join(np.asarray(key_columns)[row]) or "total" for row in filled]
        first["level"] = names
        levels = {name: ([] if name == "total" else name.split(",")) for name in set(names)}
    if "level" in hierarchy.columns:
        counts = hierarchy.groupby("series_id")["level"].nunique()
        if (counts > 1).any():
            twice = counts.index[counts > 1][:5].tolist()
            raise ConfigError(f"series {twice} appear at more than one hierarchy level")
    return first, levels


def _structure(hierarchy: pd.DataFrame) -> _Structure:
    """Work out which bottom series each upper series sums, checking the levels nest."""
    series, levels = _series_keys(hierarchy)
    if not levels:
        raise ConfigError("the hierarchy frame is empty")
    most = max(len(keys) for keys in levels.values())
    bottoms = [name for name, keys in levels.items() if len(keys) == most]
    if len(bottoms) > 1:
        raise ConfigError(
            f"hierarchy levels {sorted(bottoms)} tie for the most keys, so there is no single "
            "bottom level whose series add up to every other; the levels are not nested. "
            "Add a level with all of their keys "
            f"({sorted({k for b in bottoms for k in levels[b]})})"
        )
    bottom_level = bottoms[0]
    bottom_keys = levels[bottom_level]
    for name, keys in levels.items():
        extra = [k for k in keys if k not in bottom_keys]
        if extra:
            raise ConfigError(
                f"hierarchy level '{name}' has key(s) {extra} that the bottom level "
                f"'{bottom_level}' does not, so its series are not sums of bottom series; "
                "the levels are not nested"
            )

    bottom = series[series["level"] == bottom_level].sort_values("series_id")
    bottom_ids = bottom["series_id"].astype(str).tolist()
    # Compare key values as text: a hand-built frame may hold 7 in one place and "7" in another.
    bottom_keys_frame = pd.DataFrame(
        {k: bottom[k].astype(str).to_numpy() for k in bottom_keys}
    ).assign(_col=np.arange(len(bottom)))
    if bottom_keys and bottom_keys_frame.duplicated(subset=bottom_keys).any():
        raise ConfigError(f"two bottom series share the same keys ({', '.join(bottom_keys)})")

    upper_ids: list[str] = []
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    order = sorted((n for n in levels if n != bottom_level), key=lambda n: (len(levels[n]), n))
    for name in order:
        keys = levels[name]
        upper = series[series["level"] == name].sort_values("series_id")
        frame = pd.DataFrame({k: upper[k].astype(str).to_numpy() for k in keys}).assign(
            _row=np.arange(len(upper)) + len(upper_ids)
        )
        if keys and frame.duplicated(subset=keys).any():
            raise ConfigError(f"two series of level '{name}' share the same keys")
        if keys:
            pairs = frame.merge(bottom_keys_frame, on=keys, how="inner")
        else:
            pairs = frame.merge(bottom_keys_frame, how="cross")
        empty = np.setdiff1d(frame["_row"].to_numpy(), pairs["_row"].to_numpy())
        if len(empty):
            names = [str(upper["series_id"].iloc[i - len(upper_ids)]) for i in empty[:5]]
            raise ConfigError(
                f"series {names} of level '{name}' have no bottom series ('{bottom_level}') "
                "with their keys, so they cannot be sums of bottom series; the levels are "
                "not nested"
            )
        rows.append(pairs["_row"].to_numpy())
        cols.append(pairs["_col"].to_numpy())
        upper_ids.extend(upper["series_id"].astype(str))

    n_upper, n_bottom = len(upper_ids), len(bottom_ids)
    row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    aggregation = sp.csr_matrix(
        (np.ones(len(row)), (row, col)), shape=(n_upper, n_bottom), dtype=float
    )
    return _Structure(upper_ids, bottom_ids, aggregation)


def reconcile(
    base: pd.DataFrame,
    hierarchy: pd.DataFrame,
    method: Method = "mint_shrink",
    residuals: pd.DataFrame | None = None,
    nonnegative: bool = False,
    movable: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Coherent forecasts from base forecasts of every series at every level.

    Parameters
    ----------
    base: long forecast frame ``series_id, ds, model, mean`` and optional quantile
        columns (``q10``, ``q50``, ``q90``...), one row per series and date, covering
        every series of ``hierarchy`` at every forecast date. If a series has several
        rows per date, they must differ in ``model``, and each model is reconciled on
        its own.
    hierarchy: the frame of :func:`forecasting.series.build_hierarchy` (see
        :func:`summing_matrix`).
    method: ``"mint_shrink"`` (default), ``"ols"`` or ``"bottom_up"``.
    residuals: for ``mint_shrink``, a long frame ``series_id, ds, residual`` of
        in-sample one-step (or backtest) errors of every series. With fewer than
        ``MIN_RESIDUAL_PERIODS`` dates on which every series has one (or none given)
        the weights fall back to structural scaling with a
        :class:`ReconciliationWarning`.
    nonnegative: for quantities that cannot be negative (demand): bottom forecasts the
        projection pushes below zero are set to zero before summing up the levels, and
        quantiles are floored at zero.
    movable: for ``mint_shrink`` and ``ols``, how much of the adjustment named series may
        take, in (0, 1] (others 1): each one's row and column of ``W`` are scaled by the
        square root, so its variance by the factor. A series whose model weighed its
        forecast by the chance it is still ordered at all gives that chance: an item
        likely to have stopped selling keeps its forecast near zero instead of taking a
        share of what its parents, whose histories still hold its past sales, forecast
        above the sum of their children (:mod:`forecasting.demand.obsolescence`).

    Returns
    -------
    ``base`` with the same rows, order and other columns, and reconciled ``mean`` and
    quantiles: for every date and model every upper series' ``mean`` equals the sum of
    its bottom series' (to float precision). ``attrs["reconciliation"]`` records the
    weighting used (``weights``: ``bottom_up``, ``identity``, ``shrunk_covariance``,
    ``residual_variance`` or ``structural``), the shrinkage intensity and the number of
    residual dates.

    Quantiles: ``q50`` is reconciled like the mean, so medians are coherent too. The
    other quantiles are moved by the same amount as their series' mean (each series
    keeps its base interval width); where that crosses the reconciled median they are
    pushed out to it, so quantile levels stay in order and ``q50`` stays coherent.
    Quantiles of a sum are not sums of quantiles, so coherent intervals would need a
    joint error distribution (e.g. reconciled sample paths); shifting is the cheap
    choice that keeps each model's calibrated width while centring the interval
    on the coherent forecast. Upper-level intervals are therefore not coherent.
    """
    if method not in METHODS:
        raise ConfigError(f"reconcile method must be one of {', '.join(METHODS)}, not '{method}'")
    missing = [c for c in ("series_id", "ds", "mean") if c not in base.columns]
    if missing:
        raise ConfigError(f"base forecasts have no column(s) {missing}")
    structure = _structure(hierarchy)
    quantile_cols = quantile_columns(base.columns)

    groups = _model_groups(base)
    if method == "bottom_up":
        weights = _Weights(kind="bottom_up")
    elif method == "ols":
        weights = _Weights(kind="identity", diagonal=np.ones(len(structure.all_ids)))
    else:
        weights = _mint_weights(structure, residuals)
    if movable:
        weights = _scaled(weights, structure, movable)

    out = base.copy()
    for index in groups:
        _reconcile_rows(out, index, structure, weights, quantile_cols, nonnegative)
    out.attrs["reconciliation"] = {
        "method": method,
        "weights": weights.kind,
        "shrinkage": weights.shrinkage,
        "residual_periods": weights.periods,
    }
    return out


def reconcile_with_notes(
    base: pd.DataFrame,
    hierarchy: pd.DataFrame,
    method: Method = "mint_shrink",
    residuals: pd.DataFrame | None = None,
    nonnegative: bool = False,
    movable: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`reconcile`, with any fallback to a weaker weighting returned as notes for a
    log instead of raised as warnings (a pipeline reports them and carries on), and the
    ``model`` of every series whose numbers it changed labelled with the method
    (:func:`label_reconciled`): what a pipeline serves or writes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ReconciliationWarning)
        out = reconcile(base, hierarchy, method, residuals, nonnegative, movable)
    notes = [str(w.message) for w in caught if issubclass(w.category, ReconciliationWarning)]
    return label_reconciled(base, out, method), notes


def reconciled_label(model: str, method: str) -> str:
    """'ets (mint_shrink)': the base model whose forecast reconciliation moved. The base
    model comes first because accuracy reports group by the name before any '('."""
    return f"{model} ({method})"


def label_reconciled(base: pd.DataFrame, out: pd.DataFrame, method: str) -> pd.DataFrame:
    """``out`` (the reconciled ``base``, same rows) with ``model`` relabelled as
    :func:`reconciled_label` for every series whose mean or quantiles moved; a series the
    projection left as it was keeps its model's name."""
    if "model" not in out.columns or out.empty:
        return out
    columns = ["mean", *quantile_columns(base.columns)]
    before = base[columns].to_numpy(float)
    after = out[columns].to_numpy(float)
    scale = np.fmax(np.abs(before), 1.0)
    moved = ~np.isclose(after, before, rtol=0.0, atol=1e-9 * scale, equal_nan=True).all(axis=1)
    series = out["series_id"].astype(str)
    changed = series.isin(series[moved].unique()).to_numpy()
    labelled = out.copy()
    labelled.attrs = dict(out.attrs)
    labelled.loc[changed, "model"] = [
        reconciled_label(str(m), method) for m in out.loc[changed, "model"]
    ]
    return labelled


def with_key_columns(forecasts: pd.DataFrame, hierarchy: pd.DataFrame) -> pd.DataFrame:
    """``forecasts`` with each series' ``level`` and key columns (``sku``, ``site``,
    ``channel``... as the hierarchy's levels name them) right after ``series_id``: empty
    where a level aggregates that key (the site level has no sku).

    A reader can then filter by SKU or site without splitting ``series_id``
    (``sku,site:SKU-1|SITE-1``). ``hierarchy`` is the frame of
    :func:`forecasting.series.build_hierarchy`; without a ``level`` column it is not a
    hierarchy and ``forecasts`` come back unchanged.
    """
    if "level" not in hierarchy.columns:
        return forecasts
    series, levels = _series_keys(hierarchy)
    # In the order the levels name them, the most detailed level first (sku, site, channel).
    keys = list(
        dict.fromkeys(k for names in sorted(levels.values(), key=len, reverse=True) for k in names)
    )
    table = series[["series_id", "level", *keys]].copy()
    table["series_id"] = table["series_id"].astype(str)
    for key in keys:
        values = table[key].to_numpy(object)
        table[key] = [None if pd.isna(v) else v for v in values]
    present = [c for c in ("level", *keys) if c in forecasts.columns]
    rest = forecasts.drop(columns=present)
    joined = rest.assign(series_id=rest["series_id"].astype(str)).merge(
        table, on="series_id", how="left", validate="many_to_one"
    )
    order = ["series_id", "level", *keys, *[c for c in rest.columns if c != "series_id"]]
    out = joined[order]
    out.attrs = dict(forecasts.attrs)
    return out


@dataclass(frozen=True)
class _Weights:
    """The error covariance ``W``: nothing (bottom-up), a diagonal, or a full matrix."""

    kind: str
    diagonal: np.ndarray | None = None
    full: np.ndarray | None = None
    shrinkage: float | None = None
    periods: int = 0


# A factor this small already keeps a series where it is; zero would make W singular.
MIN_MOVABLE = 1e-6


def _scaled(weights: _Weights, structure: _Structure, movable: Mapping[str, float]) -> _Weights:
    """``W`` with each named series' row and column scaled by the root of its factor."""
    if weights.kind == "bottom_up":
        return weights
    factor = pd.Series(1.0, index=pd.Index(structure.all_ids))
    named = pd.Series(movable, dtype=float)
    named = named[named.index.isin(factor.index) & np.isfinite(named)]
    factor[named.index] = np.clip(named.to_numpy(), MIN_MOVABLE, 1.0)
    values = factor.to_numpy()
    if weights.full is not None:
        root = np.sqrt(values)
        return replace(weights, full=weights.full * np.outer(root, root))
    assert weights.diagonal is not None
    return replace(weights, diagonal=weights.diagonal * values)


def _model_groups(base: pd.DataFrame) -> list[np.ndarray]:
    """Row positions of each set of forecasts to reconcile together."""
    if not base.duplicated(subset=["series_id", "ds"]).any():
        return [np.arange(len(base))]
    if "model" in base.columns and not base.duplicated(subset=["series_id", "ds", "model"]).any():
        codes = pd.factorize(base["model"])[0]
        return [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    raise ConfigError(
        "base forecasts have several rows for one series and date; give one row per "
        "series_id and ds (or per series_id, ds and model)"
    )


def _reconcile_rows(
    out: pd.DataFrame,
    index: np.ndarray,
    structure: _Structure,
    weights: _Weights,
    quantile_cols: Sequence[str],
    nonnegative: bool = False,
) -> None:
    """Reconcile the rows at positions ``index`` of ``out`` in place."""
    all_ids = pd.Index(structure.all_ids)
    rows = out.iloc[index]
    series_pos = all_ids.get_indexer(pd.Index(rows["series_id"].astype(str)))
    if (series_pos < 0).any():
        unknown = rows["series_id"][series_pos < 0].astype(str).unique()[:5].tolist()
        raise ConfigError(f"base forecasts for series {unknown} that are not in the hierarchy")
    ds_pos, dates = pd.factorize(rows["ds"], sort=True)
    n_all, n_ds = len(all_ids), len(dates)
    present = np.zeros((n_all, n_ds), dtype=bool)
    present[series_pos, ds_pos] = True
    if not present.all():
        lacking = np.flatnonzero(~present.all(axis=1))[:5]
        raise ConfigError(
            "base forecasts must cover every hierarchy series at every date; missing rows "
            f"for {[structure.all_ids[i] for i in lacking]}"
        )
    mean = rows["mean"].to_numpy(dtype=float)
    if np.isnan(mean).any():
        raise ConfigError("base forecasts have missing values in 'mean'")

    def grid(values: np.ndarray) -> np.ndarray:
        matrix = np.empty((n_all, n_ds))
        matrix[series_pos, ds_pos] = values
        return matrix

    has_median = "q50" in quantile_cols
    median = rows["q50"].to_numpy(dtype=float) if has_median else None
    # A model without intervals leaves q50 empty; its mean stands in so the projection runs.
    stacked = [grid(mean)]
    if median is not None:
        stacked.append(grid(np.where(np.isnan(median), mean, median)))
    reconciled = _project(np.hstack(stacked), structure, weights, nonnegative)
    new_mean = reconciled[:, :n_ds][series_pos, ds_pos]
    shift = new_mean - mean

    columns = out.columns
    out.iloc[index, _position(columns, "mean")] = new_mean
    if not quantile_cols:
        return
    quantiles = np.column_stack([rows[c].to_numpy(dtype=float) + shift for c in quantile_cols])
    if median is not None:
        at = list(quantile_cols).index("q50")
        new_median = reconciled[:, n_ds:][series_pos, ds_pos]
        quantiles[:, at] = np.where(np.isnan(median), np.nan, new_median)
        # Reconciling q50 and shifting the rest can cross them. Pushing each quantile out
        # past its inner neighbour (never moving q50) restores the order and keeps the
        # medians coherent; sorting would swap another level's value into q50. The other
        # quantiles all move by the same shift, so they cannot cross each other.
        for j in range(at - 1, -1, -1):
            quantiles[:, j] = _keep_gap(
                np.fmin(quantiles[:, j], quantiles[:, j + 1]), quantiles[:, j]
            )
        for j in range(at + 1, quantiles.shape[1]):
            quantiles[:, j] = _keep_gap(
                np.fmax(quantiles[:, j], quantiles[:, j - 1]), quantiles[:, j]
            )
    if nonnegative:
        quantiles = np.where(np.isnan(quantiles), np.nan, np.maximum(quantiles, 0.0))
    for j, column in enumerate(quantile_cols):
        out.iloc[index, _position(columns, column)] = quantiles[:, j]


def _keep_gap(values: np.ndarray, original: np.ndarray) -> np.ndarray:
    """``values``, but NaN wherever ``original`` was (a model without that quantile)."""
    return np.where(np.isnan(original), np.nan, values)


def _project(
    forecasts: np.ndarray, structure: _Structure, weights: _Weights, nonnegative: bool = False
) -> np.ndarray:
    """Reconcile ``forecasts`` (``n_all x k``, rows in ``all_ids`` order) into ``S @ bottom``."""
    n_upper = len(structure.upper_ids)
    upper, bottom = forecasts[:n_upper], forecasts[n_upper:]
    aggregation = structure.aggregation
    if weights.kind != "bottom_up" and n_upper:
        # How far each upper forecast is from the sum of its bottom forecasts.
        gap = upper - aggregation @ bottom
        if weights.full is None:
            assert weights.diagonal is not None
            w_upper, w_bottom = weights.diagonal[:n_upper], weights.diagonal[n_upper:]
            system = sp.diags(w_upper) + (aggregation @ sp.diags(w_bottom) @ aggregation.T)
            multipliers = _solve(system, gap)
            bottom = bottom + w_bottom[:, None] * (aggregation.T @ multipliers)
        else:
            full = weights.full
            dense = aggregation.toarray()
            # U'WU with U' = [I, -C]: the covariance of the gap between upper and summed bottom.
            w_uu, w_ub = full[:n_upper, :n_upper], full[:n_upper, n_upper:]
            w_bb = full[n_upper:, n_upper:]
            cross = dense @ w_ub.T
            system = w_uu - cross - cross.T + dense @ w_bb @ dense.T
            multipliers = _solve(system, gap)
            # Bottom block of W U lambda is (W_bu - W_bb C') lambda.
            bottom = bottom - (w_ub.T - w_bb @ dense.T) @ multipliers
    if nonnegative:
        # The projection can push small bottom series below zero. Zeroing those and
        # summing again keeps the forecasts coherent and non-negative (the set-negatives-
        # to-zero heuristic; Wickramasuriya, Turlach & Hyndman 2020 find it close to the
        # exact non-negative solution).
        bottom = np.maximum(bottom, 0.0)
    return np.vstack([aggregation @ bottom, bottom])


def _solve(system: np.ndarray | sp.spmatrix, rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric positive (semi-)definite ``system`` for every column of ``rhs``."""
    if sp.issparse(system):
        if system.shape[0] > DENSE_LIMIT:
            return np.asarray(scipy.sparse.linalg.splu(sp.csc_matrix(system)).solve(rhs))
        system = sp.csr_matrix(system).toarray()
    system = 0.5 * (system + system.T)  # rounding can make it slightly asymmetric
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(system), rhs)
    except np.linalg.LinAlgError:
        # A singular covariance (e.g. no shrinkage and fewer dates than series) still
        # defines a projection; the minimum-norm solution finds it.
        return scipy.linalg.lstsq(system, rhs)[0]


def _structural(structure: _Structure, reason: str) -> _Weights:
    warnings.warn(
        f"mint_shrink reconciliation: {reason}; using WLS with structural scaling "
        "(each series' variance proportional to its number of bottom series) instead",
        ReconciliationWarning,
        stacklevel=4,
    )
    counts = np.concatenate(
        [np.asarray(structure.aggregation.sum(axis=1)).ravel(), np.ones(len(structure.bottom_ids))]
    )
    return _Weights(kind="structural", diagonal=counts)


def _mint_weights(structure: _Structure, residuals: pd.DataFrame | None) -> _Weights:
    """Shrunk residual covariance, residual variances for big hierarchies, else structural."""
    if residuals is None or len(residuals) == 0:
        return _structural(structure, "no residuals given")
    missing = [c for c in ("series_id", "ds", "residual") if c not in residuals.columns]
    if missing:
        raise ConfigError(f"residuals have no column(s) {missing}; need series_id, ds, residual")
    all_ids = pd.Index(structure.all_ids)
    series_pos = all_ids.get_indexer(pd.Index(residuals["series_id"].astype(str)))
    known = series_pos >= 0
    ds_pos, dates = pd.factorize(residuals["ds"][known], sort=True)
    values = residuals["residual"].to_numpy(dtype=float)[known]
    matrix = np.full((len(dates), len(all_ids)), np.nan)
    matrix[ds_pos, series_pos[known]] = values
    cells = ds_pos * len(all_ids) + series_pos[known]
    if len(np.unique(cells)) < len(cells):
        raise ConfigError("residuals have several rows for one series_id and ds")
    without = np.flatnonzero(np.isnan(matrix).all(axis=0))
    if len(without):
        sample = [structure.all_ids[i] for i in without[:5]]
        return _structural(structure, f"{len(without)} series have no residuals (e.g. {sample})")

    n_all = len(all_ids)
    if n_all > DENSE_LIMIT:
        counts = np.sum(~np.isnan(matrix), axis=0)
        if counts.min() < MIN_RESIDUAL_PERIODS:
            return _structural(
                structure,
                f"some series have only {counts.min()} residuals "
                f"(at least {MIN_RESIDUAL_PERIODS} needed)",
            )
        # Residuals are errors of unbiased forecasts, so their second moment about zero
        # is the variance (as in hts/fable), and it keeps any bias in the weights.
        variance = np.nanmean(matrix**2, axis=0)
        return _Weights(
            kind="residual_variance",
            diagonal=_floor(variance),
            shrinkage=1.0,
            periods=int(counts.min()),
        )

    complete = matrix[~np.isnan(matrix).any(axis=1)]
    if len(complete) < MIN_RESIDUAL_PERIODS:
        return _structural(
            structure,
            f"only {len(complete)} dates have residuals for every series "
            f"(at least {MIN_RESIDUAL_PERIODS} needed)",
        )
    covariance, shrinkage = shrunk_covariance(complete)
    return _Weights(
        kind="shrunk_covariance", full=covariance, shrinkage=shrinkage, periods=len(complete)
    )


def _floor(variance: np.ndarray) -> np.ndarray:
    """Variances with zeros lifted: a series forecast perfectly in-sample would make W singular."""
    positive = variance[variance > 0]
    floor = 1e-8 * float(positive.mean()) if len(positive) else 1.0
    return np.maximum(variance, floor)


def shrunk_covariance(residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """Schäfer–Strimmer shrinkage of the residual covariance towards its diagonal.

    ``residuals`` is ``dates x series`` without missing values. Returns the shrunk
    covariance and the intensity ``lambda`` in [0, 1], estimated as the summed variance
    of the sample correlations over their summed squares (the formula of R's
    ``hts::shrink.estim`` used by MinT). Moments are taken about zero, as there.
    """
    x = np.asarray(residuals, dtype=float)
    n = x.shape[0]
    if n < 2:
        raise ConfigError("shrinkage needs residuals on at least two dates")
    covariance = x.T @ x / n
    variance = _floor(np.diag(covariance).copy())
    std = np.sqrt(variance)
    scaled = x / std
    correlation = covariance / np.outer(std, std)
    squares = scaled**2
    # Estimated variance of each sample correlation (Schäfer & Strimmer 2005, eq. for r_ij).
    spread = (squares.T @ squares - (scaled.T @ scaled) ** 2 / n) / (n * (n - 1))
    np.fill_diagonal(spread, 0.0)
    off = correlation**2
    np.fill_diagonal(off, 0.0)
    total = float(off.sum())
    shrinkage = 1.0 if total <= 0 else float(np.clip(spread.sum() / total, 0.0, 1.0))
    shrunk = (1.0 - shrinkage) * covariance
    np.fill_diagonal(shrunk, variance)
    return shrunk, shrinkage


def _position(columns: pd.Index, name: str) -> int:
    """The position of a column the frame holds once (``get_loc`` may say slice or mask)."""
    found = columns.get_loc(name)
    if not isinstance(found, int):
        raise ValueError(f"column '{name}' appears more than once")
    return found
