"""Which features a fitted ``HistGradientBoosting`` model splits on, by public means.

scikit-learn 1.9 exposes no list of split features for these boosters (no
``feature_importances_``, no tree export). Its public partial dependence, with the
``"recursion"`` method, walks the fitted trees: at a split on the target feature it
follows the grid value, at any other split it averages both children by their training
counts. A feature no tree splits on therefore has an exactly constant partial
dependence; one that some tree splits on moves it between a value below every threshold
(every such split goes left), one above every finite threshold (right) and a missing
value (a split that only separates missing values has an infinite threshold; NaN is
not ``<=`` it, so it goes right). Only a sum of changes cancelling to the last bit over
whole trees could hide a used feature.

The recursion indexes features as the booster stores them: categorical columns first.
Columns given in that order (:func:`booster_order`) make the two indexings agree.
Categorical features are always counted as used (their splits are category sets the
recursion does not follow): a superset, which cannot change any probability.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.inspection import partial_dependence

# Below and above any threshold, and missing: the three ways a split can send a value.
_PROBES = np.array([-np.inf, np.inf, np.nan])


def is_categorical(values: pd.Series) -> bool:
    """True for a pandas categorical column (what ``categorical_features="from_dtype"``
    treats as a category)."""
    return isinstance(values.dtype, pd.CategoricalDtype)


def booster_order(features: pd.DataFrame) -> list[str]:
    """The columns of ``features`` with the categorical ones first, each part in its order.

    That is the order a ``HistGradientBoosting`` model keeps its features in internally
    (so fitting on it gives the same model bit for bit) and the order partial dependence
    indexes them by.
    """
    categorical = [c for c in features.columns if is_categorical(features[c])]
    return categorical + [c for c in features.columns if c not in categorical]


def split_features(boosters: Sequence[object], features: pd.DataFrame) -> list[str]:
    """The columns of ``features`` that some tree of some fitted booster splits on.

    ``boosters``: fitted ``HistGradientBoostingClassifier`` / ``Regressor`` models, all
    fitted on columns in ``booster_order(features)``, which ``features`` must already be in
    (:class:`ValueError` otherwise). Only its column names and dtypes are read. Returns
    the used columns in ``features``' order.
    """
    columns = list(features.columns)
    if columns != booster_order(features):
        raise ValueError("features must have their categorical columns first (booster_order)")
    # Partial dependence validates a sample; integers must be floats there.
    sample = features.head(1).copy()
    numeric = [c for c in columns if not is_categorical(sample[c])]
    sample[numeric] = sample[numeric].astype(float)
    used = {c for c in columns if c not in numeric}
    for j, column in enumerate(columns):
        if column in used:
            continue
        for booster in boosters:
            curve = partial_dependence(
                booster,
                sample,
                [j],
                method="recursion",
                custom_values={j: _PROBES},
                kind="average",
            )["average"].ravel()
            if not np.array_equal(curve, np.full_like(curve, curve[0])):
                used.add(column)
                break
    return [c for c in columns if c in used]
