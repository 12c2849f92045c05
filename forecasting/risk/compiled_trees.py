"""scikit-learn's HistGradientBoosting predictions from a feature frame encoded once.

Each ``predict`` of a fitted ``HistGradientBoostingClassifier`` / ``Regressor`` first runs
its ``ColumnTransformer`` (an ``OrdinalEncoder`` for the categorical columns,
``check_array`` for the others) on the frame and rebuilds its known-category bitsets; on a
5-line API batch that is most of a booster's time, and the at-risk model runs four of them
a request (three seeds and the delay model). :class:`CompiledBooster` takes what those
steps compute from the fitted estimator once (the encoder's categories, the bitsets, the
trees), encodes a frame with plain numpy, and sums the trees' leaves exactly as
``_raw_predict`` sums them (same trees, same order, same dtype): the predictions are the
estimator's own, bit for bit (tests/risk/test_fast_path.py holds them to it).

It reads private attributes of the estimator (``_preprocessor``, ``_predictors``,
``_bin_mapper``, ``_baseline_prediction``, ``_loss``); :func:`compile_booster` returns None
for any estimator not shaped as expected, and the caller then uses the public ``predict``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OrdinalEncoder

from forecasting.threads import row_blocks


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and np.isnan(value)


class CompiledBooster:
    """A fitted HistGradientBoosting estimator's raw predictions from :meth:`encode`'s
    matrix (see the module docstring)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        columns = [str(c) for c in estimator.feature_names_in_]
        categorical = np.asarray(estimator.is_categorical_, dtype=bool)
        encoder = estimator._preprocessor.named_transformers_["encoder"]
        # The ColumnTransformer's output: the encoded categorical columns first, then the
        # numeric ones, each in the frame's order.
        self.categorical = [c for c, cat in zip(columns, categorical, strict=True) if cat]
        self.numeric = [c for c, cat in zip(columns, categorical, strict=True) if not cat]
        self.columns = self.categorical + self.numeric
        # Per categorical column, the encoder's code of each category it learned (a value it
        # did not learn, or a missing one, encodes as NaN).
        self.codes = [
            {value: float(i) for i, value in enumerate(categories) if not _is_nan(value)}
            for categories in encoder.categories_
        ]
        self.bitsets, self.f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
        self.trees = [iteration[0] for iteration in estimator._predictors]
        self.baseline = estimator._baseline_prediction
        self.loss = estimator._loss

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """What the estimator's preprocessor makes of ``frame`` (its columns, float64)."""
        out = np.empty((len(frame), len(self.columns)))
        for j, (column, codes) in enumerate(zip(self.categorical, self.codes, strict=True)):
            out[:, j] = self.encode_values(frame[column], codes)
        if self.numeric:  # one block: a column at a time costs ~45 look-ups a call
            out[:, len(self.categorical) :] = frame[self.numeric].to_numpy(
                dtype=float, na_value=np.nan
            )
        return out

    @staticmethod
    def encode_values(values: pd.Series, codes: dict[object, float]) -> np.ndarray:
        """The codes of a categorical column's values (NaN: missing or not learned)."""
        if isinstance(values.dtype, pd.CategoricalDtype):
            # One look-up per category, not per line.
            table = np.array(
                [codes.get(c, np.nan) for c in values.cat.categories] + [np.nan], dtype=float
            )
            return table[values.cat.codes.to_numpy()]
        return np.array([codes.get(v, np.nan) for v in values.to_numpy(object)], dtype=float)

    def code(self, column: str, value: object) -> float:
        """The encoder's code of one value of categorical ``column`` (NaN if not learned)."""
        return self.codes[self.categorical.index(column)].get(value, np.nan)

    def raw(self, encoded: np.ndarray, cores: int | None = None) -> np.ndarray:
        """``(n, 1)`` raw predictions: ``_raw_predict``'s sum of the trees' leaves.

        A large batch (a 1,000-line request's occluded copies: ~21,000 rows) is cut into
        one block of rows per core (:func:`~forecasting.threads.row_blocks`; ``cores``
        overrides this process's count), each summed tree by tree on a thread of its own:
        the trees' loop releases the GIL, and each row's sum keeps the trees' order, so the
        result is the same, bit for bit. A small batch is one block, on this thread."""
        rows = encoded.shape[0]
        raw = np.zeros((rows, 1), dtype=self.baseline.dtype, order="F")
        raw += self.baseline
        blocks = row_blocks(rows, cores)
        if blocks == 1:
            self._add_trees(encoded, raw[:, 0])
            return raw
        spans = list(pairwise(np.linspace(0, rows, blocks + 1).astype(int)))
        with ThreadPoolExecutor(blocks, thread_name_prefix="ordercast-trees") as pool:
            # Each thread adds to its own rows of ``raw`` (views of disjoint rows).
            parts = [encoded[a:b] for a, b in spans]
            list(pool.map(self._add_trees, parts, [raw[a:b, 0] for a, b in spans]))
        return raw

    def _add_trees(self, block: np.ndarray, total: np.ndarray) -> None:
        """Add the trees' leaves of ``block``'s rows to ``total`` in the trees' order, on
        this thread alone (OpenMP would start a parallel region per tree, each costing more
        than a tree's work on a batch of this size)."""
        for tree in self.trees:
            total += tree.predict(block, self.bitsets, self.f_idx_map, 1)

    def predict_proba(self, encoded: np.ndarray) -> np.ndarray:
        """A classifier's ``predict_proba`` of the encoded rows."""
        return self.loss.predict_proba(self.raw(encoded))

    def predict(self, encoded: np.ndarray) -> np.ndarray:
        """A regressor's ``predict`` of the encoded rows."""
        return self.loss.link.inverse(self.raw(encoded).ravel())


def compile_booster(estimator: Any) -> CompiledBooster | None:
    """The estimator compiled, or None when it is not a fitted single-output
    HistGradientBoosting model with scikit-learn's categorical preprocessing as known here
    (then its own ``predict`` serves)."""
    pre = getattr(estimator, "_preprocessor", None)
    if (
        getattr(estimator, "n_trees_per_iteration_", None) != 1
        or not isinstance(pre, ColumnTransformer)
        or [name for name, _, _ in pre.transformers_ if name != "remainder"]
        != ["encoder", "numerical"]
        or any(name == "remainder" and step != "drop" for name, step, _ in pre.transformers_)
        or not hasattr(estimator, "_predictors")
        or not hasattr(estimator, "_bin_mapper")
        or not hasattr(estimator, "feature_names_in_")
    ):
        return None
    encoder = pre.named_transformers_["encoder"]
    if not (
        isinstance(encoder, OrdinalEncoder)
        and encoder.handle_unknown == "use_encoded_value"
        and _is_nan(encoder.unknown_value)
        and _is_nan(encoder.encoded_missing_value)
    ):
        return None
    try:
        return CompiledBooster(estimator)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def same_encoding(boosters: list[CompiledBooster]) -> bool:
    """True when every booster encodes a frame alike (one encoding serves them all)."""
    first = boosters[0]
    return all(b.columns == first.columns and b.codes == first.codes for b in boosters[1:])
