"""Baselines the at-risk model is measured against."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from forecasting.risk.features import EXCLUDED, MAX_CATEGORIES
from forecasting.risk.labels import labels_as_of


def lane_baseline(
    orders: pd.DataFrame, as_of: pd.Timestamp, lines: pd.DataFrame, tolerance_days: int = 0
) -> np.ndarray:
    """Per row of ``lines``, the late rate of its lane (site x region) as known at ``as_of``.

    Rates count the lines of ``orders`` labelled by ``as_of`` (late: delivered more than
    ``tolerance_days`` after the promise); a lane without labelled lines gets the overall
    rate. Region is left out when ``orders`` has none.
    """
    labels = labels_as_of(orders, as_of, tolerance_days)
    known = orders[labels.notna()].assign(label=labels[labels.notna()])
    keys = [c for c in ("site", "region") if c in orders.columns]
    rates = known.groupby(keys)["label"].mean()
    overall = float(known["label"].mean()) if len(known) else 0.0
    index = (
        pd.MultiIndex.from_frame(lines[keys].astype(object))
        if len(keys) > 1
        else pd.Index(lines[keys[0]])
    )
    return rates.reindex(index).fillna(overall).to_numpy(float)


def lane_columns(orders: pd.DataFrame) -> list[str]:
    """The columns that define a line's lane: site x shipment mode where the history has a
    shipment mode (SCMS: Fulfill Via x Shipment Mode), else site x region, else the site."""
    for keys in (["site", "shipment_mode"], ["site", "region"]):
        if all(column in orders.columns for column in keys):
            return keys
    return ["site"]


def recent_lane_rate(
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    as_of: pd.Timestamp,
    tolerance_days: int = 0,
    days: int = 365,
    prior_lines: float = 5.0,
) -> np.ndarray:
    """Per row of ``lines``, its lane's late rate over the ``days`` before ``as_of``.

    A line of ``orders`` enters the rate once its outcome is known: a late line from the
    day after its promise (+ ``tolerance_days``) passed undelivered, an on-time one from
    the day after its delivery (as :func:`labels_as_of` knows them at ``as_of``). Each
    lane's rate is shrunk towards the overall rate of the same days by ``prior_lines``
    pseudo-lines (a lane with a handful of recent lines is not 0% or 100% late); with no
    line known in those days, the overall rate of all time, and 0 with none at all.
    """
    as_of = pd.Timestamp(as_of)
    keys = lane_columns(orders)
    due = orders["promised_date"] + pd.Timedelta(days=tolerance_days)
    delivered = orders["delivered_date"]
    # Known from this moment on (strictly after it), as labels_as_of knows them: an on-time
    # line at its delivery, a late one (delivered late or not yet) once its promise passed.
    late = ~(delivered <= due)
    known_from = delivered.where(~late, due)
    settled = (known_from < as_of) & (orders["order_date"] < as_of)
    recent = settled & (known_from >= as_of - pd.Timedelta(days=days))
    if not settled.any():
        return np.zeros(len(lines))
    overall = float(late[recent].mean()) if recent.any() else float(late[settled].mean())
    lane = _lane_key(orders, keys)[recent]
    counts = late[recent].astype(float).groupby(lane).agg(["sum", "count"])
    rates = (counts["sum"] + prior_lines * overall) / (counts["count"] + prior_lines)
    return rates.reindex(_lane_key(lines, keys)).fillna(overall).to_numpy(float)


def _lane_key(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One text key per row (a missing shipment mode is a lane of its own)."""
    return frame[keys].astype(str).agg(" | ".join, axis=1)


def static_attributes(
    training: pd.DataFrame, frame: pd.DataFrame, max_categories: int = MAX_CATEGORIES
) -> pd.DataFrame:
    """The line's own columns of ``frame`` as a booster reads them, typed by ``training``.

    Numbers (and flags) stay numbers; a text or categorical column with 2 to
    ``max_categories`` values in ``training`` becomes a category (values unseen in
    training are missing); plus the quoted lead time in days. Identifiers, outcomes and
    dates recorded after the fact (:data:`forecasting.risk.features.EXCLUDED`) are left
    out, and so is everything a history adds (no track records, no site load).
    """
    out = pd.DataFrame(index=frame.index)
    out["lead_time_days"] = (frame["promised_date"] - frame["order_date"]).dt.days
    for column in training.columns:
        if column in EXCLUDED or column.endswith("_date") or column not in frame.columns:
            continue
        values = training[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
            continue
        categories = values.dropna().astype(str).unique()
        if 1 < len(categories) <= max_categories:
            texts = frame[column].astype(str).where(frame[column].notna())
            out[column] = pd.Categorical(texts, categories=sorted(categories))
    return out


def static_booster(
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    lines: pd.DataFrame,
    tolerance_days: int = 0,
    factory: Callable[[], HistGradientBoostingClassifier] | None = None,
) -> np.ndarray:
    """Per row of ``lines``, p_late from plain gradient boosting on static attributes.

    The booster (``factory()``, default scikit-learn's ``HistGradientBoostingClassifier``
    with its defaults and a fixed seed) learns from the lines of ``orders`` ordered before
    ``as_of`` and labelled as of ``as_of`` (:func:`labels_as_of`), their
    :func:`static_attributes` only. Uncalibrated, as it comes. Where those lines are all
    late or all on time, their share.
    """
    as_of = pd.Timestamp(as_of)
    labels = labels_as_of(orders, as_of, tolerance_days)
    known = labels.notna() & (orders["order_date"] < as_of)
    training = orders[known]
    y = labels[known].to_numpy(int)
    if len(np.unique(y)) < 2:
        return np.full(len(lines), float(y.mean()) if len(y) else 0.0)
    booster = (factory or _plain_booster)()
    booster.fit(static_attributes(training, training), y)
    return booster.predict_proba(static_attributes(training, lines))[:, 1]


def _plain_booster() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
